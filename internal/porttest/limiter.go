package porttest

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
)

// LimiterFactory returns a fresh, full bucket with policy p on clock now,
// as a function that hands out a worker's view of it: every limiter it
// returns shares the one bucket, like the workers of every Lambda share the
// DynamoDB item.
type LimiterFactory func(t *testing.T, p ratelimit.Policy, now func() time.Time) (worker func() service.RateLimiter)

// Clock is a settable clock for limiter tests.
type Clock struct {
	ns atomic.Int64
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock {
	c := &Clock{}
	c.ns.Store(t.UnixNano())
	return c
}

// Now reads the clock.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Advance moves the clock on.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// reference is the bucket as package ratelimit defines it.
type reference struct {
	p   ratelimit.Policy
	tat time.Time
}

func (r *reference) take(now time.Time, tier generation.Tier, waited time.Duration) (bool, time.Duration) {
	tat, ok, wait := r.p.Decide(r.tat, now, tier, waited)
	if ok {
		r.tat = tat
	}
	return ok, wait
}

func take(t *testing.T, l service.RateLimiter, tier generation.Tier, waited time.Duration) (bool, time.Duration) {
	t.Helper()
	g, err := l.Take(context.Background(), tier, waited)
	if err != nil {
		t.Fatalf("Take(%s): %v", tier, err)
	}
	return g.OK, g.RetryAfter
}

// Limiter runs the contract of service.RateLimiter for buckets built on
// ratelimit.Policy.
func Limiter(t *testing.T, newLimiter LimiterFactory) {
	policy := ratelimit.Policy{Rate: 10, Burst: 8, AgingStep: 30 * time.Second}
	start := time.Now().Truncate(time.Second)

	t.Run("BurstThenRefuseWithWait", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiter(t, policy, clock.Now)()
		for i := range 8 {
			if ok, _ := take(t, l, generation.Enterprise, 0); !ok {
				t.Fatalf("token %d of a full bucket of 8 refused", i+1)
			}
		}
		ok, wait := take(t, l, generation.Enterprise, 0)
		if ok || wait != policy.Interval() {
			t.Fatalf("ninth token: ok %v, wait %s; want a refusal with wait %s", ok, wait, policy.Interval())
		}
		clock.Advance(wait)
		if ok, _ := take(t, l, generation.Enterprise, 0); !ok {
			t.Fatal("no token after waiting the time the refusal gave")
		}
	})

	t.Run("HigherTiersFirst", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiter(t, policy, clock.Now)()
		// FREE may use a quarter of the burst (2 of 8), PRO half, PREMIUM
		// three quarters, ENTERPRISE all of it.
		got := map[generation.Tier]int{}
		for _, tier := range []generation.Tier{generation.Free, generation.Pro, generation.Premium, generation.Enterprise} {
			for {
				ok, _ := take(t, l, tier, 0)
				if !ok {
					break
				}
				got[tier]++
			}
		}
		want := map[generation.Tier]int{generation.Free: 2, generation.Pro: 2, generation.Premium: 2, generation.Enterprise: 2}
		for tier, n := range want {
			if got[tier] != n {
				t.Errorf("%s got %d tokens, want %d (all: %v)", tier, got[tier], n, got)
			}
		}
		if ok, _ := take(t, l, generation.Free, 0); ok {
			t.Error("FREE got a token from an empty bucket")
		}
	})

	t.Run("WaitingPromotes", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiter(t, policy, clock.Now)()
		for range 2 {
			if ok, _ := take(t, l, generation.Free, 0); !ok {
				t.Fatal("FREE refused from a full bucket")
			}
		}
		if ok, _ := take(t, l, generation.Free, 0); ok {
			t.Fatal("FREE got more than its share")
		}
		// Three aging steps make a FREE job count as ENTERPRISE.
		if ok, _ := take(t, l, generation.Free, 3*policy.AgingStep); !ok {
			t.Fatal("a FREE job that waited three aging steps was refused")
		}
	})

	t.Run("Refills", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiter(t, policy, clock.Now)()
		for ok := true; ok; ok, _ = take(t, l, generation.Enterprise, 0) {
		}
		clock.Advance(20 * policy.Interval())
		n := 0
		for ok, _ := take(t, l, generation.Enterprise, 0); ok; ok, _ = take(t, l, generation.Enterprise, 0) {
			n++
		}
		if n != 8 {
			t.Fatalf("after a long idle time the bucket gave %d tokens, want 8 (it caps at the burst)", n)
		}
	})

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
					g, err := l.Take(context.Background(), generation.Enterprise, 0)
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
			t.Fatalf("4 workers took %d tokens from one bucket of 8", n)
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
			t.Fatalf("the workers took %d tokens in all from a bucket of 8", n)
		}
	})

	t.Run("MatchesPolicy", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiter(t, policy, clock.Now)()
		ref := &reference{p: policy}
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 150 {
			tier := generation.Tiers[rng.IntN(len(generation.Tiers))]
			waited := time.Duration(rng.IntN(4)) * 20 * time.Second
			wantOK, wantWait := ref.take(clock.Now(), tier, waited)
			ok, wait := take(t, l, tier, waited)
			if ok != wantOK || wait != wantWait {
				t.Fatalf("take %d (%s, waited %s): ok %v wait %s; the policy says ok %v wait %s", i, tier, waited, ok, wait, wantOK, wantWait)
			}
			clock.Advance(time.Duration(rng.IntN(120)) * time.Millisecond)
		}
	})
}
