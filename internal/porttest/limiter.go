package porttest

import (
	"context"
	"math/rand/v2"
	"sort"
	"sync"
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
	// 10 a second, 8 at once, a promotion per second of waiting.
	policy := ratelimit.Policy{Rate: 10, Burst: 8, AgingGrants: 10}
	// The same with the whole window as the burst.
	open := ratelimit.Policy{Rate: 10, Burst: 10, AgingGrants: 10}
	start := time.Now().Truncate(time.Second)

	t.Run("BurstThenRefuseWithWait", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiter(t, policy, clock.Now)()
		for i := range 8 {
			if ok, _ := take(t, l, generation.Enterprise, 0); !ok {
				t.Fatalf("token %d of an empty window with a burst of 8 refused", i+1)
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

	t.Run("UsageCountsTheWindow", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l, ok := newLimiter(t, policy, clock.Now)().(service.WindowReader)
		if !ok {
			t.Fatal("the limiter reports no usage: a service.Account must (WindowReader)")
		}
		usage := func() service.WindowUsage {
			t.Helper()
			u, err := l.Usage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		if u := usage(); u.Limit != 10 || u.Window != time.Second || u.Used != 0 {
			t.Fatalf("empty window: %+v; want 10 per second, none used", u)
		}
		granted := 0
		for range 5 {
			if ok, _ := take(t, l.(service.RateLimiter), generation.Enterprise, 0); ok {
				granted++
			}
		}
		if u := usage(); granted != 5 || u.Used != 5 {
			t.Errorf("after %d tokens of 5 asked: %+v; want 5 used", granted, u)
		}
		clock.Advance(1100 * time.Millisecond)
		if u := usage(); u.Used != 0 {
			t.Errorf("a window later: %+v; want none used", u)
		}
	})

	t.Run("WindowHoldsTheLimit", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiter(t, open, clock.Now)()
		for i := range 10 {
			if ok, _ := take(t, l, generation.Enterprise, 0); !ok {
				t.Fatalf("token %d of an empty window of 10 refused", i+1)
			}
		}
		clock.Advance(300 * time.Millisecond)
		// The window frees when the first grant is Window + Margin old;
		// ENTERPRISE's turn at it is one Stagger later.
		want := time.Second + open.MarginOf() + open.Stagger() - 300*time.Millisecond
		ok, wait := take(t, l, generation.Enterprise, 0)
		if ok || wait != want {
			t.Fatalf("eleventh token in a second: ok %v, wait %s; want a refusal with wait %s", ok, wait, want)
		}
		clock.Advance(wait - time.Microsecond)
		if ok, _ := take(t, l, generation.Enterprise, 0); ok {
			t.Fatal("a token a microsecond before the window had room")
		}
		clock.Advance(time.Microsecond)
		if ok, _ := take(t, l, generation.Enterprise, 0); !ok {
			t.Fatal("no token after waiting the time the refusal gave")
		}
	})

	t.Run("HigherTiersFirst", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiter(t, open, clock.Now)()
		// Asking at once, FREE may take tokens until 3 are gone, PRO until
		// 5, PREMIUM until 7, ENTERPRISE all 10: each its share of the
		// burst ahead.
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
		want := map[generation.Tier]int{generation.Free: 3, generation.Pro: 2, generation.Premium: 2, generation.Enterprise: 3}
		for tier, n := range want {
			if got[tier] != n {
				t.Errorf("%s got %d tokens, want %d (all: %v)", tier, got[tier], n, got)
			}
		}
		// In a full window each tier's turn at a token that frees comes
		// after the turn of the tier above.
		var last time.Duration
		for i, tier := range generation.Tiers {
			ok, wait := take(t, l, tier, 0)
			if ok {
				t.Fatalf("%s got a token from a full window", tier)
			}
			if i > 0 && wait <= last {
				t.Errorf("%s is told to wait %s, no longer than the tier above (%s)", tier, wait, last)
			}
			last = wait
		}
	})

	t.Run("CeilingWhileAHigherTierIsPresent", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiter(t, open, clock.Now)()
		if ok, _ := take(t, l, generation.Enterprise, 0); !ok {
			t.Fatal("ENTERPRISE refused from an empty window")
		}
		grants := []time.Time{clock.Now()}
		ask := func(until time.Time) {
			for clock.Now().Before(until) {
				if ok, _ := take(t, l, generation.Free, 0); ok {
					grants = append(grants, clock.Now())
				}
				clock.Advance(10 * time.Millisecond)
			}
		}
		// While ENTERPRISE is present (it had a grant lately), FREE fills
		// the window to its ceiling, 5 of 10; then all of it.
		ask(start.Add(open.Presence()))
		if n := busiest(grants, time.Second); n != 5 {
			t.Errorf("while ENTERPRISE was present a second held up to %d grants, want FREE's ceiling, 5", n)
		}
		ask(start.Add(open.Presence() + 2*time.Second))
		if n := busiest(grants, time.Second); n != 10 {
			t.Errorf("once ENTERPRISE was gone a second held up to %d grants, want all 10", n)
		}
	})

	t.Run("WaitingPromotes", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiter(t, open, clock.Now)()
		for range 3 {
			if ok, _ := take(t, l, generation.Free, 0); !ok {
				t.Fatal("FREE refused its share of an empty window")
			}
		}
		if ok, _ := take(t, l, generation.Free, 0); ok {
			t.Fatal("FREE went past its share of the burst")
		}
		// Three aging steps make a FREE job count as ENTERPRISE.
		if ok, _ := take(t, l, generation.Free, 3*open.Aging()); !ok {
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
			t.Fatalf("after a long idle time the window gave %d tokens, want 8 (it caps at the burst)", n)
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

	t.Run("NoWindowOverTheLimit", func(t *testing.T) {
		t.Parallel()
		// No margin, so that the count is tight: any window of one second
		// holds at most 10 grants, whichever worker made them.
		p := ratelimit.Policy{Rate: 10, Burst: 10, Margin: -1, AgingGrants: 5}
		clock := NewClock(start)
		worker := newLimiter(t, p, clock.Now)
		var mu sync.Mutex
		var grants []time.Time
		const workers, rounds, step = 4, 40, 50 * time.Millisecond
		ls := make([]service.RateLimiter, workers)
		for w := range ls {
			ls[w] = worker()
		}
		// In rounds: the clock stands while the workers ask, each a few
		// times, so that every grant's time is the round's.
		for round := range rounds {
			now := clock.Now()
			var wg sync.WaitGroup
			for w, l := range ls {
				rng := rand.New(rand.NewPCG(uint64(round), uint64(w)))
				wg.Go(func() {
					for range 3 {
						tier := generation.Tiers[rng.IntN(len(generation.Tiers))]
						g, err := l.Take(context.Background(), ratelimit.Ask{Tier: tier, Waited: time.Duration(rng.IntN(3000)) * time.Millisecond})
						if err != nil {
							t.Error(err)
							return
						}
						if g.OK {
							mu.Lock()
							grants = append(grants, now)
							mu.Unlock()
						}
					}
				})
			}
			wg.Wait()
			clock.Advance(step)
		}
		sort.Slice(grants, func(i, j int) bool { return grants[i].Before(grants[j]) })
		if n := busiest(grants, time.Second); n > 10 {
			t.Errorf("%d workers held %d grants in one second, more than 10", workers, n)
		}
		// The demand never stops, so the window keeps full: 2 s hold at
		// least 19 (slots free on the 50 ms steps).
		if len(grants) < 19 {
			t.Errorf("the workers got %d grants in %s, want at least 19", len(grants), rounds*step)
		}
	})

	t.Run("BacklogUsesTheWindow", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			p    ratelimit.Policy
			jobs int
		}{
			// 60 jobs of each tier.
			{ratelimit.Policy{Rate: 20, Window: 10 * time.Second}, 240},
			{ratelimit.Policy{Rate: 10}, 240},
		} {
			clock := NewClock(start)
			l := newLimiter(t, c.p, clock.Now)()
			grants := backlog(t, l, clock, c.jobs)
			limit, window := c.p.Limit()
			if n := busiest(timesOf(grants), window); n > limit {
				t.Errorf("%+v: a window held %d grants", c.p, n)
			}
			// Each slot of the window is used again as soon as it frees:
			// Window over the mean time between a grant and the one limit
			// grants later is the rate reached.
			var sum time.Duration
			for j := limit; j < len(grants); j++ {
				sum += grants[j].at.Sub(grants[j-limit].at)
			}
			rate := float64(window) * float64(len(grants)-limit) / float64(sum)
			if rate < 0.97 {
				t.Errorf("%+v: a backlog reached %.3f of the limit, want at least 0.97", c.p, rate)
			}
			// Each quarter of the grants went (90 %) to one tier, highest
			// first, though the lowest asked first.
			for q := range 4 {
				tier, n := generation.Tiers[q], 0
				part := grants[q*len(grants)/4 : (q+1)*len(grants)/4]
				for _, g := range part {
					if g.tier == tier {
						n++
					}
				}
				if n*10 < len(part)*9 {
					t.Errorf("%+v: quarter %d of the grants had %d of %d %s", c.p, q+1, n, len(part), tier)
				}
			}
		}
	})

	t.Run("MatchesPolicy", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiter(t, policy, clock.Now)()
		ref := &reference{p: policy}
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 200 {
			tier := generation.Tiers[rng.IntN(len(generation.Tiers))]
			waited := time.Duration(rng.IntN(8)) * 500 * time.Millisecond
			wantOK, wantWait := ref.take(clock.Now(), tier, waited)
			ok, wait := take(t, l, tier, waited)
			if ok != wantOK || wait != wantWait {
				t.Fatalf("take %d (%s, waited %s): ok %v wait %s; the policy says ok %v wait %s", i, tier, waited, ok, wait, wantOK, wantWait)
			}
			clock.Advance(time.Duration(rng.IntN(120_000)) * time.Microsecond)
		}
	})
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
