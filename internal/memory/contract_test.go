package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/memory"
	"github.com/songqueue/songqueue/internal/porttest"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
)

// The in-memory adapters pass the same contract suites as the AWS ones.

func TestStoreContract(t *testing.T) {
	porttest.Store(t, func(t *testing.T) (service.Store, service.Connections) {
		s := memory.NewStore()
		return s, s
	})
}

func TestQueueContract(t *testing.T) {
	porttest.Queue(t, func(t *testing.T, opt porttest.QueueOptions) porttest.QueueUnderTest {
		return memory.NewQueues(memory.QueueConfig{VisibilityTimeout: opt.VisibilityTimeout, MaxReceiveCount: opt.MaxReceiveCount})
	})
}

func TestLimiterContract(t *testing.T) {
	porttest.Limiter(t, func(t *testing.T, p ratelimit.Policy, now func() time.Time) func() service.RateLimiter {
		l := memory.NewLimiter(p, now)
		return func() service.RateLimiter { return l }
	})
}

type hubHarness struct {
	hub  *memory.Hub
	next int
	got  map[string][][]byte
}

func (h *hubHarness) Notifier() service.Notifier { return h.hub }

func (h *hubHarness) Open(t *testing.T) string {
	h.next++
	id := "conn-" + string(rune('a'+h.next))
	h.hub.Attach(id, func(_ context.Context, b []byte) error {
		h.got[id] = append(h.got[id], append([]byte(nil), b...))
		return nil
	}, nil)
	return id
}

func (h *hubHarness) Close(t *testing.T, id string) { h.hub.Detach(id) }

func (h *hubHarness) Received(t *testing.T, id string) [][]byte { return h.got[id] }

func TestNotifierContract(t *testing.T) {
	porttest.Notifier(t, func(t *testing.T) porttest.NotifierHarness {
		return &hubHarness{hub: memory.NewHub(), got: map[string][][]byte{}}
	})
}
