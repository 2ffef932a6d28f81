// Package ratelimit is the global Suno rate limit as a token bucket shared
// by every worker, in the GCRA form: the whole bucket is one timestamp, the
// theoretical arrival time (TAT), so a store can keep it in one item and
// update it with one conditional write.
//
// The limit is what Suno states: at most Rate submissions in any Window
// (sunoapi.org: 20 per 10 s, answered with 430 beyond). A burst of Burst
// tokens at once is allowed, and the refill is slowed so that even a
// window that starts with a full burst holds no more than Rate: in GCRA
// terms the emission interval is Window/(Rate−Burst+1) and the tolerance
// (Burst−1) intervals, and the most cells any window of length Window can
// hold is Burst + (Rate−Burst+1) − 1 = Rate.
//
// Higher tiers may dig deeper into the bucket than lower ones: when tokens
// are scarce, an ENTERPRISE job still finds one while a FREE job waits. A
// job that has waited long is promoted a tier per AgingStep, so no tier
// starves however busy the ones above it are.
package ratelimit

import (
	"math"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// Policy is the shape of the bucket.
type Policy struct {
	// Rate is the most tokens handed out in any Window.
	Rate float64
	// Window is the length of the window Rate is counted in; 0 means one
	// second.
	Window time.Duration
	// Burst is how many tokens may be taken at once, and so how deep the
	// tiers' shares can differ; 0 means DefaultBurst (or Rate, if less).
	// It must not exceed Rate. The larger it is, the slower the bucket
	// refills: (Rate−Burst+1) tokens per Window.
	Burst int
	// AgingStep is how long a job waits before it is treated as one tier
	// higher; 0 means 30 s.
	AgingStep time.Duration
}

// DefaultPolicy is DESIGN.md's: 10 submissions a second, a tier's
// promotion every 30 s of waiting.
func DefaultPolicy() Policy {
	return Policy{Rate: 10, Window: time.Second, AgingStep: defaultAgingStep}
}

// DefaultBurst lets the four tiers draw the bucket to three different
// depths while costing the sustained rate only two tokens a window.
const DefaultBurst = 3

const defaultAgingStep = 30 * time.Second

// share is the fraction of the burst each tier may use, by rank.
var share = [...]float64{1, 0.75, 0.5, 0.25}

func (p Policy) window() time.Duration {
	if p.Window > 0 {
		return p.Window
	}
	return time.Second
}

// Interval is the time one token takes to refill.
func (p Policy) Interval() time.Duration {
	refill := p.Rate - float64(p.burst()) + 1
	if refill <= 0 {
		return p.window()
	}
	return time.Duration(float64(p.window()) / refill)
}

// burst is Burst, or its default, never more than Rate allows.
func (p Policy) burst() int {
	b := p.Burst
	if b <= 0 {
		b = DefaultBurst
	}
	return max(1, min(b, int(math.Floor(p.Rate))))
}

// Sustained is how many tokens a second the bucket hands out under
// continuous demand.
func (p Policy) Sustained() float64 { return float64(time.Second) / float64(p.Interval()) }

// Rank is the effective rank of a tier after waiting: 0 is the highest.
func (p Policy) Rank(tier generation.Tier, waited time.Duration) int {
	step := p.AgingStep
	if step <= 0 {
		step = defaultAgingStep
	}
	return max(0, tier.Rank()-int(waited/step))
}

// Tolerance is how far ahead of now the TAT may be for a job of this tier
// to still get a token: (tokens the tier may use − 1) × interval.
func (p Policy) Tolerance(tier generation.Tier, waited time.Duration) time.Duration {
	tokens := max(1, int(math.Ceil(share[p.Rank(tier, waited)]*float64(p.burst()))))
	return time.Duration(tokens-1) * p.Interval()
}

// Decide takes a token from the bucket whose TAT is tat (zero for a bucket
// never used). It returns the new TAT when a token is granted, or how long
// to wait otherwise.
func (p Policy) Decide(tat, now time.Time, tier generation.Tier, waited time.Duration) (newTAT time.Time, ok bool, retryAfter time.Duration) {
	if tat.Before(now) {
		tat = now
	}
	tol := p.Tolerance(tier, waited)
	if ahead := tat.Sub(now); ahead > tol {
		return tat, false, ahead - tol
	}
	return tat.Add(p.Interval()), true, 0
}
