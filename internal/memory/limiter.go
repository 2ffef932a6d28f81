package memory

import (
	"context"
	"sync"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
)

// Limiter is the token bucket of package ratelimit, in memory.
type Limiter struct {
	policy ratelimit.Policy
	now    func() time.Time
	mu     sync.Mutex
	tat    time.Time
}

var _ service.RateLimiter = (*Limiter)(nil)

// NewLimiter returns a full bucket. now may be nil for the wall clock.
func NewLimiter(p ratelimit.Policy, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{policy: p, now: now}
}

// Take implements service.RateLimiter.
func (l *Limiter) Take(_ context.Context, tier generation.Tier, waited time.Duration) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tat, ok, wait := l.policy.Decide(l.tat, l.now(), tier, waited)
	if ok {
		l.tat = tat
	}
	return ok, wait, nil
}
