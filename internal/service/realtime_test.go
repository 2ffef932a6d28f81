package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/memory"
	"github.com/songqueue/songqueue/internal/service"
)

// wsPeer is a connection of the harness's hub that records what it is
// sent and whether it was closed.
type wsPeer struct {
	mu     sync.Mutex
	got    []string
	closed bool
}

func (h *harness) attach(id string) *wsPeer {
	p := &wsPeer{}
	h.hub.Attach(id, func(_ context.Context, b []byte) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.got = append(p.got, string(b))
		return nil
	}, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.closed = true
	})
	return p
}

func (p *wsPeer) state() ([]string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.got...), p.closed
}

func errorCode(t *testing.T, ev service.Event) string {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Event string `json:"event"`
		Data  struct {
			Code string `json:"code"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Event != service.EventBadAction {
		return ""
	}
	return m.Data.Code
}

// TestMessageAfterTokenExpiry: a connection answers while its token is
// good; the first message after it has expired, sync or ping, is refused
// with a token_expired error, posted to the connection, which is then
// closed and forgotten (no more pushes).
func TestMessageAfterTokenExpiry(t *testing.T) {
	for _, action := range []string{"sync", "ping"} {
		t.Run(action, func(t *testing.T) {
			h := newHarness(t)
			caller := callerOf(generation.Pro)
			caller.Expires = h.clock.Now().Add(time.Minute)
			peer := h.attach("c-1")
			rt := h.roles.Realtime
			// The record outlives the token (as one written before the
			// expiry was known would): the refusal forgets it whatever
			// it says.
			if err := h.store.PutConnection(h.ctx, service.Connection{ID: "c-1", UserID: caller.UserID, Tier: caller.Tier,
				ConnectedAt: h.clock.Now(), ExpiresAt: h.clock.Now().Add(2 * time.Hour)}, 0); err != nil {
				t.Fatal(err)
			}
			msg := []byte(`{"action":"` + action + `"}`)
			ev, err := rt.HandleMessage(h.ctx, caller, "c-1", msg)
			if err != nil || errorCode(t, ev) != "" {
				t.Fatalf("%s before expiry: %+v, %v", action, ev, err)
			}

			h.clock.Advance(time.Minute)
			ev, err = rt.HandleMessage(h.ctx, caller, "c-1", msg)
			if err != nil || errorCode(t, ev) != "token_expired" {
				t.Fatalf("%s after expiry: %+v, %v; want a token_expired error", action, ev, err)
			}
			got, closed := peer.state()
			if !closed || len(got) != 1 || !json.Valid([]byte(got[0])) || errorCode(t, mustEvent(t, got[0])) != "token_expired" {
				t.Fatalf("the connection got %q, closed %v; want the token_expired error, then closed", got, closed)
			}
			if conns, err := h.store.UserConnections(h.ctx, caller.UserID); err != nil || len(conns) != 0 {
				t.Fatalf("the expired connection is still registered: %+v, %v", conns, err)
			}
		})
	}
}

func mustEvent(t *testing.T, s string) service.Event {
	t.Helper()
	var ev struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(s), &ev); err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	_ = json.Unmarshal(ev.Data, &data)
	return service.Event{Event: ev.Event, Data: data}
}

// TestSyncFitsOneWebSocketMessage: a sync of many recent generations with
// long prompts and many tracks answers within one WebSocket message
// (API Gateway's 128 KB, MaxSyncBytes), says that there is more, and
// leaves out finished songs rather than unfinished ones; a small sync
// leaves nothing out.
func TestSyncFitsOneWebSocketMessage(t *testing.T) {
	h := newHarness(t)
	caller := callerOf(generation.Premium)
	rt := h.roles.Realtime
	sync := func() (service.SyncData, int) {
		t.Helper()
		ev, err := rt.HandleMessage(h.ctx, caller, "c-1", []byte(`{"action":"sync"}`))
		if err != nil {
			t.Fatal(err)
		}
		data, ok := ev.Data.(service.SyncData)
		b, _ := json.Marshal(ev)
		if ev.Event != service.EventSync || !ok {
			t.Fatalf("sync answered %s", b)
		}
		return data, len(b)
	}
	long := strings.Repeat("a long prompt, ", 333)
	var unfinished []string
	for i := range 100 {
		created := h.clock.Now()
		g := generation.New(fmt.Sprintf("gen-%03d", i), caller.UserID, caller.Tier, generation.Request{Prompt: long, CustomMode: true, Style: long[:200], Title: "T"}, created, time.Hour)
		g, _, err := h.store.Create(h.ctx, g, "", service.Quota{})
		if err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Second)
		if i < 3 {
			unfinished = append(unfinished, g.ID) // the oldest: still pending
			continue
		}
		next := g
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(next.Claim(1, h.clock.Now(), time.Minute))
		next, err = h.store.Save(h.ctx, next, generation.Pending)
		must(err)
		must(next.Submitted("task-"+g.ID, h.clock.Now(), time.Hour))
		next, err = h.store.Save(h.ctx, next, generation.Processing)
		must(err)
		var tracks []generation.Track
		for k := range 6 {
			u := fmt.Sprintf("https://%s/%s/%d/%s", mediaHost, g.ID, k, strings.Repeat("x", 200))
			tracks = append(tracks, generation.Track{ID: fmt.Sprintf("%s-%d", g.ID, k), Title: long[:80], Duration: 180,
				AudioURL: u + ".mp3", StreamAudioURL: u + "/stream", ImageURL: u + ".png", SourceAudioURL: u + ".src.mp3", SourceImageURL: u + ".src.png"})
		}
		must(next.Complete(tracks, h.clock.Now()))
		_, err = h.store.Save(h.ctx, next, generation.Processing)
		must(err)
	}

	data, size := sync()
	if size > service.MaxSyncBytes || size >= 128<<10 {
		t.Fatalf("sync of 100 recent generations is %d bytes; API Gateway sends at most 128 KB", size)
	}
	if !data.More || len(data.Generations) == 0 || len(data.Generations) >= 100 {
		t.Fatalf("sync: %d generations, more %v; want as many as fit and more=true", len(data.Generations), data.More)
	}
	var ids []string
	for _, ev := range data.Generations {
		b, _ := json.Marshal(ev.Data)
		var d struct {
			GenerationID string `json:"generationId"`
		}
		_ = json.Unmarshal(b, &d)
		ids = append(ids, d.GenerationID)
	}
	if !slices.IsSorted(ids) {
		t.Errorf("sync's generations are not oldest first: %v", ids)
	}
	for _, id := range unfinished {
		if !slices.Contains(ids, id) {
			t.Errorf("unfinished %s left out of the sync (got %v)", id, ids)
		}
	}
	// The newest finished ones are kept; the oldest finished go first.
	if newest := "gen-099"; !slices.Contains(ids, newest) {
		t.Errorf("the newest song %s left out of the sync", newest)
	}

	// A user with a few songs gets them all, and no flag.
	other := callerOf(generation.Free)
	h.create(generation.Free, "just one")
	ev, err := rt.HandleMessage(h.ctx, other, "c-2", []byte(`{"action":"sync"}`))
	if err != nil {
		t.Fatal(err)
	}
	if d := ev.Data.(service.SyncData); len(d.Generations) != 1 || d.More {
		t.Fatalf("small sync: %+v", d)
	}
	if b, _ := json.Marshal(ev); strings.Contains(string(b), `"more"`) {
		t.Errorf("small sync carries a more flag: %s", b)
	}
}

// lockstepConnections is the memory store whose UserConnections answers
// only once n callers have read (or after a moment): a burst of connects
// that all read the user's connections before any of them writes.
type lockstepConnections struct {
	*memory.Store
	n       int
	mu      sync.Mutex
	waiting int
	all     chan struct{}
}

func (l *lockstepConnections) UserConnections(ctx context.Context, user string) ([]service.Connection, error) {
	conns, err := l.Store.UserConnections(ctx, user)
	l.mu.Lock()
	if l.waiting++; l.waiting == l.n {
		close(l.all)
	}
	l.mu.Unlock()
	select {
	case <-l.all:
	case <-time.After(time.Second):
	}
	return conns, err
}

// TestConnectionCapHoldsUnderABurst: a burst of connects by one user, all
// at once, registers exactly MaxConnectionsPerUser and refuses the rest
// with too_many_connections.
func TestConnectionCapHoldsUnderABurst(t *testing.T) {
	const limit, burst = 3, 10
	store := memory.NewStore()
	conns := &lockstepConnections{Store: store, n: burst, all: make(chan struct{})}
	rt := newRealtime(t, service.RealtimePorts{Store: store, Connections: conns, Notifier: memory.NewHub()},
		service.Config{MaxConnectionsPerUser: limit, Logger: slog.New(slog.DiscardHandler)})
	caller := callerOf(generation.Pro)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, refused := 0, 0
	for i := range burst {
		wg.Go(func() {
			err := rt.Connect(context.Background(), caller, fmt.Sprintf("c-%d", i))
			var se *service.Error
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				accepted++
			case errors.As(err, &se) && se.Kind == service.KindQuota && se.Code == "too_many_connections":
				refused++
			default:
				t.Errorf("connect: %v", err)
			}
		})
	}
	wg.Wait()
	if accepted != limit || refused != burst-limit {
		t.Fatalf("%d connects at once with a cap of %d: %d accepted, %d refused", burst, limit, accepted, refused)
	}
	if got, _ := store.UserConnections(context.Background(), caller.UserID); len(got) != limit {
		t.Fatalf("%d connections registered, want %d", len(got), limit)
	}
}
