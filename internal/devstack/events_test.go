package devstack_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/domainevents"
	"github.com/songqueue/songqueue/internal/generation"
)

// webhook is an EVENTS_WEBHOOK_URL that records what is posted to it. It
// holds every request until open is closed.
type webhook struct {
	srv  *httptest.Server
	open chan struct{}
	once sync.Once
	mu   sync.Mutex
	got  []domainevents.Envelope
	raw  []map[string]any
	bad  []string
	more chan struct{}
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{open: make(chan struct{}), more: make(chan struct{}, 1)}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-w.open:
		case <-r.Context().Done():
			return
		}
		body, _ := io.ReadAll(r.Body)
		var env domainevents.Envelope
		var raw map[string]any
		w.mu.Lock()
		defer w.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &env) != nil || json.Unmarshal(body, &raw) != nil {
			w.bad = append(w.bad, fmt.Sprintf("%s %s %s", r.Method, r.Header.Get("Content-Type"), body))
			http.Error(rw, "bad event", http.StatusBadRequest)
			return
		}
		w.got = append(w.got, env)
		w.raw = append(w.raw, raw)
		select {
		case w.more <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(func() { w.release(); w.srv.Close() })
	return w
}

// release lets the held requests and every later one through.
func (w *webhook) release() { w.once.Do(func() { close(w.open) }) }

func (w *webhook) received() []domainevents.Envelope {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got)
}

// lives is what the webhook received, per generation: each event once
// (the first delivery of each id), in the order received.
func (w *webhook) lives() map[string][]domainevents.Envelope {
	out := map[string][]domainevents.Envelope{}
	seen := map[string]bool{}
	for _, e := range w.received() {
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		var d domainevents.Detail
		_ = json.Unmarshal(e.Detail, &d)
		out[d.GenerationID] = append(out[d.GenerationID], e)
	}
	return out
}

func detailTypes(evs []domainevents.Envelope) []domainevents.DetailType {
	var out []domainevents.DetailType
	for _, e := range evs {
		out = append(out, e.DetailType)
	}
	return out
}

// TestDomainEventsReachTheWebhook: on each backend, the local stack
// posts every create and terminal change of a song's life to
// EVENTS_WEBHOOK_URL in EventBridge's envelope, each with the
// generation's id and version as id and GET status's view as detail; no
// progress, claim or pipeline retry is an event; and a webhook that hangs
// holds up neither a create nor the worker.
func TestDomainEventsReachTheWebhook(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			domainEventsReachTheWebhook(t, b)
		})
	}
}

func domainEventsReachTheWebhook(t *testing.T, b backend) {
	hook := newWebhook(t)
	s := startStack(t, b, func(c *devstack.Config) { c.Events.WebhookURL = hook.srv.URL }, devstack.Options{})
	owner := user(t, s, "listener", generation.Pro)
	ops := admin(t, s)

	// The webhook hangs: a song is still created at once and made.
	start := time.Now()
	plain := owner.create("a plain song")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("create took %s while the webhook hangs", d)
	}
	owner.waitStatus(plain, "completed", statusIs("completed"), 20*time.Second)
	if n := len(hook.received()); n != 0 {
		t.Fatalf("%d events received through a hanging webhook", n)
	}
	hook.release()

	// Three failed attempts (retried by the pipeline: no event), an
	// operator's retry, then made.
	retried := owner.create("fails three times [fake:fail=3]")
	owner.waitStatus(retried, "failed", statusIs("failed"), 20*time.Second)
	if code, body := ops.do("POST", "/api/admin/generations/"+retried+"/retry", nil); code != http.StatusOK {
		t.Fatalf("retry: %d %v", code, body)
	}
	owner.waitStatus(retried, "completed after the retry", statusIs("completed"), 20*time.Second)
	// Cancelled while Suno works on it.
	cancelled := owner.create("takes its time [fake:slow=30s]")
	owner.waitStatus(cancelled, "submitted", submitted, 20*time.Second)
	if code, body := owner.do("POST", "/api/generation/"+cancelled+"/cancel", nil); code != http.StatusOK {
		t.Fatalf("cancel: %d %v", code, body)
	}

	want := map[string][]domainevents.DetailType{
		plain:     {domainevents.Created, domainevents.Completed},
		retried:   {domainevents.Created, domainevents.Failed, domainevents.Retried, domainevents.Completed},
		cancelled: {domainevents.Created, domainevents.Cancelled},
	}
	deadline := time.After(20 * time.Second)
	for {
		lives, done := hook.lives(), true
		for id, dts := range want {
			done = done && len(lives[id]) >= len(dts)
		}
		if done {
			break
		}
		select {
		case <-hook.more:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("events received: %v", hook.lives())
		}
	}
	quiet() // nothing more may come
	lives := hook.lives()
	if len(lives) != len(want) {
		t.Errorf("events of %d generations, want %d: %v", len(lives), len(want), lives)
	}
	statusOf := map[domainevents.DetailType]generation.Status{
		domainevents.Created: generation.Pending, domainevents.Retried: generation.Pending, domainevents.Completed: generation.Completed,
		domainevents.Failed: generation.Failed, domainevents.Cancelled: generation.Cancelled,
	}
	for id, dts := range want {
		evs := lives[id]
		if got := detailTypes(evs); !slices.Equal(got, dts) {
			t.Errorf("%s: events %v, want %v", id, got, dts)
			continue
		}
		var last int64
		for _, e := range evs {
			var d domainevents.Detail
			if err := json.Unmarshal(e.Detail, &d); err != nil {
				t.Fatal(err)
			}
			if e.Version != "0" || e.Source != "songqueue" || e.ID != fmt.Sprintf("%s:%d", id, d.Version) || d.UserID != "listener" ||
				d.Status != statusOf[e.DetailType] || d.Version <= last || e.Time.IsZero() || e.Resources == nil {
				t.Errorf("%s: envelope %+v detail %+v", id, e, d)
			}
			last = d.Version
		}
		// The last event's detail is the generation as GET status shows
		// it now (its end), with its owner.
		var detail map[string]any
		_ = json.Unmarshal(evs[len(evs)-1].Detail, &detail)
		st := owner.status(id)
		delete(st, "queue")
		st["userId"] = "listener"
		if a, b := canonicalJSON(detail), canonicalJSON(st); a != b {
			t.Errorf("%s: last event's detail\n %s\nGET status\n %s", id, a, b)
		}
	}
	hook.mu.Lock()
	if len(hook.bad) > 0 {
		t.Errorf("bad posts: %v", hook.bad)
	}
	hook.mu.Unlock()
}

func canonicalJSON(v any) string {
	b, _ := json.Marshal(v)
	var x any
	_ = json.Unmarshal(b, &x)
	b, _ = json.Marshal(x)
	return string(b)
}
