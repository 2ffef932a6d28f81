package lambdaapp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/awstest"
	"github.com/songqueue/songqueue/internal/domainevents"
	"github.com/songqueue/songqueue/internal/dynamo"
	"github.com/songqueue/songqueue/internal/eventsource"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/httpapi"
	"github.com/songqueue/songqueue/internal/lambdaapp"
	"github.com/songqueue/songqueue/internal/logging"
	"github.com/songqueue/songqueue/internal/service"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func suffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// flakyBridge stands between the publisher and moto's EventBridge: every
// sixth PutEvents fails as a whole, every fifth fails its odd entries,
// and the events of the generations in stuck fail as many times as their
// count says, which is more than the sink retries, so the stream must
// give them again. What it fails never reaches EventBridge.
type flakyBridge struct {
	next domainevents.PutEventsAPI

	mu                      sync.Mutex
	calls                   int
	callErrors, failedEntry int
	stuck                   map[string]int
}

func (f *flakyBridge) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	if n%6 == 0 {
		f.callErrors++
		f.mu.Unlock()
		return nil, errors.New("injected: connection reset")
	}
	fail := make([]bool, len(in.Entries))
	for i, e := range in.Entries {
		var d struct {
			GenerationID string `json:"generationId"`
		}
		_ = json.Unmarshal([]byte(aws.ToString(e.Detail)), &d)
		if f.stuck[d.GenerationID] > 0 {
			f.stuck[d.GenerationID]--
			fail[i] = true
		}
		if n%5 == 0 && i%2 == 1 {
			fail[i] = true
		}
		if fail[i] {
			f.failedEntry++
		}
	}
	f.mu.Unlock()
	var pass []ebtypes.PutEventsRequestEntry
	for i, e := range in.Entries {
		if !fail[i] {
			pass = append(pass, e)
		}
	}
	real := &eventbridge.PutEventsOutput{}
	if len(pass) > 0 {
		var err error
		if real, err = f.next.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: pass}, opts...); err != nil {
			return nil, err
		}
	}
	out := &eventbridge.PutEventsOutput{FailedEntryCount: real.FailedEntryCount}
	j := 0
	for i := range in.Entries {
		if fail[i] {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{ErrorCode: aws.String("InternalFailure"), ErrorMessage: aws.String("injected")})
			continue
		}
		out.Entries = append(out.Entries, real.Entries[j])
		j++
	}
	return out, nil
}

// expected is an event the test knows a write must give: its detail-type
// and the generation as that write stored it.
type expected struct {
	dt     domainevents.DetailType
	detail string // canonical JSON: GET status's view of the stored generation, and userId
}

func canonical(v any) string {
	b, _ := json.Marshal(v)
	var x any
	_ = json.Unmarshal(b, &x)
	b, _ = json.Marshal(x)
	return string(b)
}

