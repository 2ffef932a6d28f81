package service_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
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
				ConnectedAt: h.clock.Now(), ExpiresAt: h.clock.Now().Add(2 * time.Hour)}); err != nil {
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
