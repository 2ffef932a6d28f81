package lambdaapp

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/memory"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/suno"
)

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// memoryService is the service on the in-memory adapters, so the handlers
// are tested without AWS; the RIE tests run them on moto.
func memoryService(t *testing.T) (*service.Service, *memory.Store) {
	t.Helper()
	store := memory.NewStore()
	svc := service.New(service.Deps{
		Store: store, Connections: store, Queue: memory.NewQueues(memory.QueueConfig{}),
		Notifier: memory.NewHub(), Limiter: memory.NewLimiter(ratelimit.Policy{Rate: 100}, nil),
		Suno: unavailableSuno{RoleAPI},
	}, service.Config{CallbackSecret: []byte("0123456789abcdef"), Logger: discardLog()})
	return svc, store
}

func wsEvent(route, conn string, authorizer any, body string) events.APIGatewayWebsocketProxyRequest {
	return events.APIGatewayWebsocketProxyRequest{
		Body: body,
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			RouteKey: route, ConnectionID: conn, Stage: "prod", DomainName: "ws.example", Authorizer: authorizer,
		},
	}
}

func TestWebSocketHandler(t *testing.T) {
	svc, store := memoryService(t)
	app := &App{Service: svc, Log: discardLog()}
	handle := app.WebSocketHandler()
	ctx := context.Background()
	who := map[string]any{"principalId": "u-1", "userId": "u-1", "tier": "ENTERPRISE", "integrationLatency": 12.0}

	if res, _ := handle(ctx, wsEvent("$connect", "c-1", who, "")); res.StatusCode != 200 {
		t.Fatalf("connect: %d", res.StatusCode)
	}
	conns, _ := store.UserConnections(ctx, "u-1")
	if len(conns) != 1 || conns[0].ID != "c-1" || conns[0].Tier != generation.Enterprise {
		t.Fatalf("connections = %+v", conns)
	}
	if res, _ := handle(ctx, wsEvent("$connect", "c-2", nil, "")); res.StatusCode != 401 {
		t.Fatalf("connect without authorizer context: %d", res.StatusCode)
	}

	res, _ := handle(ctx, wsEvent("$default", "c-1", who, `{"action":"ping"}`))
	if res.StatusCode != 200 || res.Body != `{"event":"pong"}` {
		t.Fatalf("ping = %d %s", res.StatusCode, res.Body)
	}
	res, _ = handle(ctx, wsEvent("$default", "c-1", who, `{"action":"sync"}`))
	if res.StatusCode != 200 || !strings.HasPrefix(res.Body, `{"event":"sync","data":{"generations":[]}`) {
		t.Fatalf("sync = %d %s", res.StatusCode, res.Body)
	}
	res, _ = handle(ctx, wsEvent("$default", "c-1", who, `{"action":"dance"}`))
	if res.StatusCode != 200 || !strings.Contains(res.Body, "unknown_action") {
		t.Fatalf("unknown action = %d %s", res.StatusCode, res.Body)
	}
	res, _ = handle(ctx, wsEvent("$default", "c-9", nil, `{"action":"ping"}`))
	if res.StatusCode != 401 || !strings.Contains(res.Body, "unauthorized") {
		t.Fatalf("message without caller = %d %s", res.StatusCode, res.Body)
	}

	if res, _ := handle(ctx, wsEvent("$disconnect", "c-1", who, "")); res.StatusCode != 200 {
		t.Fatalf("disconnect: %d", res.StatusCode)
	}
	if conns, _ := store.UserConnections(ctx, "u-1"); len(conns) != 0 {
		t.Fatalf("connection kept after disconnect: %+v", conns)
	}
}

