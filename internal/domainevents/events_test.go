package domainevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/httpapi"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func gen(st generation.Status, version int64) *generation.Generation {
	g := generation.New("g1", "u1", generation.Pro, generation.Request{Prompt: "a song"}, t0, time.Hour)
	g.Status, g.Version = st, version
	return &g
}

// TestClassify: which stored change is which event, from the old and new
// images alone.
func TestClassify(t *testing.T) {
	const (
		P = generation.Pending
		R = generation.Processing
		C = generation.Completed
		F = generation.Failed
		X = generation.Cancelled
	)
	for _, c := range []struct {
		name     string
		old, new *generation.Generation
		want     DetailType // "" is no event
	}{
		{"new generation", nil, gen(P, 1), Created},
		{"claimed", gen(P, 1), gen(R, 2), ""},
		{"progress", gen(R, 2), gen(R, 3), ""},
		{"an attempt retried by the pipeline", gen(R, 3), gen(P, 4), ""},
		{"held", gen(P, 1), gen(P, 2), ""},
		{"completed", gen(R, 5), gen(C, 6), Completed},
		{"copies made after completing", gen(C, 6), gen(C, 7), ""},
		{"failed while processing", gen(R, 3), gen(F, 4), Failed},
		{"failed while held", gen(P, 3), gen(F, 4), Failed},
		{"cancelled while queued", gen(P, 1), gen(X, 2), Cancelled},
		{"cancelled while running", gen(R, 3), gen(X, 4), Cancelled},
		{"an operator's retry", gen(F, 4), gen(P, 5), Retried},
		{"failed again after the retry", gen(R, 6), gen(F, 7), Failed},
		{"deleted by its owner", gen(C, 6), nil, ""},
		{"nothing", nil, nil, ""},
	} {
		got, ok := Classify(c.old, c.new)
		if ok != (c.want != "") || got != c.want {
			t.Errorf("%s: Classify = %q, %v; want %q", c.name, got, ok, c.want)
		}
	}
}

// TestClassifyALife: the domain's own transitions, one song's life after
// another, give exactly the events of DESIGN.md section 15.
func TestClassifyALife(t *testing.T) {
	var got []DetailType
	save := func(old generation.Generation, g *generation.Generation) {
		g.Version = old.Version + 1
		if dt, ok := Classify(&old, g); ok {
			got = append(got, dt)
		}
	}
	g := generation.New("g1", "u1", generation.Pro, generation.Request{Prompt: "p"}, t0, time.Hour)
	g.Version = 1
	if dt, ok := Classify(nil, &g); ok {
		got = append(got, dt)
	}
	step := func(f func(*generation.Generation) error) {
		t.Helper()
		old := g
		if err := f(&g); err != nil {
			t.Fatal(err)
		}
		save(old, &g)
	}
	step(func(g *generation.Generation) error { return g.Claim(1, t0, time.Minute) })
	step(func(g *generation.Generation) error { return g.Retry("timeout", t0, t0.Add(time.Second)) })
	step(func(g *generation.Generation) error { return g.Claim(2, t0, time.Minute) })
	step(func(g *generation.Generation) error { return g.FailWith(generation.CodeAttemptsExhausted, "no", t0) })
	step(func(g *generation.Generation) error { return g.Revive(t0) })
	step(func(g *generation.Generation) error { return g.Claim(1, t0, time.Minute) })
	step(func(g *generation.Generation) error { return g.Submitted("task", t0, time.Hour) })
	tracks := []generation.Track{{ID: "t1", AudioURL: "https://cdn.example/1.mp3"}}
	step(func(g *generation.Generation) error { return g.FirstReady(tracks, t0) })
	step(func(g *generation.Generation) error { return g.Complete(tracks, t0) })
	want := []DetailType{Created, Failed, Retried, Completed}
	if !slices.Equal(got, want) {
		t.Fatalf("events of the life = %v, want %v", got, want)
	}
}

// TestDetailIsTheStatusView: the detail is GET status's JSON with the
// owner added, and the id is the generation's id and version.
func TestDetailIsTheStatusView(t *testing.T) {
	g := gen(generation.Completed, 7)
	g.Tracks = []generation.Track{{ID: "t1", AudioURL: "https://cdn.example/1.mp3", Title: "One", Duration: 61.5}}
	g.UpdatedAt = t0.Add(90 * time.Second)
	ev, ok := FromChange(gen(generation.Processing, 6), g)
	if !ok || ev.DetailType != Completed || ev.ID != "g1:7" || !ev.Time.Equal(g.UpdatedAt) {
		t.Fatalf("event = %+v, %v", ev, ok)
	}
	var detail, view map[string]any
	b, _ := json.Marshal(ev.Detail)
	_ = json.Unmarshal(b, &detail)
	b, _ = json.Marshal(httpapi.View(*g))
	_ = json.Unmarshal(b, &view)
	view["userId"] = "u1"
	if !maps.EqualFunc(detail, view, func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) || len(detail) != len(view) {
		t.Fatalf("detail %v\nwant GET status's %v", detail, view)
	}
	if detail["version"] != float64(7) || detail["status"] != "completed" {
		t.Fatalf("detail = %v", detail)
	}

	env, err := ev.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(env)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"} {
		if _, ok := m[k]; !ok {
			t.Errorf("envelope has no %q: %s", k, b)
		}
	}
	if m["id"] != "g1:7" || m["source"] != "songqueue" || m["detail-type"] != "Generation Completed" || m["time"] != "2026-03-01T12:01:30Z" {
		t.Errorf("envelope = %s", b)
	}
}

