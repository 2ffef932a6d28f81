package service

import (
	"time"

	"github.com/songqueue/songqueue/internal/envconfig"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/ratelimit"
)

// Tuning is the behaviour the local stack and the Lambdas both take from
// the environment, under the same variable names (README, Configuration).
type Tuning struct {
	RateLimit    float64       // GENERATION_RATE_LIMIT: Suno submissions per second, all workers together
	AgingStep    time.Duration // RATE_LIMIT_AGING_STEP: waiting this long promotes a job one tier
	MaxAttempts  int           // GENERATION_MAX_ATTEMPTS
	BackoffBase  time.Duration // GENERATION_BACKOFF_BASE: wait after the first failure, doubling after each
	PollInterval time.Duration // GENERATION_POLL_INTERVAL: wait before the first poll of a task
	Deadline     time.Duration // GENERATION_DEADLINE: how long Suno may take with one attempt
}

// DefaultTuning is DESIGN.md's: 10 jobs a second, 3 attempts from 2 s.
func DefaultTuning() Tuning {
	retry := generation.DefaultRetryPolicy()
	return Tuning{
		RateLimit: 10, AgingStep: 30 * time.Second,
		MaxAttempts: retry.MaxAttempts, BackoffBase: retry.BackoffBase,
		PollInterval: 20 * time.Second, Deadline: 10 * time.Minute,
	}
}

// ReadEnv overrides t with the variables that are set.
func (t *Tuning) ReadEnv(r *envconfig.Reader) {
	r.PositiveFloat("GENERATION_RATE_LIMIT", &t.RateLimit)
	r.Duration("RATE_LIMIT_AGING_STEP", &t.AgingStep)
	r.Int("GENERATION_MAX_ATTEMPTS", &t.MaxAttempts, 1)
	r.Duration("GENERATION_BACKOFF_BASE", &t.BackoffBase)
	r.Duration("GENERATION_POLL_INTERVAL", &t.PollInterval)
	r.Duration("GENERATION_DEADLINE", &t.Deadline)
}

// RatePolicy is the shared token bucket's shape.
func (t Tuning) RatePolicy() ratelimit.Policy {
	return ratelimit.Policy{Rate: t.RateLimit, AgingStep: t.AgingStep}
}

// Apply sets c's retry policy, poll interval and deadline from t.
func (t Tuning) Apply(c Config) Config {
	c.Retry = generation.RetryPolicy{MaxAttempts: t.MaxAttempts, BackoffBase: t.BackoffBase}
	c.PollInterval = t.PollInterval
	c.Deadline = t.Deadline
	return c
}
