package service

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/metrics"
)

// generate runs one attempt: claim, submit, hand over to the poll job.
// Its writes, sends and pushes are ordered so that a worker dying between
// any two of them leaves something that acts again: the job's message
// (deleted only once this returns), the poll job sent before the task id is
// saved (it carries the task id and adopts it), or a record whose deadline
// brings the sweeper soon (the claim's lease).
func (w *Worker) generate(ctx context.Context, job Job) error {
	g, found, err := w.load(ctx, job.GenerationID)
	if err != nil {
		return err
	}
	if !found {
		w.log.WarnContext(ctx, "job for unknown generation dropped", "generation", job.GenerationID)
		return nil
	}
	now := w.now()
	switch {
	case g.Claimable(job.Attempt):
	case g.ClaimHeld(job.Attempt, now):
		// Another delivery of this job holds the claim. Come back when its
		// lease ends: by then it has submitted (and this copy is dropped),
		// or it has died (and this copy ends the attempt).
		w.log.InfoContext(ctx, "attempt claimed by another worker; checking again when its lease ends", "generation", g.ID, "attempt", job.Attempt)
		return w.send(ctx, job, g.LeaseUntil.Sub(now)+time.Second)
	case g.ClaimLapsed(job.Attempt, now):
		return w.attemptFailed(ctx, g, job.EnqueuedAt, errWorkerDied)
	default:
		w.log.DebugContext(ctx, "duplicate or stale job dropped", "generation", g.ID, "attempt", job.Attempt, "status", g.Status)
		return nil
	}
	paused, err := w.controls.Paused(ctx)
	if err != nil {
		return fmt.Errorf("read paused tiers: %w", err)
	}
	if paused[g.Tier] {
		// Nothing of a paused tier reaches Suno; the job keeps its place
		// in the queue and looks again later.
		w.logStepAt(ctx, slog.LevelDebug, g, stepPaused)
		return w.send(ctx, job, w.cfg.PauseRecheck)
	}
	// Before the claim: a key that cannot be read is not the attempt's
	// fault, and the message comes back to try again.
	callbackURL, err := w.callbacks.url(ctx, g.ID)
	if err != nil {
		return err
	}
	ok, retryAfter, err := w.takeToken(ctx, g.Tier, g.UserID, job.EnqueuedAt)
	if err != nil {
		return err
	}
	if !ok {
		return w.waitForToken(ctx, g, job, retryAfter)
	}
	g, err = w.update(ctx, g, func(g *generation.Generation) error {
		return g.Claim(job.Attempt, w.now(), w.cfg.ClaimLease)
	})
	if err != nil {
		if isSettled(err) {
			return nil // someone else claimed it, or it was cancelled
		}
		return err
	}
	w.logStep(ctx, g, stepClaimed)
	w.push.push(ctx, g)

	taskID, err := w.suno.Submit(ctx, g.Request, callbackURL)
	if err != nil {
		return w.attemptFailed(ctx, g, job.EnqueuedAt, err)
	}
	// The poll job first: if this worker dies before the task id is saved,
	// the poll job saves it.
	if err := w.send(ctx, pollJob(g, taskID, w.now()), w.pollDelay(0)); err != nil {
		return err
	}
	g, err = w.submitted(ctx, g, taskID)
	if err != nil {
		if isSettled(err) {
			w.log.InfoContext(ctx, "generation settled while submitting", "generation", g.ID, "status", g.Status, "task", taskID)
			return nil
		}
		return err
	}
	w.noteSubmitted(ctx, g, job.EnqueuedAt)
	w.push.push(ctx, g)
	return nil
}

// noteSubmitted logs and counts a submission. The queue wait is the first
// attempt's: from the create (or an operator's retry) to Suno; zero
// enqueuedAt means it is not known.
func (w *Worker) noteSubmitted(ctx context.Context, g generation.Generation, enqueuedAt time.Time) {
	w.logStep(ctx, g, stepSubmitted, "taskId", g.TaskID)
	samples := []metrics.Sample{metrics.One(metrics.Submitted)}
	if g.Attempts == 1 && !enqueuedAt.IsZero() {
		samples = append(samples, metrics.Sample{Name: metrics.QueueWait, Value: g.SubmittedAt.Sub(enqueuedAt).Seconds()})
	}
	w.count(ctx, g, samples...)
}

// waitForToken re-queues a job the rate limiter has no token for yet. Its
// generation stays as it is: ready and in line, which the statistics count
// as waiting, as BullMQ counts a rate-limited job. Marking it delayed would
// cost a write at every re-queue, which under a backlog is every job about
// once a second, on the very path that is short of capacity.
func (w *Worker) waitForToken(ctx context.Context, g generation.Generation, job Job, wait time.Duration) error {
	w.count(ctx, g, metrics.One(metrics.RateLimitWaits))
	w.logStepAt(ctx, slog.LevelDebug, g, stepWaiting, "reason", "rate limiter", "for", wait)
	return w.send(ctx, job, wait)
}

// takeToken asks the rate limiter for a token, sitting out short waits in
// place. It returns false with the wait when the job should be re-queued.
//
// Workers that wait for the same token all wake when it is due, and the
// first to ask gets it; left to the timers, that is whoever began waiting
// first, so one user's backlog would take every token while another user
// of the tier waits behind it. A user this process has just served
// therefore wakes a little later (fairYield): another user's job asks
// first. And it does not hold a worker to wait at all: its job goes back
// to the queue, so the worker takes the next message, another user's
// perhaps (an SQS fair queue delivers those first).
func (w *Worker) takeToken(ctx context.Context, tier generation.Tier, userID string, enqueuedAt time.Time) (bool, time.Duration, error) {
	deadline := w.now().Add(w.cfg.MaxInlineWait)
	if w.served.yield(userID, w.now()) > 0 {
		deadline = w.now()
	}
	for {
		grant, err := w.limiter.Take(ctx, tier, w.now().Sub(enqueuedAt))
		if err != nil {
			return false, 0, fmt.Errorf("rate limiter: %w", err)
		}
		ok, retryAfter := grant.OK, grant.RetryAfter
		if ok {
			w.served.note(userID, w.now())
		}
		if ok || w.now().Add(retryAfter).After(deadline) {
			return ok, retryAfter, nil
		}
		t := time.NewTimer(retryAfter + w.served.yield(userID, w.now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return false, 0, ctx.Err()
		case <-t.C:
		}
	}
}
