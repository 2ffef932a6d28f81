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
	conns map[string]func(context.Context, []byte) error
}

var _ service.Notifier = (*Hub)(nil)

// NewHub returns a hub with no connections.
func NewHub() *Hub { return &Hub{conns: map[string]func(context.Context, []byte) error{}} }

// Attach registers send as the way to reach connection id.
func (h *Hub) Attach(id string, send func(context.Context, []byte) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conns[id] = send
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
	send, ok := h.conns[id]
	h.mu.RUnlock()
	if !ok {
		return service.ErrGone
	}
	if err := send(ctx, payload); err != nil {
		return fmt.Errorf("post to %s: %w", id, err)
	}
	return nil
}
