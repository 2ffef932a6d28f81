package generation

import "time"

// RetryPolicy is how often and how patiently a failed attempt is retried.
type RetryPolicy struct {
	MaxAttempts int           // attempts in all, the first included
	BackoffBase time.Duration // wait after the first failure; doubles after each
	MaxBackoff  time.Duration // cap on one wait; 0 means 15 minutes
}

// DefaultRetryPolicy is the seed's: 3 attempts, waiting 2 s then 4 s.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 3, BackoffBase: 2 * time.Second}
}

// Decision is what to do after an attempt failed.
type Decision struct {
	Retry bool
	Delay time.Duration
	// CountsAsAttempt is false for rate limits and Suno being unavailable.
	CountsAsAttempt bool
}

// Decide returns what to do after attempt number attempts failed with kind.
func (p RetryPolicy) Decide(attempts int, kind FailureKind) Decision {
	switch kind {
	case Permanent:
		return Decision{Retry: false, CountsAsAttempt: true}
	case RateLimited, Unavailable:
		// Neither is the song's fault: wait, without spending an attempt.
		return Decision{Retry: true, Delay: p.Backoff(1), CountsAsAttempt: false}
	}
	if attempts >= p.MaxAttempts {
		return Decision{Retry: false, CountsAsAttempt: true}
	}
	return Decision{Retry: true, Delay: p.Backoff(attempts), CountsAsAttempt: true}
}

// Backoff is the wait after the n-th failed attempt: base·2^(n-1).
func (p RetryPolicy) Backoff(n int) time.Duration {
	limit := p.MaxBackoff
	if limit <= 0 {
		limit = 15 * time.Minute
	}
	d := p.BackoffBase
	for i := 1; i < n; i++ {
		d *= 2
		if d >= limit {
			return limit
		}
	}
	return min(d, limit)
}
