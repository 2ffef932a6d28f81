package lambdaapp

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/batch"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/memory"
	"github.com/songqueue/songqueue/internal/service"
)

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// memoryApp is every role assembled on the in-memory adapters, so the
// handlers are tested without AWS; the RIE tests run them on moto.
type memoryApp struct {
	env   *app.Env
	roles *service.Roles
	Store *memory.Store
}

func (a memoryApp) api() *app.APIRoles {
	return &app.APIRoles{Songs: a.roles.API, Operators: a.roles.Operators}
}

func newMemoryApp(t *testing.T, mutate func(*app.Config), opt app.Options) memoryApp {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.CallbackSecret.Value = "0123456789abcdef"
	cfg.RateLimit.Rate = 100
	if mutate != nil {
		mutate(&cfg)
	}
	opt.Logger = discardLog()
	e, err := app.NewEnv(context.Background(), cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	store := memory.NewStore(memory.WithClock(e.Now))
	queues := memory.NewQueues(memory.QueueConfig{Now: e.Now})
	roles, err := app.Local(e, service.Ports{
		Store: store, Connections: store, Controls: store, Notifier: memory.NewHub(),
		Queue: queues, DeadLetters: queues,
	}, func(string) service.Account { return memory.NewLimiter(cfg.RateLimit, e.Now) })
	if err != nil {
		t.Fatal(err)
	}
	return memoryApp{env: e, roles: roles, Store: store}
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
	a := newMemoryApp(t, nil, app.Options{})
	store := a.Store
	handle := WebSocketHandler(a.env, a.roles.Realtime)
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

// TestWebSocketMessageAfterTokenExpiry: the authorizer's context carries
// the token's expiry to every message of the connection; once it has
// passed, a message is answered with a token_expired error and the
// connection is forgotten, however long API Gateway would keep it open.
func TestWebSocketMessageAfterTokenExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a := newMemoryApp(t, nil, app.Options{Now: clock})
	handle := WebSocketHandler(a.env, a.roles.Realtime)
	ctx := context.Background()
	// API Gateway hands the authorizer's context over as JSON: numbers
	// arrive as float64.
	who := map[string]any{"userId": "u-1", "tier": "PRO", "exp": float64(now.Add(time.Minute).Unix())}
	if res, _ := handle(ctx, wsEvent("$connect", "c-1", who, "")); res.StatusCode != 200 {
		t.Fatalf("connect: %d", res.StatusCode)
	}
	if res, _ := handle(ctx, wsEvent("$default", "c-1", who, `{"action":"sync"}`)); res.StatusCode != 200 || !strings.Contains(res.Body, `"event":"sync"`) {
		t.Fatalf("sync before expiry = %d %s", res.StatusCode, res.Body)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	res, _ := handle(ctx, wsEvent("$default", "c-1", who, `{"action":"sync"}`))
	if !strings.Contains(res.Body, `"code":"token_expired"`) || strings.Contains(res.Body, `"event":"sync"`) {
		t.Fatalf("sync after expiry = %d %s; want a token_expired error", res.StatusCode, res.Body)
	}
	if conns, _ := a.Store.UserConnections(ctx, "u-1"); len(conns) != 0 {
		t.Fatalf("the expired connection is still registered: %+v", conns)
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
	a := newMemoryApp(t, nil, app.Options{})
	svc, store := a.roles.API, a.Store
	ctx := context.Background()
	res, err := svc.Create(ctx, identity.Caller{UserID: "u-1", Tier: generation.Pro}, generation.Request{Prompt: "a song"}, "")
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
	out, err := SQSHandler(a.env, a.roles.Worker)(ctx, ev)
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
	empty, _ := SQSHandler(a.env, a.roles.Worker)(ctx, events.SQSEvent{})
	if b, _ := json.Marshal(empty); string(b) != `{"batchItemFailures":[]}` {
		t.Fatalf("empty batch = %s", b)
	}
	if g, _ := store.Get(ctx, res.Generation.ID); g.Status != generation.Pending {
		t.Fatalf("status = %s", g.Status)
	}
	// Nothing of the batch done: a function error, so the error alarm fires.
	if _, err := SQSHandler(a.env, a.roles.Worker)(ctx, events.SQSEvent{Records: ev.Records[1:]}); !errors.Is(err, batch.ErrAllFailed) {
		t.Fatalf("all records failed: err = %v, want a function error", err)
	}
}

func TestSweepHandlerRequeuesOverdue(t *testing.T) {
	now := time.Now()
	a := newMemoryApp(t, func(c *app.Config) { c.Pipeline.Deadline = time.Minute },
		app.Options{Now: func() time.Time { return now }})
	svc := a.roles.API
	ctx := context.Background()
	if _, err := svc.Create(ctx, identity.Caller{UserID: "u", Tier: generation.Free}, generation.Request{Prompt: "x"}, ""); err != nil {
		t.Fatal(err)
	}
	r, err := SweepHandler(a.env, a.roles.Sweeper)(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"})
	if err != nil || r.Overdue != 0 {
		t.Fatalf("fresh: %+v %v", r, err)
	}
	now = now.Add(time.Hour)
	r, err = SweepHandler(a.env, a.roles.Sweeper)(ctx, events.EventBridgeEvent{})
	if err != nil || r.Overdue != 1 || r.Requeued != 1 {
		t.Fatalf("overdue: %+v %v", r, err)
	}
}

func TestCallbackHandlerServesOnlyTheCallback(t *testing.T) {
	a := newMemoryApp(t, nil, app.Options{})
	handle := CallbackHandler(a.env, a.roles.Callbacks, nil)
	ctx := context.Background()
	q := url.Values{"g": {"6a1b4c3e-0000-4000-8000-000000000000"}, "sig": {"forged"}}
	body := `{"code":200,"msg":"All generated successfully.","data":{"callbackType":"complete","task_id":"t-1","data":[]}}`
	res, _ := handle(ctx, httpEvent("POST", CallbackPath, q.Encode(), body))
	if res.StatusCode != 403 || !strings.Contains(res.Body, "invalid_callback_signature") {
		t.Fatalf("forged callback = %d %s", res.StatusCode, res.Body)
	}
	sig, err := a.roles.Callbacks.Signature(ctx, q.Get("g"), 1)
	if err != nil {
		t.Fatal(err)
	}
	q.Set("sig", sig)
	res, _ = handle(ctx, httpEvent("POST", CallbackPath, q.Encode(), body))
	// A generation deleted while Suno made it: nothing to do, nothing for
	// Suno to send again.
	if res.StatusCode != 200 {
		t.Fatalf("signed callback for a deleted generation = %d %s; want 200", res.StatusCode, res.Body)
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

func (blockingSuno) Submit(ctx context.Context, _ generation.Request, _ string) (string, error) {
	<-ctx.Done()
	return "", ctx.Err()
}

func (blockingSuno) Credits(context.Context) (int, error) { return 1000, nil }

func (blockingSuno) Task(ctx context.Context, _ string) (generation.TaskReport, error) {
	<-ctx.Done()
	return generation.TaskReport{}, ctx.Err()
}

// TestWorkerStopsBeforeTheTimeout: a job that runs into the end of the
// invocation's time keeps the next one from starting; that one comes back
// as a batch item failure, and the handler returns before the timeout.
func TestWorkerStopsBeforeTheTimeout(t *testing.T) {
	a := newMemoryApp(t, nil, app.Options{WrapSuno: func(service.Suno) service.Suno { return blockingSuno{} }})
	svc := a.roles.API
	var records []events.SQSMessage
	for _, id := range []string{"m-1", "m-2"} {
		res, err := svc.Create(context.Background(), identity.Caller{UserID: "u", Tier: generation.Pro}, generation.Request{Prompt: "x"}, "")
		if err != nil {
			t.Fatal(err)
		}
		job, _ := json.Marshal(service.Job{Kind: service.JobGenerate, GenerationID: res.Generation.ID, Tier: generation.Pro, Attempt: 1})
		records = append(records, events.SQSMessage{MessageId: id, Body: string(job)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	out, err := SQSHandler(a.env, a.roles.Worker)(ctx, events.SQSEvent{Records: records})
	if ctx.Err() != nil {
		t.Fatal("the handler ran into the invocation's timeout")
	}
	if err != nil || len(out.BatchItemFailures) != 1 || out.BatchItemFailures[0].ItemIdentifier != "m-2" {
		t.Fatalf("out = %+v, %v", out, err)
	}
}