// recordingSink delivers what it is given, but fails the events whose ids
// are in fail (once each, when once is set).
type recordingSink struct {
	mu   sync.Mutex
	got  []Event
	fail map[string]bool
	once bool
}

func (s *recordingSink) Send(_ context.Context, events []Event) ([]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(events) > MaxBatch {
		return nil, fmt.Errorf("batch of %d", len(events))
	}
	var failed []int
	for i, ev := range events {
		if s.fail[ev.ID] {
			failed = append(failed, i)
			if s.once {
				delete(s.fail, ev.ID)
			}
			continue
		}
		s.got = append(s.got, ev)
	}
	if failed != nil {
		return failed, errors.New("injected")
	}
	return nil, nil
}

// lives are n generations' changes: created, claimed, completed.
func lives(n int) []Change {
	var out []Change
	for i := range n {
		id := fmt.Sprintf("g%02d", i)
		mk := func(st generation.Status, v int64) *generation.Generation {
			g := generation.New(id, "u", generation.Free, generation.Request{Prompt: "p"}, t0, time.Hour)
			g.Status, g.Version = st, v
			return &g
		}
		out = append(out,
			Change{nil, mk(generation.Pending, 1)},
			Change{mk(generation.Pending, 1), mk(generation.Processing, 2)},
			Change{mk(generation.Processing, 2), mk(generation.Completed, 3)})
	}
	return out
}

// TestPublisherRetriesFromTheFirstFailure: the publisher batches at most
// ten, skips what is no event, and reports the first change whose event
// failed; giving the rest again delivers everything at least once.
func TestPublisherRetriesFromTheFirstFailure(t *testing.T) {
	changes := lives(12) // 24 events among 36 changes
	sink := &recordingSink{fail: map[string]bool{"g07:3": true, "g09:1": true}, once: true}
	p := NewPublisher(sink, nil)
	done, err := p.Publish(context.Background(), changes)
	// g07:3 is the 16th event, in the second batch; the change is 7*3+2.
	if err == nil || done != 23 {
		t.Fatalf("Publish = %d, %v; want 23 and an error", done, err)
	}
	rest := changes[done:]
	if n, err := p.Publish(context.Background(), rest); err != nil || n != len(rest) {
		t.Fatalf("second Publish = %d, %v", n, err)
	}
	ids := map[string]int{}
	for _, ev := range sink.got {
		ids[ev.ID]++
	}
	if len(ids) != 24 {
		t.Fatalf("%d distinct events delivered, want 24: %v", len(ids), ids)
	}
	dups := 0
	for _, n := range ids {
		dups += n - 1
	}
	if dups == 0 {
		t.Errorf("no duplicate: the second batch's delivered events should come again")
	}
}

type fakeEventBridge struct {
	mu    sync.Mutex
	calls [][]types.PutEventsRequestEntry
	// answer decides each entry's fate per call: "" delivered, else an
	// error code; err fails the call.
	answer func(call int, e types.PutEventsRequestEntry) string
	err    func(call int) error
	got    []types.PutEventsRequestEntry
}

func (f *fakeEventBridge) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := len(f.calls)
	f.calls = append(f.calls, in.Entries)
	if f.err != nil {
		if err := f.err(call); err != nil {
			return nil, err
		}
	}
	out := &eventbridge.PutEventsOutput{}
	for _, e := range in.Entries {
		code := ""
		if f.answer != nil {
			code = f.answer(call, e)
		}
		if code != "" {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, types.PutEventsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("injected")})
			continue
		}
		f.got = append(f.got, e)
		out.Entries = append(out.Entries, types.PutEventsResultEntry{EventId: aws.String("eb-" + fmt.Sprint(len(f.got)))})
	}
	return out, nil
}

func events(n int) []Event {
	var out []Event
	for _, c := range lives(n) {
		if ev, ok := FromChange(c.Old, c.New); ok {
			out = append(out, ev)
		}
	}
	return out
}