// TestPublisherPutsEveryEventOfTheStream: a few hundred generations live
// their lives on the DynamoDB store (moto); the publisher function's
// handler reads the generations table's stream from moto's DynamoDB
// Streams (through the local event source mapping) and puts the events on
// moto's EventBridge, whose rules deliver them to SQS. The function dies
// before publishing and after publishing, PutEvents fails whole calls and
// single entries, and some events fail past the sink's own retries; still
// every event of every create and end arrives, exactly as stored, each id
// at least once and nothing else, and a rule on `Generation Completed`
// alone (README's) gets exactly the completions.
func TestPublisherPutsEveryEventOfTheStream(t *testing.T) {
	const n = 200
	ctx := context.Background()
	cfg := awstest.Config(t)
	clients, names := awstest.SetupTables(t, cfg)
	store := dynamo.NewStore(clients.DynamoDB, names.Generations, names.Connections, dynamo.Options{})

	// The bus, and two rules: everything of songqueue to one queue, the
	// completions alone to another.
	eb, sq := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	bus := "songqueue-test-" + suffix()
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		t.Fatalf("create bus: %v", err)
	}
	t.Cleanup(func() {
		_, _ = eb.DeleteEventBus(context.Background(), &eventbridge.DeleteEventBusInput{Name: aws.String(bus)})
	})
	queue := func(name, pattern string) string {
		q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-" + suffix())})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = sq.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl}) })
		attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatal(err)
		}
		rule := name + "-" + suffix()
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(rule), EventBusName: aws.String(bus), EventPattern: aws.String(pattern)}); err != nil {
			t.Fatalf("put rule: %v", err)
		}
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule), EventBusName: aws.String(bus),
			Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
			t.Fatalf("put targets: %v", err)
		}
		return aws.ToString(q.QueueUrl)
	}
	all := queue("all", `{"source": ["songqueue"]}`)
	ready := queue("ready", `{"source": ["songqueue"], "detail-type": ["Generation Completed"]}`)

	// The publisher function as its main assembles it, on a flaky
	// EventBridge client.
	flaky := &flakyBridge{stuck: map[string]int{}}
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := logging.New(lockedWriter{&logs, &logMu}, logging.JSON, slog.LevelWarn)
	conf := app.DefaultConfig()
	conf.Backend, conf.Names, conf.Events.Bus = app.AWS, names, bus
	env, err := app.NewEnv(ctx, conf, app.Options{AWSConfig: &cfg, Logger: log,
		WrapEvents: func(c domainevents.PutEventsAPI) domainevents.PutEventsAPI { flaky.next = c; return flaky }})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := app.Publisher(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	handler := lambdaapp.StreamHandler(env, pub)
	var invocations, diedBefore, diedAfter, itemFailures, inHandler atomic.Int64
	crashing := func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		i := invocations.Add(1)
		if i%11 == 3 {
			diedBefore.Add(1)
			return events.DynamoDBEventResponse{}, errors.New("injected: the function died before publishing")
		}
		t0 := time.Now()
		res, err := handler(ctx, ev)
		inHandler.Add(int64(time.Since(t0)))
		if i%9 == 2 {
			diedAfter.Add(1)
			return events.DynamoDBEventResponse{}, errors.New("injected: the function died after publishing, before answering")
		}
		itemFailures.Add(int64(len(res.BatchItemFailures)))
		return res, err
	}
	arn, err := awsinfra.StreamARN(ctx, clients.DynamoDB, names.Generations)
	if err != nil || arn == "" {
		t.Fatalf("the generations table's stream: %q, %v", arn, err)
	}
	streamCtx, stopStream := context.WithCancel(ctx)
	var streaming sync.WaitGroup
	streaming.Go(func() {
		eventsource.RunStream(streamCtx, dynamodbstreams.NewFromConfig(cfg), arn, eventsource.StreamOptions{
			BatchSize: 100, Wait: 100 * time.Millisecond, Retries: -1, Timeout: 30 * time.Second, Logger: log,
		}, crashing)
	})
	defer func() { stopStream(); streaming.Wait() }()

	// The lives, by i % 6, written by eight writers at once; every 25th
	// song's events fail past the sink's retries.
	var mu sync.Mutex
	want := map[string]expected{} // by generationId:version
	expect := func(dt domainevents.DetailType, g generation.Generation) {
		mu.Lock()
		defer mu.Unlock()
		want[domainevents.ID(g.ID, g.Version)] = expected{dt, canonical(struct {
			httpapi.StatusResponse
			UserID string `json:"userId"`
		}{httpapi.View(g), g.UserID})}
	}
	tracks := []generation.Track{{ID: "t1", AudioURL: "https://cdn1.suno.ai/1.mp3", StreamAudioURL: "https://cdn1.suno.ai/s1", ImageURL: "https://cdn1.suno.ai/1.jpg", Title: "One", Duration: 92.5}}
	live := func(i int) error {
		now := func() time.Time { return time.Now().UTC() }
		tier := generation.Tiers[i%len(generation.Tiers)]
		g := generation.New(fmt.Sprintf("g%04d-%s", i, suffix()), fmt.Sprintf("user-%d", i%17), tier,
			generation.Request{Prompt: fmt.Sprintf("song %d", i), Title: "T", Model: "V4"}, now(), time.Hour)
		key := ""
		if i%10 == 0 {
			key = "key-" + g.ID
		}
		stored, created, err := store.Create(ctx, g, key, service.Quota{})
		if err != nil || !created {
			return fmt.Errorf("create %d: %v", i, err)
		}
		expect(domainevents.Created, stored)
		if key != "" { // a replay: a failed transaction, no change, no event
			again := generation.New(fmt.Sprintf("g%04d-replay", i), g.UserID, tier, g.Request, now(), time.Hour)
			if first, created, err := store.Create(ctx, again, key, service.Quota{}); err != nil || created || first.ID != g.ID {
				return fmt.Errorf("replay %d: %v %v", i, created, err)
			}
		}
		if i%25 == 5 {
			flaky.mu.Lock()
			flaky.stuck[g.ID] = 5
			flaky.mu.Unlock()
		}
		g = stored
		step := func(dt domainevents.DetailType, f func(*generation.Generation) error) error {
			next := g
			if err := f(&next); err != nil {
				return fmt.Errorf("generation %d: %w", i, err)
			}
			saved, err := store.Save(ctx, next, g.Status)
			if err != nil {
				return fmt.Errorf("save %d: %w", i, err)
			}
			g = saved
			if dt != "" {
				expect(dt, saved)
			}
			return nil
		}
		claim := func(a int) func(*generation.Generation) error {
			return func(g *generation.Generation) error { return g.Claim(a, now(), time.Minute) }
		}
		submit := func(g *generation.Generation) error { return g.Submitted("task-"+g.ID, now(), time.Hour) }
		complete := func(g *generation.Generation) error { return g.Complete(tracks, now()) }
		var steps []error
		switch i % 6 {
		case 0: // made, then its copies (no second event)
			steps = append(steps, step("", claim(1)), step("", submit), step("", func(g *generation.Generation) error { return g.FirstReady(tracks, now()) }),
				step(domainevents.Completed, complete), step("", func(g *generation.Generation) error { return g.Saved(tracks, now()) }))
		case 1: // failed, retried by an operator, made
			steps = append(steps, step("", claim(1)), step(domainevents.Failed, func(g *generation.Generation) error {
				return g.FailWith(generation.CodeAttemptsExhausted, "no luck", now())
			}), step(domainevents.Retried, func(g *generation.Generation) error { return g.Revive(now()) }),
				step("", claim(1)), step("", submit), step(domainevents.Completed, complete))
		case 2: // cancelled while queued
			steps = append(steps, step(domainevents.Cancelled, func(g *generation.Generation) error { return g.Cancel(now()) }))
		case 3: // the pipeline retries an attempt (no event), then it fails
			steps = append(steps, step("", claim(1)), step("", func(g *generation.Generation) error { return g.Retry("timeout", now(), now()) }),
				step("", claim(2)), step(domainevents.Failed, func(g *generation.Generation) error { return g.FailWith("", "gave up", now()) }))
		case 4: // cancelled while Suno works on it
			steps = append(steps, step("", claim(1)), step("", submit), step(domainevents.Cancelled, func(g *generation.Generation) error { return g.Cancel(now()) }))
		case 5: // made
			steps = append(steps, step("", claim(1)), step("", submit), step(domainevents.Completed, complete))
		}
		return errors.Join(steps...)
	}
	began := time.Now()
	var writers sync.WaitGroup
	next := atomic.Int64{}
	errs := make(chan error, n)
	for range 8 {
		writers.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if err := live(i); err != nil {
					errs <- err
				}
			}
		})
	}
	writers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d generations lived in %s", n, time.Since(began).Round(time.Millisecond))

	// Every event arrives; wait a little longer for anything that should not.
	type got struct {
		dt      domainevents.DetailType
		detail  string
		deliver int
	}
	receive := func(url string, into map[string]*got, stop func() bool, quiet time.Duration) {
		deadline := time.Now().Add(3 * time.Minute)
		var lastNew time.Time
		for time.Now().Before(deadline) {
			out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range out.Messages {
				var env struct {
					ID         string          `json:"id"`
					Source     string          `json:"source"`
					DetailType string          `json:"detail-type"`
					Detail     json.RawMessage `json:"detail"`
				}
				if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil || env.Source != "songqueue" {
					t.Fatalf("message %s: %v", aws.ToString(m.Body), err)
				}
				var d struct {
					GenerationID string `json:"generationId"`
					Version      int64  `json:"version"`
				}
				_ = json.Unmarshal(env.Detail, &d)
				id := domainevents.ID(d.GenerationID, d.Version)
				g := into[id]
				if g == nil {
					g = &got{dt: domainevents.DetailType(env.DetailType), detail: canonical(env.Detail)}
					into[id] = g
					lastNew = time.Now()
				} else if g.detail != canonical(env.Detail) || g.dt != domainevents.DetailType(env.DetailType) {
					t.Errorf("event %s delivered twice, differently:\n %s %s\n %s %s", id, g.dt, g.detail, env.DetailType, canonical(env.Detail))
				}
				g.deliver++
				_, _ = sq.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
			}
			if stop() && time.Since(lastNew) > quiet {
				return
			}
		}
	}
	received := map[string]*got{}
	receive(all, received, func() bool { return len(received) >= len(want) }, 2*time.Second)
	t.Logf("every event received %s after the first write; %s in the handler", time.Since(began).Round(time.Millisecond), time.Duration(inHandler.Load()).Round(time.Millisecond))

	logMu.Lock()
	logTail := logs.String()
	logMu.Unlock()
	if len(logTail) > 4000 {
		logTail = logTail[len(logTail)-4000:]
	}
	var missing, extra, wrong []string
	dups := 0
	for id, w := range want {
		g := received[id]
		switch {
		case g == nil:
			missing = append(missing, id+" "+string(w.dt))
		case g.dt != w.dt || g.detail != w.detail:
			wrong = append(wrong, fmt.Sprintf("%s: got %s %s\n want %s %s", id, g.dt, g.detail, w.dt, w.detail))
		default:
			dups += g.deliver - 1
		}
	}
	for id := range received {
		if _, ok := want[id]; !ok {
			extra = append(extra, id+" "+string(received[id].dt))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 || len(extra) > 0 || len(wrong) > 0 {
		t.Fatalf("%d events expected, %d received: missing %d %v, not expected %v, not as stored %v\nlogs:\n%s",
			len(want), len(received), len(missing), missing[:min(len(missing), 10)], extra, wrong[:min(len(wrong), 3)], logTail)
	}
	byType := map[domainevents.DetailType]int{}
	for _, w := range want {
		byType[w.dt]++
	}
	t.Logf("%d generations: %d events %v, delivered with %d duplicates; %d invocations, %d died before publishing, %d after; PutEvents: %d calls, %d failed whole, %d entries failed; %d batch item failures",
		n, len(want), byType, dups, invocations.Load(), diedBefore.Load(), diedAfter.Load(), flaky.calls, flaky.callErrors, flaky.failedEntry, itemFailures.Load())
	if diedBefore.Load() == 0 || diedAfter.Load() == 0 || flaky.callErrors == 0 || flaky.failedEntry == 0 || itemFailures.Load() == 0 {
		t.Errorf("not every failure was exercised")
	}
	if dups == 0 {
		t.Errorf("no event was delivered twice, though the function died after publishing")
	}

	// README's rule: the completions, and only them.
	completions := map[string]*got{}
	wantReady := byType[domainevents.Completed]
	receive(ready, completions, func() bool { return len(completions) >= wantReady }, time.Second)
	for id, g := range completions {
		if w, ok := want[id]; !ok || w.dt != domainevents.Completed || g.dt != domainevents.Completed {
			t.Errorf("the Completed rule got %s %s", id, g.dt)
		}
	}
	if len(completions) != wantReady {
		t.Errorf("the Completed rule got %d events, want %d", len(completions), wantReady)
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
