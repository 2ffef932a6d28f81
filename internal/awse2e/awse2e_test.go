// Package awse2e drives whole generations through the service on the AWS
// adapters (DynamoDB, SQS and the API Gateway management API on emulators)
// and counts the AWS requests each one costs; its tests and benchmark are
// the source of docs/aws-requests.md. It is a package of tests only: it
// tests no one package but how the adapters add up.
package awse2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/apigw"
	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/awstest"
	"github.com/songqueue/songqueue/internal/batch"
	"github.com/songqueue/songqueue/internal/dynamo"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/sqsqueue"
	"github.com/songqueue/songqueue/internal/suno"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// env is the pipeline as deployed: the API and worker functions on the
// AWS adapters, a WebSocket client connected, Suno scripted.
type env struct {
	counter *awsinfra.RequestCounter
	svc     *service.Roles
	queues  *sqsqueue.Queues
	store   *dynamo.Store
	db      *dynamodb.Client
	names   awsinfra.Names
	api     *awstest.ManagementAPI
	suno    *stubSuno
	caller  identity.Caller
	conn    string
}

func newEnv(t testing.TB, callbacks bool, pollScript ...generation.TaskStage) *env {
	cfg := awstest.Config(t)
	counter := awsinfra.NewRequestCounter()
	counter.Attach(&cfg)
	c, res := awstest.Setup(t, cfg, sqsqueue.Settings{VisibilityTimeout: 30 * time.Second})
	api := awstest.NewManagementAPI(t)
	store := dynamo.NewStore(c.DynamoDB, res.Names.Generations, res.Names.Connections, dynamo.Options{})
	queues := sqsqueue.New(c.SQS, res.Queues)
	e := &env{
		counter: counter, queues: queues, store: store, db: c.DynamoDB, names: res.Names, api: api,
		suno:   newStubSuno(pollScript...),
		caller: identity.Caller{UserID: "user-" + res.Names.Prefix, Tier: generation.Pro},
		conn:   "L0SM9cOFvHcCIhw=",
	}
	sc := service.Config{
		MediaHosts:   []string{"musicfile.api.box"},
		PollInterval: time.Millisecond, // sent as SQS's minimum delay, 1 s
	}
	signer := service.CallbackSigner{Key: service.StaticKey([]byte("secret"))}
	if callbacks {
		signer.BaseURL = "https://api.example.com"
	}
	e.svc = service.MustAssemble(service.Ports{
		Store: store, Connections: store, Controls: store, Queue: queues, DeadLetters: queues,
		Notifier: apigw.New(cfg, api.Endpoint()),
		Account:  dynamo.NewLimiter(c.DynamoDB, res.Names.Generations, "suno", ratelimit.Policy{Rate: 10}, nil),
		Suno:     e.suno, Callbacks: signer,
	}, sc)
	ctx := context.Background()
	if err := e.svc.Realtime.Connect(ctx, e.caller, e.conn); err != nil {
		t.Fatal(err)
	}
	api.Open(e.conn)
	return e
}

