package porttest

import (
	"context"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/ratelimit"
)

// limiterTiers checks the tiers: higher tiers first, by their share of
// the burst, their ceiling and their turn; waiting promotes; a tier with
// nothing waiting caps nobody.
func limiterTiers(t *testing.T, newLimiter LimiterFactory) {
	_, open, start := limiterPolicies()
	t.Run("IdleTiersCapNobody", func(t *testing.T) {
		t.Parallel()
		// The tiers served at each rank are kept with the window: a FREE
		// job told that ENTERPRISE has nothing waiting fills the window
		// ENTERPRISE was just served in; told of another idle tier, it
		// stops at its ceiling.
		for _, c := range []struct {
			idle ratelimit.Tiers
			want int
		}{
			{ratelimit.TiersOf(generation.Enterprise), 9},
			{ratelimit.TiersOf(generation.Premium), 4},
		} {
			clock := NewClock(start)
			l := newLimiter(t, open, clock.Now)()
			if ok, _ := take(t, l, generation.Enterprise, 0); !ok {
				t.Fatal("ENTERPRISE refused from an empty window")
			}
			n := 0
			for clock.Now().Before(start.Add(time.Second)) {
				g, err := l.Take(context.Background(), ratelimit.Ask{Tier: generation.Free, Idle: c.idle})
				if err != nil {
					t.Fatal(err)
				}
				if g.OK {
					n++
				}
				clock.Advance(10 * time.Millisecond)
			}
			if n != c.want {
				t.Errorf("FREE told %b is idle took %d of the window after ENTERPRISE's grant, want %d", c.idle, n, c.want)
			}
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
}
