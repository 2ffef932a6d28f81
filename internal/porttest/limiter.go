package porttest

import (
	"context"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
)

// LimiterFactory returns a fresh, empty window with policy p on clock now,
// as a function that hands out a worker's view of it: every limiter it
// returns shares the one window, like the workers of every Lambda share
// the DynamoDB item.
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

// reference is the window as package ratelimit defines it.
type reference struct {
	p ratelimit.Policy
	s ratelimit.State
}

func (r *reference) take(now time.Time, tier generation.Tier, waited time.Duration) (bool, time.Duration) {
	s, ok, wait := r.p.Decide(r.s, now, ratelimit.Ask{Tier: tier, Waited: waited})
	if ok {
		r.s = s
	}
	return ok, wait
}

func take(t *testing.T, l service.RateLimiter, tier generation.Tier, waited time.Duration) (bool, time.Duration) {
	t.Helper()
	g, err := l.Take(context.Background(), ratelimit.Ask{Tier: tier, Waited: waited})
	if err != nil {
		t.Fatalf("Take(%s): %v", tier, err)
	}
	return g.OK, g.RetryAfter
}

// busiest is the most of the times (in order) any window [t, t+span)
// holds.
func busiest(times []time.Time, span time.Duration) int {
	most, j := 0, 0
	for i := range times {
		for times[i].Sub(times[j]) >= span {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

// Limiter runs the contract of service.RateLimiter for limiters built on
// ratelimit.Policy: at most the limit in any window, under any number of
// workers; every token of the window used under a backlog; higher tiers
// first, by their share of the burst, their ceiling and their turn;
// waiting promotes; and the adapter decides as the policy does.
func Limiter(t *testing.T, newLimiter LimiterFactory) {
	limiterWindow(t, newLimiter)
	limiterTiers(t, newLimiter)
	limiterWorkers(t, newLimiter)
}

// limiterPolicies are the shapes the suite runs: 10 a second, 8 at once,
// a promotion per second of waiting (policy); the same with the whole
// window as the burst (open); and a start on a whole second.
func limiterPolicies() (policy, open ratelimit.Policy, start time.Time) {
	return ratelimit.Policy{Rate: 10, Burst: 8, AgingGrants: 10},
		ratelimit.Policy{Rate: 10, Burst: 10, AgingGrants: 10},
		time.Now().Truncate(time.Second)
}

type backlogGrant struct {
	at   time.Time
	tier generation.Tier
}

func timesOf(grants []backlogGrant) []time.Time {
	times := make([]time.Time, len(grants))
	for i, g := range grants {
		times[i] = g.at
	}
	return times
}

// backlog queues jobs jobs at once, a quarter of each tier, lowest tiers
// first, and lets each ask l for a token whenever its last refusal said
// (on clock, which it moves), until every job has one. It returns the
// grants in order.
func backlog(t *testing.T, l service.RateLimiter, clock *Clock, jobs int) []backlogGrant {
	t.Helper()
	type job struct {
		tier generation.Tier
		next time.Time
		seq  int
	}
	enqueued := clock.Now()
	queue := make([]*job, jobs)
	for i := range queue {
		queue[i] = &job{tier: generation.Tiers[len(generation.Tiers)-1-i%len(generation.Tiers)], next: enqueued, seq: i}
	}
	seq := jobs
	var grants []backlogGrant
	for len(queue) > 0 && seq < 1000*jobs {
		sort.Slice(queue, func(i, j int) bool {
			if !queue[i].next.Equal(queue[j].next) {
				return queue[i].next.Before(queue[j].next)
			}
			return queue[i].seq < queue[j].seq
		})
		j := queue[0]
		if d := j.next.Sub(clock.Now()); d > 0 {
			clock.Advance(d)
		}
		ok, wait := take(t, l, j.tier, clock.Now().Sub(enqueued))
		if ok {
			grants = append(grants, backlogGrant{at: clock.Now(), tier: j.tier})
			queue = queue[1:]
			continue
		}
		j.next, j.seq = clock.Now().Add(max(wait, time.Microsecond)), seq
		seq++
	}
	if len(queue) > 0 {
		t.Fatalf("%d of %d jobs never got a token", len(queue), jobs)
	}
	return grants
}
