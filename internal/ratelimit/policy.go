// Package ratelimit is the global Suno rate limit as a token bucket shared
// by every worker, in the GCRA form: the whole bucket is one timestamp, the
// theoretical arrival time (TAT), so a store can keep it in one item and
// update it with one conditional write.
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
	// Rate is how many tokens are added per second.
	Rate float64
	// Burst is the bucket's capacity; 0 means one second's worth.
	Burst int
	// AgingStep is how long a job waits before it is treated as one tier
	// higher; 0 means 30 s.
	AgingStep time.Duration
}

// DefaultPolicy is DESIGN.md's: 10 submissions a second, a tier's
// promotion every 30 s of waiting.
func DefaultPolicy() Policy { return Policy{Rate: 10, AgingStep: defaultAgingStep} }

const defaultAgingStep = 30 * time.Second

// share is the fraction of the burst each tier may use, by rank.
var share = [...]float64{1, 0.75, 0.5, 0.25}

// Interval is the time one token takes to refill.
func (p Policy) Interval() time.Duration {
	if p.Rate <= 0 {
		return time.Second
	}
	return time.Duration(float64(time.Second) / p.Rate)
}

func (p Policy) burst() int {
	if p.Burst > 0 {
		return p.Burst
	}
	return max(1, int(math.Ceil(p.Rate)))
}

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