func TestCallerFromAuthorizer(t *testing.T) {
	if c, err := CallerFromAuthorizer(map[string]any{"userId": "u", "tier": "PRO"}); err != nil || c.Tier != generation.Pro {
		t.Errorf("got %+v %v", c, err)
	}
	if c, err := CallerFromAuthorizer(map[string]any{"userId": "u"}); err != nil || c.Tier != generation.Free {
		t.Errorf("no tier: got %+v %v", c, err)
	}
	for _, bad := range []any{nil, "u", map[string]any{"tier": "PRO"}, map[string]any{"userId": "u", "tier": "GOLD"}} {
		if _, err := CallerFromAuthorizer(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestSQSHandlerReportsOnlyFailedRecords(t *testing.T) {
	svc, store := memoryService(t)
	app := &App{Service: svc, Log: discardLog()}
	ctx := context.Background()
	res, err := svc.Create(ctx, service.Caller{UserID: "u-1", Tier: generation.Pro}, generation.Request{Prompt: "a song"}, "")
	if err != nil {
		t.Fatal(err)
	}
	// A job for a generation that does not exist is done (dropped); one
	// that cannot be decoded or names no tier must come back.
	ok, _ := json.Marshal(service.Job{Kind: service.JobGenerate, GenerationID: "missing", Tier: generation.Pro, Attempt: 1})
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m-ok", Body: string(ok), Attributes: map[string]string{"ApproximateReceiveCount": "1"}},
		{MessageId: "m-poison", Body: "{not json", Attributes: map[string]string{"ApproximateReceiveCount": "3"}},
		{MessageId: "m-no-tier", Body: `{"kind":"generate","generationId":"` + res.Generation.ID + `"}`},
	}}
	out, err := app.SQSHandler()(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range out.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	if strings.Join(ids, ",") != "m-poison,m-no-tier" {
		t.Fatalf("failures = %v", ids)
	}
	b, _ := json.Marshal(out)
	if string(b) != `{"batchItemFailures":[{"itemIdentifier":"m-poison"},{"itemIdentifier":"m-no-tier"}]}` {
		t.Fatalf("wire form = %s", b)
	}
	empty, _ := app.SQSHandler()(ctx, events.SQSEvent{})
	if b, _ := json.Marshal(empty); string(b) != `{"batchItemFailures":[]}` {
		t.Fatalf("empty batch = %s", b)
	}
	if g, _ := store.Get(ctx, res.Generation.ID); g.Status != generation.Pending {
		t.Fatalf("status = %s", g.Status)
	}
}

func TestSweepHandlerRequeuesOverdue(t *testing.T) {
	store := memory.NewStore()
	queues := memory.NewQueues(memory.QueueConfig{})
	now := time.Now()
	clock := func() time.Time { return now }
	svc := service.New(service.Deps{
		Store: store, Connections: store, Queue: queues, Notifier: memory.NewHub(),
		Limiter: memory.NewLimiter(ratelimit.Policy{Rate: 100}, clock), Suno: unavailableSuno{RoleSweeper},
	}, service.Config{Now: clock, Logger: discardLog(), Deadline: time.Minute})
	ctx := context.Background()
	if _, err := svc.Create(ctx, service.Caller{UserID: "u", Tier: generation.Free}, generation.Request{Prompt: "x"}, ""); err != nil {
		t.Fatal(err)
	}
	app := &App{Service: svc, Log: discardLog()}
	r, err := app.SweepHandler()(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"})
	if err != nil || r.Overdue != 0 {
		t.Fatalf("fresh: %+v %v", r, err)
	}
	now = now.Add(time.Hour)
	r, err = app.SweepHandler()(ctx, events.EventBridgeEvent{})
	if err != nil || r.Overdue != 1 || r.Requeued != 1 {
		t.Fatalf("overdue: %+v %v", r, err)
	}
}

func TestCallbackHandlerServesOnlyTheCallback(t *testing.T) {
	svc, _ := memoryService(t)
	app := &App{Service: svc, Log: discardLog()}
	handle := app.CallbackHandler()
	ctx := context.Background()
	q := url.Values{"g": {"6a1b4c3e-0000-4000-8000-000000000000"}, "sig": {"forged"}}
	body := `{"code":200,"msg":"All generated successfully.","data":{"callbackType":"complete","task_id":"t-1","data":[]}}`
	res, _ := handle(ctx, httpEvent("POST", CallbackPath, q.Encode(), body))
	if res.StatusCode != 404 || !strings.Contains(res.Body, "unknown_callback") {
		t.Fatalf("forged callback = %d %s", res.StatusCode, res.Body)
	}
	q.Set("sig", svc.CallbackSignature(q.Get("g")))
	res, _ = handle(ctx, httpEvent("POST", CallbackPath, q.Encode(), body))
	if res.StatusCode != 404 || !strings.Contains(res.Body, "no such generation") {
		t.Fatalf("signed callback for an unknown generation = %d %s", res.StatusCode, res.Body)
	}
	// Every other route is absent here, whatever the request carries.
	ev := httpEvent("GET", "/api/queue/stats", "", "")
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": "u-1"}},
	}
	res, _ = handle(ctx, ev)
	if res.StatusCode != 404 || !strings.Contains(res.Body, "route_not_found") {
		t.Fatalf("stats through the callback function = %d %s", res.StatusCode, res.Body)
	}
}

// blockingSuno answers only when the caller gives up.
type blockingSuno struct{}

func (blockingSuno) Submit(ctx context.Context, _ suno.GenerateRequest) (string, error) {
	<-ctx.Done()
	return "", ctx.Err()
}

func (blockingSuno) Record(ctx context.Context, _ string) (suno.Task, error) {
	<-ctx.Done()
	return suno.Task{}, ctx.Err()
}

// TestWorkerStopsBeforeTheTimeout: a job that runs into the end of the
// invocation's time keeps the next one from starting; that one comes back
// as a batch item failure, and the handler returns before the timeout.
func TestWorkerStopsBeforeTheTimeout(t *testing.T) {
	store := memory.NewStore()
	svc := service.New(service.Deps{
		Store: store, Connections: store, Queue: memory.NewQueues(memory.QueueConfig{}),
		Notifier: memory.NewHub(), Limiter: memory.NewLimiter(ratelimit.Policy{Rate: 100}, nil), Suno: blockingSuno{},
	}, service.Config{Logger: discardLog()})
	app := &App{Service: svc, Log: discardLog()}
	var records []events.SQSMessage
	for _, id := range []string{"m-1", "m-2"} {
		res, err := svc.Create(context.Background(), service.Caller{UserID: "u", Tier: generation.Pro}, generation.Request{Prompt: "x"}, "")
		if err != nil {
			t.Fatal(err)
		}
		job, _ := json.Marshal(service.Job{Kind: service.JobGenerate, GenerationID: res.Generation.ID, Tier: generation.Pro, Attempt: 1})
		records = append(records, events.SQSMessage{MessageId: id, Body: string(job)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	out, err := app.SQSHandler()(ctx, events.SQSEvent{Records: records})
	if ctx.Err() != nil {
		t.Fatal("the handler ran into the invocation's timeout")
	}
	if err != nil || len(out.BatchItemFailures) != 1 || out.BatchItemFailures[0].ItemIdentifier != "m-2" {
		t.Fatalf("out = %+v, %v", out, err)
	}
}
