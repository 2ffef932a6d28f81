package ratelimit

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

func TestAloneEachTierGetsTheFullRate(t *testing.T) {
	p := Policy{Rate: 10}
	want := int(p.Sustained() * 10)
	for _, tier := range generation.Tiers {
		start := time.Unix(1000, 0)
		var tat time.Time
		granted := 0
		// Ask every millisecond for 10 s: the bucket must hand out its
		// sustained rate × 10 tokens, whichever tier asks.
		for now := start; now.Before(start.Add(10 * time.Second)); now = now.Add(time.Millisecond) {
			if next, ok, _ := p.Decide(tat, now, tier, 0); ok {
				tat, granted = next, granted+1
			}
		}
		if granted < want || granted > want+p.burst() {
			t.Errorf("%s alone got %d tokens in 10 s, want %d (sustained %.1f/s)", tier, granted, want, p.Sustained())
		}
	}
}

// TestNoWindowHoldsMoreThanTheLimit: whatever the demand, the tiers and
// their waits, the busiest window of the configured length holds at most
// the configured number of tokens, Suno's 20 per 10 s among them; and under
// continuous demand it holds exactly that many.
func TestNoWindowHoldsMoreThanTheLimit(t *testing.T) {
	for _, p := range []Policy{
		{Rate: 10}, // DESIGN's 10 a second, default burst
		{Rate: 20, Window: 10 * time.Second, Burst: 10}, // Suno's window, half of it at once
		{Rate: 20, Window: 10 * time.Second, Burst: 1},  // Suno's window, evenly spaced
		{Rate: 20, Window: 10 * time.Second, Burst: 20}, // Suno's window, all of it at once
		{Rate: 2, Burst: 5},                             // a burst above the rate is capped
		{Rate: 0.5},                                     // one every two seconds
	} {
		// A window in which the limit is a whole number of tokens.
		span, limit := p.window(), p.Rate
		if p.Rate < 1 {
			span, limit = time.Duration(float64(p.window())/p.Rate), 1
		}
		busiest := func(grants []time.Time) int {
			most := 0
			for i, g := range grants {
				n := 0
				for _, h := range grants[i:] {
					if h.Sub(g) >= span {
						break
					}
					n++
				}
				most = max(most, n)
			}
			return most
		}
		rng := rand.New(rand.NewPCG(7, uint64(p.Rate*10)))
		start := time.Unix(1000, 0)
		var tat time.Time
		var random, steady []time.Time
		// Bursts and idle stretches from every tier, with every wait.
		for now := start; now.Before(start.Add(50 * span)); now = now.Add(time.Duration(rng.IntN(40)) * time.Millisecond) {
			if rng.IntN(1000) < 2 {
				now = now.Add(time.Duration(rng.IntN(int(span/time.Millisecond))) * time.Millisecond)
			}
			tier := generation.Tiers[rng.IntN(len(generation.Tiers))]
			if next, ok, _ := p.Decide(tat, now, tier, time.Duration(rng.IntN(120))*time.Second); ok {
				tat = next
				random = append(random, now)
			}
		}
		// Then continuous demand, after an idle stretch that fills the bucket.
		start = start.Add(100 * span)
		for now := start; now.Before(start.Add(5 * span)); now = now.Add(time.Millisecond) {
			if next, ok, _ := p.Decide(tat, now, generation.Enterprise, 0); ok {
				tat = next
				steady = append(steady, now)
			}
		}
		if n := busiest(random); float64(n) > limit {
			t.Errorf("%+v: a %s window held %d tokens, more than %v", p, span, n, limit)
		}
		if n := busiest(steady); float64(n) != limit {
			t.Errorf("%+v: under continuous demand the busiest %s window held %d tokens, want %v", p, span, n, limit)
		}
	}
}

// TestAFreeJobIsServedUnderSustainedEnterpriseOverload: ENTERPRISE asks
// for every token as soon as it is due, forever; a FREE job that keeps
// asking gets one once it has waited three aging steps and competes as
// ENTERPRISE, and not much later.
func TestAFreeJobIsServedUnderSustainedEnterpriseOverload(t *testing.T) {
	p := Policy{Rate: 10, AgingStep: 30 * time.Second}
	var tat time.Time
	drain := func(now time.Time) {
		for {
			next, ok, _ := p.Decide(tat, now, generation.Enterprise, 0)
			if !ok {
				return
			}
			tat = next
		}
	}
	start := time.Unix(1000, 0)
	drain(start) // ENTERPRISE is already taking every token when the FREE job arrives
	for now := start; now.Before(start.Add(10 * time.Minute)); now = now.Add(time.Millisecond) {
		// The FREE job asks first each millisecond, ENTERPRISE takes the rest.
		if _, ok, _ := p.Decide(tat, now, generation.Free, now.Sub(start)); ok {
			waited := now.Sub(start)
			t.Logf("under sustained ENTERPRISE overload a FREE job waited %s (aging step %s)", waited, p.AgingStep)
			if waited < 2*p.AgingStep || waited > 3*p.AgingStep+time.Second {
				t.Errorf("waited %s, want about three aging steps (%s)", waited, 3*p.AgingStep)
			}
			return
		}
		drain(now)
	}
	t.Fatal("the FREE job starved for ten minutes")
}
