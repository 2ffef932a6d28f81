package service

import (
	"context"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/metrics"
)

// Failures the service itself decides.
var (
	// errWorkerDied ends an attempt whose claim lapsed before a submission
	// was recorded.
	errWorkerDied = &generation.Failure{Kind: generation.Transient, Code: generation.CodeWorkerStopped, Reason: generation.MessageFor(generation.CodeWorkerStopped)}
	// errTooSlow ends an attempt Suno did not finish by its deadline.
	errTooSlow = &generation.Failure{Kind: generation.Transient, Code: generation.CodeSunoTimeout, Reason: generation.MessageFor(generation.CodeSunoTimeout)}
)

// attemptFailed applies the retry policy to a failed attempt of g, in line
// since enqueuedAt: it saves the outcome, sends the next attempt's job,
// then pushes. A retry's deadline is when its job is due plus a claim's
// lease, so that if the worker dies before the job is sent, the sweeper
// requeues it soon.
func (f *flow) attemptFailed(ctx context.Context, g generation.Generation, enqueuedAt time.Time, cause error) error {
	kind := generation.Classify(cause)
	attempt, taskID := g.Attempts, g.TaskID
	var next Job
	var decision generation.Decision
	g, err := f.update(ctx, g, func(g *generation.Generation) error {
		if err := sameAttempt(g, attempt, taskID); err != nil {
			return err // the failure is of an attempt already over
		}
		decision = f.cfg.Retry.Decide(g.Attempts, kind)
		now := f.now()
		var err error
		switch {
		case !decision.Retry && kind == generation.Permanent:
			return g.FailWith(generation.CodeOf(cause), generation.MessageOf(cause), now)
		case !decision.Retry:
			return g.FailWith(generation.CodeAttemptsExhausted, exhaustedMessage(g.Attempts, generation.MessageOf(cause)), now)
		case !decision.CountsAsAttempt && g.TaskID != "":
			// A task Suno failed for its own trouble (maintenance,
			// credits): the attempt is given back.
			next = generateJob(*g, g.Attempts, enqueuedAt)
			if err = g.Retry(generation.MessageOf(cause), now, now.Add(decision.Delay)); err == nil {
				g.Attempts--
			}
		case !decision.CountsAsAttempt:
			next = generateJob(*g, g.Attempts, enqueuedAt)
			err = g.Defer(now, now.Add(decision.Delay))
		default:
			next = generateJob(*g, g.Attempts+1, enqueuedAt)
			err = g.Retry(generation.MessageOf(cause), now, now.Add(decision.Delay))
		}
		if err == nil {
			g.Deadline = now.Add(decision.Delay + f.cfg.ClaimLease)
		}
		return err
	})
	if err != nil {
		if isSettled(err) {
			return nil
		}
		return err
	}
	switch {
	case g.Status == generation.Failed:
		f.logStep(ctx, g, stepFailed, "reason", cause.Error(), "kind", kind.String())
		f.count(ctx, g, metrics.One(metrics.Failed))
	case !decision.CountsAsAttempt:
		f.logStep(ctx, g, stepWaiting, "reason", cause.Error(), "until", g.WaitUntil)
		f.count(ctx, g, metrics.One(metrics.RateLimitWaits))
	default:
		f.logStep(ctx, g, stepRetried, "reason", cause.Error(), "kind", kind.String(), "failedAttempt", attempt, "until", g.WaitUntil)
		f.count(ctx, g, metrics.One(metrics.Retried))
	}
	if g.Status == generation.Pending {
		if err := f.send(ctx, next, decision.Delay); err != nil {
			// The sweeper requeues it at its deadline; the message comes
			// back sooner and finds nothing to do.
			return err
		}
	}
	f.push.push(ctx, g)
	return nil
}