// TestEventBridgeSink: the entries PutEvents gets, and its retries of only
// the failed entries.
func TestEventBridgeSink(t *testing.T) {
	ctx := context.Background()
	evs := events(5) // 10 events

	t.Run("entries", func(t *testing.T) {
		fake := &fakeEventBridge{}
		b := &EventBridge{Client: fake, Bus: "songqueue-events", Backoff: time.Millisecond}
		if failed, err := b.Send(ctx, evs); failed != nil || err != nil {
			t.Fatalf("Send = %v, %v", failed, err)
		}
		if len(fake.calls) != 1 || len(fake.got) != 10 {
			t.Fatalf("%d calls, %d entries", len(fake.calls), len(fake.got))
		}
		e := fake.got[9]
		var d Detail
		if aws.ToString(e.Source) != "songqueue" || aws.ToString(e.DetailType) != "Generation Completed" || aws.ToString(e.EventBusName) != "songqueue-events" ||
			json.Unmarshal([]byte(aws.ToString(e.Detail)), &d) != nil || d.GenerationID != "g04" || d.Version != 3 || d.UserID != "u" || !aws.ToTime(e.Time).Equal(evs[9].Time) {
			t.Fatalf("entry = %+v %s", e, aws.ToString(e.Detail))
		}
		if _, err := b.Send(ctx, events(6)); err == nil {
			t.Fatal("12 events in one PutEvents accepted")
		}
	})

	t.Run("failed entries are sent again, alone", func(t *testing.T) {
		fake := &fakeEventBridge{answer: func(call int, e types.PutEventsRequestEntry) string {
			if call < 3 && aws.ToString(e.DetailType) == string(Completed) {
				return "ThrottlingException"
			}
			return ""
		}, err: func(call int) error {
			if call == 1 {
				return errors.New("connection reset")
			}
			return nil
		}}
		b := &EventBridge{Client: fake, Bus: "bus", Backoff: time.Millisecond}
		if failed, err := b.Send(ctx, evs); failed != nil || err != nil {
			t.Fatalf("Send = %v, %v", failed, err)
		}
		if len(fake.calls) != 4 || len(fake.calls[1]) != 5 || len(fake.calls[3]) != 5 || len(fake.got) != 10 {
			t.Fatalf("calls of %v entries, %d delivered", lens(fake.calls), len(fake.got))
		}
	})

	t.Run("what stays failed is reported", func(t *testing.T) {
		fake := &fakeEventBridge{answer: func(_ int, e types.PutEventsRequestEntry) string {
			if strings.Contains(aws.ToString(e.Detail), `"generationId":"g03"`) {
				return "InternalFailure"
			}
			return ""
		}}
		b := &EventBridge{Client: fake, Bus: "bus", Attempts: 3, Backoff: time.Millisecond}
		failed, err := b.Send(ctx, evs)
		if !slices.Equal(failed, []int{6, 7}) || err == nil || len(fake.calls) != 3 {
			t.Fatalf("Send = %v, %v after %d calls", failed, err, len(fake.calls))
		}
		// A code that no retry cures is not retried.
		fake = &fakeEventBridge{answer: func(int, types.PutEventsRequestEntry) string { return "AccessDeniedException" }}
		b.Client = fake
		if failed, err := b.Send(ctx, evs[:2]); len(failed) != 2 || err == nil || len(fake.calls) != 1 {
			t.Fatalf("Send = %v, %v after %d calls", failed, err, len(fake.calls))
		}
	})
}

func lens(calls [][]types.PutEventsRequestEntry) []int {
	var out []int
	for _, c := range calls {
		out = append(out, len(c))
	}
	return out
}

// TestWebhookSink: each event posted in EventBridge's envelope; a failing
// webhook is tried again, and what it never takes is reported.
func TestWebhookSink(t *testing.T) {
	var mu sync.Mutex
	var got []Envelope
	fails := 1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "json please", http.StatusUnsupportedMediaType)
			return
		}
		if fails > 0 {
			fails--
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var env Envelope
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got = append(got, env)
	}))
	defer srv.Close()
	w := Webhook{URL: srv.URL, Backoff: time.Millisecond}
	evs := events(2)
	if failed, err := w.Send(context.Background(), evs); failed != nil || err != nil {
		t.Fatalf("Send = %v, %v", failed, err)
	}
	if len(got) != 4 || got[0].ID != "g00:1" || got[0].DetailType != Created || got[3].ID != "g01:3" || got[3].Source != "songqueue" {
		t.Fatalf("posted %+v", got)
	}
	var d Detail
	if err := json.Unmarshal(got[3].Detail, &d); err != nil || d.Status != generation.Completed || d.Version != 3 {
		t.Fatalf("detail %s: %v", got[3].Detail, err)
	}

	srv.Close()
	failed, err := w.Send(context.Background(), evs)
	if !slices.Equal(failed, []int{0, 1, 2, 3}) || err == nil {
		t.Fatalf("Send to a closed webhook = %v, %v", failed, err)
	}
}
