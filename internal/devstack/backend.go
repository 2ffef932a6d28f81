package devstack

import (
	"context"
	"net/http"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/eventsource"
	"github.com/songqueue/songqueue/internal/media"
	"github.com/songqueue/songqueue/internal/memory"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/throttle"
)

// backend is what the stack runs its roles on: the adapters (with the
// callers' request buckets, which the stack's API limits too), the queues
// as its emulated event source reads them, and where the copies are
// served from (nil when none are kept).
type backend struct {
	ports service.Ports
	// limiter makes each Suno account's rate window and breaker.
	limiter func(state string) service.Account
	source  eventsource.Source
	media   http.Handler
}

// backend makes the adapters of the configured backend: everything in
// this process (memory, make dev's default), or the AWS adapters on an
// emulator or an account, whose WebSocket events come back to this
// process's @connections routes.
func (s *Stack) backend(ctx context.Context, env *app.Env, hub *memory.Hub) (backend, error) {
	cfg := env.Config
	if cfg.Backend == app.AWS {
		ports, limiter, source, bucket, err := app.AWSBackend(ctx, env)
		if err != nil {
			return backend{}, err
		}
		b := backend{ports: ports, limiter: limiter, source: source}
		if bucket != nil {
			b.media = bucket
		}
		return b, nil
	}
	// The change log is the outbox the domain events are published from.
	s.Store = memory.NewStore(memory.WithClock(env.Now), memory.WithChanges())
	s.MemoryQueues = memory.NewQueues(memory.QueueConfig{
		VisibilityTimeout: cfg.QueueSettings.VisibilityTimeout, MaxReceiveCount: cfg.QueueSettings.MaxReceiveCount, Now: env.Now,
	})
	b := backend{
		ports: service.Ports{
			Store: s.Store, Connections: s.Store, Controls: s.Store, Notifier: hub,
			Queue: s.MemoryQueues, DeadLetters: s.MemoryQueues,
			Buckets: throttle.NewMemory(env.Now),
		},
		limiter: func(string) service.Account { return memory.NewLimiter(cfg.RateLimit, env.Now) },
		source:  s.MemoryQueues,
	}
	if cfg.Media.BaseURL != "" {
		dir, err := media.OpenDir(cfg.Media.Dir, cfg.Media.BaseURL)
		if err != nil {
			return backend{}, err
		}
		b.ports.Media, b.media = dir, dir
	}
	return b, nil
}
