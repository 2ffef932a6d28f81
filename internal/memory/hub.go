package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/songqueue/songqueue/internal/service"
)

// Hub is the notifier of the local stack: it delivers to the WebSocket
// connections open on this process.
type Hub struct {
	mu    sync.RWMutex
	conns map[string]hubConn
}

type hubConn struct {
	send  func(context.Context, []byte) error
	close func()
}

var _ service.Notifier = (*Hub)(nil)

// NewHub returns a hub with no connections.
func NewHub() *Hub { return &Hub{conns: map[string]hubConn{}} }

// Attach registers send as the way to reach connection id, and close as
// the way to end it.
func (h *Hub) Attach(id string, send func(context.Context, []byte) error, close func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conns[id] = hubConn{send: send, close: close}
}

// Detach forgets connection id.
func (h *Hub) Detach(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, id)
}

// Post implements service.Notifier.
func (h *Hub) Post(ctx context.Context, id string, payload []byte) error {
	h.mu.RLock()
	c, ok := h.conns[id]
	h.mu.RUnlock()
	if !ok {
		return service.ErrGone
	}
	if err := c.send(ctx, payload); err != nil {
		return fmt.Errorf("post to %s: %w", id, err)
	}
	return nil
}

// Close implements service.Notifier: it ends connection id, as API
// Gateway's DELETE @connections does.
func (h *Hub) Close(_ context.Context, id string) error {
	h.mu.Lock()
	c, ok := h.conns[id]
	delete(h.conns, id)
	h.mu.Unlock()
	if !ok {
		return service.ErrGone
	}
	if c.close != nil {
		c.close()
	}
	return nil
}
