package memory

import (
	"context"
	"sync"
	"time"

	"github.com/songqueue/songqueue/internal/health"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
)

// Limiter is the sliding window of package ratelimit, in memory.
type Limiter struct {
	policy  ratelimit.Policy
	now     func() time.Time
	mu      sync.Mutex
	window  ratelimit.State
	breaker health.Breaker
}

var _ service.Account = (*Limiter)(nil)

// NewLimiter returns an empty window. now may be nil for the wall clock.
func NewLimiter(p ratelimit.Policy, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{policy: p, now: now}
}

// Take implements service.RateLimiter.
func (l *Limiter) Take(_ context.Context, a ratelimit.Ask) (service.Grant, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	window, ok, wait := l.policy.Decide(l.window, l.now(), a)
	if ok {
		l.window = window
	}
	return service.Grant{OK: ok, RetryAfter: wait, Breaker: l.breaker, BreakerKnown: true}, nil
}

// Usage implements service.WindowReader.
func (l *Limiter) Usage(context.Context) (service.WindowUsage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, span := l.policy.Limit()
	return service.WindowUsage{Limit: n, Window: span, Used: l.policy.Used(l.window, l.now())}, nil
}

// Breaker implements service.Breakers.
func (l *Limiter) Breaker(context.Context) (health.Breaker, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return cloneBreaker(l.breaker), nil
}

// UpdateBreaker implements service.Breakers.
func (l *Limiter) UpdateBreaker(_ context.Context, change func(*health.Breaker) error) (health.Breaker, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := cloneBreaker(l.breaker)
	if err := change(&next); err != nil {
		return cloneBreaker(l.breaker), err
	}
	l.breaker = next
	return cloneBreaker(next), nil
}

func cloneBreaker(b health.Breaker) health.Breaker {
	b.Failures = append([]health.Strike(nil), b.Failures...)
	return b
}