// worker is one invocation of the worker function by the SQS event source
// mapping: a receive (done by the Lambda service, billed to the account),
// the handler, and the batched delete of what succeeded.
func (e *env) worker(t testing.TB, tier generation.Tier) int {
	t.Helper()
	ctx := context.Background()
	msgs, err := e.queues.Receive(ctx, tier, 10, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := batch.Process(ctx, msgs, e.svc.Worker.Handle, nil)
	failed := map[string]bool{}
	for _, id := range ids {
		failed[id] = true
	}
	var done []string
	for _, m := range msgs {
		if !failed[m.ID] {
			done = append(done, m.ReceiptHandle)
		}
	}
	if len(done) > 0 {
		if err := e.queues.Delete(ctx, tier, done); err != nil {
			t.Fatal(err)
		}
	}
	return len(msgs)
}

// callback is one invocation of the API function for a Suno callback to
// attempt's URL.
func (e *env) callback(t testing.TB, id string, attempt int, kind, taskID string) {
	t.Helper()
	cb := suno.Callback{Type: kind, TaskID: taskID, Code: 200}
	if kind != suno.CallbackText {
		cb.Tracks = tracks(taskID, kind == suno.CallbackComplete)
	}
	sig, err := e.svc.Callbacks.Signature(context.Background(), id, attempt)
	if err != nil {
		t.Fatal(err)
	}
	auth := service.CallbackAuth{GenerationID: id, Signature: sig}
	if err := e.svc.Callbacks.Handle(context.Background(), auth, cb.Report()); err != nil {
		t.Fatalf("callback %s: %v", kind, err)
	}
}

// Step is one invocation and the requests it made.
type Step struct {
	Name     string
	Requests map[string]int
}

// generationViaCallbacks is the usual life: create, the worker submits,
// Suno calls back text, first and complete, and the safety poll the worker
// scheduled finds the generation done.
func generationViaCallbacks(t testing.TB, e *env) ([]Step, generation.Generation) {
	t.Helper()
	ctx := context.Background()
	var steps []Step
	step := func(name string) { steps = append(steps, Step{name, e.counter.Reset()}) }
	e.counter.Reset()
	res, err := e.svc.API.Create(ctx, e.caller, request, "key-"+fmt.Sprint(time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Generation.ID
	step("API: create")
	if n := e.worker(t, e.caller.Tier); n != 1 {
		t.Fatalf("worker received %d messages, want the generate job", n)
	}
	step("worker: generate job")
	g, err := e.store.Get(ctx, id)
	if err != nil || g.TaskID == "" {
		t.Fatalf("after the generate job: %+v, %v", g, err)
	}
	e.counter.Reset()
	for _, kind := range []string{suno.CallbackText, suno.CallbackFirst, suno.CallbackComplete} {
		e.callback(t, id, g.Attempts, kind, g.TaskID)
		step("API: callback " + kind)
	}
	if n := e.worker(t, e.caller.Tier); n != 1 {
		t.Fatalf("worker received %d messages, want the poll job", n)
	}
	step("worker: poll job (finds it done)")
	g, err = e.store.Get(ctx, id)
	if err != nil || g.Status != generation.Completed {
		t.Fatalf("generation ended %+v, %v; want completed", g, err)
	}
	e.counter.Reset()
	return steps, g
}

// generationViaPolling is the life without callbacks: the poll job finds
// the task pending, then first ready, then done.
func generationViaPolling(t testing.TB, e *env) []Step {
	t.Helper()
	ctx := context.Background()
	var steps []Step
	step := func(name string) { steps = append(steps, Step{name, e.counter.Reset()}) }
	e.counter.Reset()
	res, err := e.svc.API.Create(ctx, e.caller, request, "")
	if err != nil {
		t.Fatal(err)
	}
	step("API: create")
	e.worker(t, e.caller.Tier)
	step("worker: generate job")
	for _, what := range []string{"PENDING", "FIRST_SUCCESS", "SUCCESS"} {
		if n := e.worker(t, e.caller.Tier); n != 1 {
			t.Fatalf("worker received %d messages, want a poll job", n)
		}
		step("worker: poll job, Suno says " + what)
	}
	g, err := e.store.Get(ctx, res.Generation.ID)
	if err != nil || g.Status != generation.Completed {
		t.Fatalf("generation ended %+v, %v; want completed", g, err)
	}
	e.counter.Reset()
	return steps
}

func total(steps []Step) map[string]int {
	out := map[string]int{}
	for _, s := range steps {
		for op, n := range s.Requests {
			out[op] += n
		}
	}
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func report(t testing.TB, title string, steps []Step) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", title)
	for _, s := range steps {
		fmt.Fprintf(&b, "  %-40s %2d  %v\n", s.Name, sum(s.Requests), s.Requests)
	}
	all := total(steps)
	fmt.Fprintf(&b, "  %-40s %2d\n", "total", sum(all))
	for _, op := range awsinfra.Operations(all) {
		fmt.Fprintf(&b, "    %-45s %2d\n", op, all[op])
	}
	t.Log(b.String())
}

// budget is what a generation costs today. A change that needs more
// requests fails here: justify it in docs/aws-requests.md and raise it.
var budget = map[string]int{
	"DynamoDB.TransactWriteItems": 3,
	"DynamoDB.PutItem":            3,
	// 4 of them check, before a progress push, that the state is still the
	// stored one (events never go backwards; made only when the owner has a
	// connection open); 1 reads whether the tier is paused.
	"DynamoDB.GetItem":    9,
	"DynamoDB.UpdateItem": 1,
	// The create reads the line counts for the song's ticket: its place
	// in line (docs/place-in-line.md).
	"DynamoDB.BatchGetItem":                    1,
	"DynamoDB.Query":                           5,
	"SQS.SendMessage":                          2,
	"SQS.ReceiveMessage":                       2,
	"SQS.DeleteMessageBatch":                   2,
	"ApiGatewayManagementApi.PostToConnection": 5,
}

func TestRequestsPerGeneration(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	steps, g := generationViaCallbacks(t, e)
	report(t, "AWS requests of one generation (callbacks, one WebSocket connection)", steps)
	got := total(steps)
	for op, n := range got {
		if n > budget[op] {
			t.Errorf("%s: %d requests per generation, budget %d", op, n, budget[op])
		}
	}
	if posts := e.api.Received(e.conn); len(posts) != 5 {
		t.Errorf("the connection received %d events, want 5 (10, 30, 70, 90 %%, complete)", len(posts))
	}
	av, err := e.db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(e.names.Generations), Key: map[string]types.AttributeValue{dynamo.AttrGenerationID: &types.AttributeValueMemberS{Value: g.ID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("completed generation item: %d bytes", dynamo.ItemSize(av.Item))
}

func TestRequestsPerGenerationPollingOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, generation.TaskRunning, generation.TaskFirstReady, generation.TaskDone)
	steps := generationViaPolling(t, e)
	report(t, "AWS requests of one generation (no callbacks, three polls)", steps)
}

// TestGoneConnectionIsForgotten: a push to a user with two connections, one
// of them gone, deletes that one from DynamoDB and keeps the other.
func TestGoneConnectionIsForgotten(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	ctx := context.Background()
	const other = "Kq8VnTbJvHcCEgw="
	if err := e.svc.Realtime.Connect(ctx, e.caller, other); err != nil {
		t.Fatal(err)
	}
	e.api.Open(other)
	e.api.Close(e.conn) // the browser went away without a disconnect
	res, err := e.svc.API.Create(ctx, e.caller, request, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.API.Cancel(ctx, e.caller, res.Generation.ID); err != nil {
		t.Fatal(err)
	}
	conns, err := e.store.UserConnections(ctx, e.caller.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != 1 || conns[0].ID != other {
		t.Fatalf("connections after a push to a gone one: %+v, want only %s", conns, other)
	}
	got := e.api.Received(other)
	if len(got) != 1 {
		t.Fatalf("live connection received %d events, want 1", len(got))
	}
	var ev struct{ Event string }
	if err := json.Unmarshal(got[0], &ev); err != nil || ev.Event != service.EventCancelled {
		t.Errorf("live connection got %s (%v), want %s", got[0], err, service.EventCancelled)
	}
}

// BenchmarkRequestsPerGeneration prints the AWS requests of one generation
// (callbacks, one connection) as aws-requests/generation.
func BenchmarkRequestsPerGeneration(b *testing.B) {
	e := newEnv(b, true)
	requests := 0
	for b.Loop() {
		steps, _ := generationViaCallbacks(b, e)
		requests += sum(total(steps))
	}
	b.ReportMetric(float64(requests)/float64(b.N), "aws-requests/generation")
}
