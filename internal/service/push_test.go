package service

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

type connStore struct {
	Connections
	conns []Connection
	mu    sync.Mutex
	gone  []string
}

func (c *connStore) UserConnections(context.Context, string) ([]Connection, error) {
	return c.conns, nil
}
func (c *connStore) DeleteConnection(_ context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gone = append(c.gone, id)
	return nil
}

// stuckNotifier never answers for connection "stuck".
type stuckNotifier struct {
	mu     sync.Mutex
	sent   []string
	closed []string
}

func (n *stuckNotifier) Post(ctx context.Context, id string, _ []byte) error {
	if id == "stuck" {
		<-ctx.Done()
		return ctx.Err()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sent = append(n.sent, id)
	return nil
}

func (n *stuckNotifier) Close(_ context.Context, id string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = append(n.closed, id)
	return nil
}

// TestPushGoesToEveryConnectionAtOnceWithADeadline: a connection that does
// not answer holds the push no longer than the push timeout, the others get
// the event meanwhile, and a connection whose token expired gets nothing
// and is forgotten.
func TestPushGoesToEveryConnectionAtOnceWithADeadline(t *testing.T) {
	now := time.Now()
	conns := &connStore{}
	for _, id := range []string{"stuck", "a", "b", "c", "d", "e", "f", "g", "h", "i"} {
		conns.conns = append(conns.conns, Connection{ID: id, UserID: "u", ExpiresAt: now.Add(time.Hour)})
	}
	conns.conns = append(conns.conns, Connection{ID: "expired", UserID: "u", ExpiresAt: now.Add(-time.Second)})
	n := &stuckNotifier{}
	s := newCore(Core{Connections: conns, Notifier: n}, Config{PushTimeout: 200 * time.Millisecond, Now: func() time.Time { return now }})
	g := generation.New("g", "u", generation.Free, generation.Request{Prompt: "p"}, now, time.Minute)
	_ = g.Cancel(now) // a final state: pushed without a version check
	start := time.Now()
	s.push.push(context.Background(), g)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("push took %s with one stuck connection", took)
	}
	if len(n.sent) != 9 {
		t.Fatalf("sent to %v, want the nine live connections", n.sent)
	}
	if len(conns.gone) != 1 || conns.gone[0] != "expired" {
		t.Fatalf("forgotten %v, want the expired connection", conns.gone)
	}
	if len(n.closed) != 1 || n.closed[0] != "expired" {
		t.Fatalf("closed %v, want the expired connection closed", n.closed)
	}
}
