package porttest

import (
	"context"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
)

// limiterWindow checks the window: the burst, then the limit in any
// window, counted exactly, every token of it used under a backlog, and
// decided as the policy does.
func limiterWindow(t *testing.T, newLimiter LimiterFactory) {
	policy, open, start := limiterPolicies()
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
