package porttest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/ratelimit"
)

// limiterWorkers checks one window shared by every worker.
func limiterWorkers(t *testing.T, newLimiter LimiterFactory) {
	policy, _, start := limiterPolicies()
	t.Run("SharedByWorkers", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		worker := newLimiter(t, policy, clock.Now)
		var granted atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			l := worker()
			wg.Go(func() {
				for range 5 {
					g, err := l.Take(context.Background(), ratelimit.Ask{Tier: generation.Enterprise})
					if err != nil {
						t.Error(err)
						return
					}
					if g.OK {
						granted.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if n := granted.Load(); n > 8 {
			t.Fatalf("4 workers took %d tokens at once from a burst of 8", n)
		}
		// Contention may turn a worker away early, but never loses tokens.
		l := worker()
		for {
			ok, _ := take(t, l, generation.Enterprise, 0)
			if !ok {
				break
			}
			granted.Add(1)
		}
		if n := granted.Load(); n != 8 {
			t.Fatalf("the workers took %d tokens in all from a burst of 8", n)
		}
	})
}
