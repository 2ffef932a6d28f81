package service

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/health"
	"github.com/songqueue/songqueue/internal/metrics"
	"github.com/songqueue/songqueue/internal/ratelimit"
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
		// Nothing of a paused tier reaches Suno; the song is held with the
		// reason its owner reads (one write, the first time), and its job
		// looks again later.
		w.logStepAt(ctx, slog.LevelDebug, g, stepPaused)
		return w.hold(ctx, g, job, health.ReasonPaused, w.now().Add(w.cfg.PauseRecheck))
	}
	// Before the claim: a key that cannot be read is not the attempt's
	// fault, and the message comes back to try again.
	callbackURL, err := w.callbacks.urls(ctx)
	if err != nil {
		return err
	}
	if g.WaitReason != "" {
		reason, until, err := w.stillHeld(ctx, g)
		if err != nil {
			return err
		}
		if reason != "" {
			return w.hold(ctx, g, job, reason, until)
		}
	}
	c, err := w.pick(ctx, g, job)
	if err != nil {
		return err
	}
	switch {
	case c.reason != "":
		return w.hold(ctx, g, job, c.reason, c.until)
	case c.wait > 0:
		return w.waitForToken(ctx, g, job, c.wait)
	}
	acc, grant := c.acc, c.grant
	if !job.SuspectAt.IsZero() {
		// The attempt before failed in a way that may have been Suno's.
		// If the breaker has been closed since, Suno was fine for
		// everyone and the failure was the song's: it counts. If the
		// breaker opened and closed again meanwhile, it was Suno's.
		if grant.BreakerKnown && !grant.Breaker.Since.After(job.SuspectAt) {
			if g, err = w.spendSuspect(ctx, g); err != nil || g.Status != generation.Pending {
				if isSettled(err) {
					return nil
				}
				return err
			}
		}
		job.Attempt, job.SuspectAt = g.Attempts+1, time.Time{}
	}
	wasHeld := g.WaitReason
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
	if wasHeld != "" {
		w.logStep(ctx, g, stepReleased, "waitReason", wasHeld)
		w.count(ctx, g, metrics.One(metrics.Released))
	}
	w.push.push(ctx, g)

	// The URL is good for this attempt only, and until shortly after it
	// must have ended.
	taskID, err := acc.Suno.Submit(ctx, g.Request, callbackURL(g.ID, g.Attempts, callbackExpiry(w.cfg, w.now())))
	if err != nil {
		return w.submitFailed(ctx, acc, g, job, err)
	}
	if len(grant.Breaker.Failures) > 0 {
		// Suno accepted this one: the suspect failures before it were
		// the songs' own. Written only when there are some to clear.
		w.clearSuspects(ctx, acc, w.now())
	}
	// The poll job first: if this worker dies before the task id is saved,
	// the poll job saves it.
	if err := w.send(ctx, pollJob(g, taskID, acc.Name, w.now()), w.pollDelay(0)); err != nil {
		return err
	}
	g, err = w.submitted(ctx, g, taskID, acc.Name)
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
	w.cfg.Metrics.RecordAccount(ctx, g.Account, metrics.One(metrics.SunoSubmissions))
}

// waitForToken re-queues a job the rate limiter has no token for yet. Its
// generation stays as it is: ready and in line, which the statistics count
// as waiting, as BullMQ counts a rate-limited job. Marking it delayed would
// cost a write at every re-queue, on the very path that is short of
// capacity.
//
// Under a backlog deeper than the limit, the limiter's wait is only until
// the next token, which the songs ahead will take: a job sent back for
// that long would come back, be turned away and be sent back again every
// second, so that the whole backlog circulated through the queue (a
// receive, a send and a delete per song per second: most of a flooded
// stack's CPU, and in AWS the SQS bill). So a job turned away again waits
// longer each time, doubling from the limiter's wait, up to half the time
// its place in line says its turn is away (at most maxTokenWait): a job
// far back asks again a few times, not every second. The first wait is
// the limiter's, so that a job its place puts too far back (a quiet user
// whom an SQS fair queue serves before another's backlog of the same
// tier) is not held back by it.
func (w *Worker) waitForToken(ctx context.Context, g generation.Generation, job Job, wait time.Duration) error {
	if job.Waits > 0 {
		if places, err := w.line.places(ctx, g); err == nil {
			if p, ok := places[g.ID]; ok && p.EstimatedStart != nil {
				// Half the time until its turn, which is the estimate less
				// the queue's own lag: a job at the front that slept half
				// of that lag would leave the tokens it was due unused.
				backoff := wait << min(job.Waits, 16)
				turn := p.EstimatedStart.Sub(w.now()) - queueLag
				wait = max(wait, min(turn/2, backoff, maxTokenWait))
			}
		}
	}
	job.Waits++
	w.count(ctx, g, metrics.One(metrics.RateLimitWaits))
	w.logStepAt(ctx, slog.LevelDebug, g, stepWaiting, "reason", "rate limiter", "for", wait)
	return w.send(ctx, job, wait)
}

// maxTokenWait bounds how long a job the limiter turned away waits before
// it asks again, so that a line that empties faster than it was placed
// (songs cancelled, an account added) is not left idle for long.
const maxTokenWait = 2 * time.Minute

// takeToken asks acc's rate limiter for a token, sitting out short waits
// in place when inline (one account: with several, another may have a
// token now). It returns a grant that is not OK, with the wait, when the
// job should be re-queued.
//
// Workers that wait for the same token all wake when it is due, and the
// first to ask gets it; left to the timers, that is whoever began waiting
// first, so one user's backlog would take every token while another user
// of the tier waits behind it. A user this process has just served
// therefore wakes a little later (fairYield): another user's job asks
// first. And it does not hold a worker to wait at all: its job goes back
// to the queue, so the worker takes the next message, another user's
// perhaps (an SQS fair queue delivers those first).
func (w *Worker) takeToken(ctx context.Context, acc SunoAccount, tier generation.Tier, userID string, enqueuedAt time.Time, inline bool) (Grant, error) {
	deadline := w.now().Add(w.cfg.MaxInlineWait)
	if !inline || w.served.yield(userID, w.now()) > 0 {
		deadline = w.now()
	}
	for {
		ask := ratelimit.Ask{Tier: tier, Waited: w.now().Sub(enqueuedAt), Idle: w.line.idle(ctx, false)}
		grant, err := acc.Account.Take(ctx, ask)
		if err == nil && !grant.OK {
			// Turned away, perhaps only for a tier above that has run out
			// of songs: ask again if the counts say so.
			if idle := w.line.idle(ctx, true); idle != ask.Idle {
				ask.Idle = idle
				grant, err = acc.Account.Take(ctx, ask)
			}
		}
		if err != nil {
			return Grant{}, fmt.Errorf("rate limiter: %w", err)
		}
		if grant.OK {
			w.served.note(userID, w.now())
		}
		if grant.OK || w.now().Add(grant.RetryAfter).After(deadline) {
			return grant, nil
		}
		t := time.NewTimer(grant.RetryAfter + w.served.yield(userID, w.now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return Grant{}, ctx.Err()
		case <-t.C:
		}
	}
}

// submitFailed decides whose a failed submission is. Suno-wide trouble
// opens (or feeds) the breaker and the song waits, spending nothing; a
// suspect failure while the breaker stays closed waits for the verdict
// (suspectFailed); anything else is the song's, by the retry policy.
func (w *Worker) submitFailed(ctx context.Context, acc SunoAccount, g generation.Generation, job Job, cause error) error {
	if o, ok := generation.OutageOf(cause); ok {
		b, open, err := w.sunoTrouble(ctx, acc, g.ID, o, cause)
		if err != nil {
			// The breaker could not be written; the song is still not
			// to pay for Suno's trouble: a certain outage holds it, a
			// suspect failure waits for its verdict.
			w.log.WarnContext(ctx, "Suno's trouble not recorded in its breaker", "account", acc.Name, "err", err)
			b, open = health.Breaker{Outage: o}, o.Certain()
		}
		if open && len(w.accounts.list) > 1 {
			// Another account may take it: the attempt is given back, and
			// the job goes again at once.
			return w.hold(ctx, g, job, b.WaitReason(), w.now().Add(time.Second))
		}
		if open {
			return w.hold(ctx, g, job, b.WaitReason(), w.recheck(w.now(), b.NextProbe))
		}
		if !o.Certain() {
			return w.suspectFailed(ctx, g, job, cause)
		}
	}
	return w.attemptFailed(ctx, g, job.EnqueuedAt, cause)
}

// suspectFailed handles a server error or an unreachable Suno while the
// breaker is closed: one such answer may be the song's or the start of an
// outage, and only the next moments tell. So the attempt is not counted
// yet: the job waits out the backoff and comes back marked Suspect. If the
// breaker has opened meanwhile, the song is held and the failure never
// counts; if Suno is fine, it counts then (spendSuspect), and the song
// goes on as a retry would have.
func (w *Worker) suspectFailed(ctx context.Context, g generation.Generation, job Job, cause error) error {
	attempt := g.Attempts
	delay := max(w.cfg.Retry.Backoff(attempt), w.cfg.Health.Verdict)
	next, err := w.update(ctx, g, func(g *generation.Generation) error {
		if err := sameAttempt(g, attempt, ""); err != nil {
			return err
		}
		now := w.now()
		if err := g.Defer(now, now.Add(delay)); err != nil {
			return err
		}
		g.Error = generation.MessageOf(cause)
		g.Message = "Retrying after a temporary error"
		g.Deadline = now.Add(delay + w.cfg.ClaimLease)
		return nil
	})
	if err != nil {
		if isSettled(err) {
			return nil
		}
		return err
	}
	w.logStep(ctx, next, stepSuspect, "reason", cause.Error(), "until", next.WaitUntil)
	job.Attempt, job.SuspectAt = next.Attempts+1, w.now()
	if err := w.send(ctx, job, delay); err != nil {
		return err
	}
	w.push.push(ctx, next)
	return nil
}

// spendSuspect counts the suspect failure of g's last attempt: it was the
// song's. After the last attempt the song fails.
func (w *Worker) spendSuspect(ctx context.Context, g generation.Generation) (generation.Generation, error) {
	exhausted := g.Attempts+1 >= w.cfg.Retry.MaxAttempts
	next, err := w.update(ctx, g, func(g *generation.Generation) error {
		if exhausted {
			g.Attempts++
			return g.FailWith(generation.CodeAttemptsExhausted, exhaustedMessage(g.Attempts, g.Error), w.now())
		}
		return g.Spend(g.Error, w.now())
	})
	if err != nil {
		return next, err
	}
	if exhausted {
		w.logStep(ctx, next, stepFailed, "reason", next.Error, "kind", "transient")
		w.count(ctx, next, metrics.One(metrics.Failed))
		w.push.push(ctx, next)
		return next, nil
	}
	w.logStep(ctx, next, stepRetried, "reason", next.Error, "failedAttempt", next.Attempts)
	w.count(ctx, next, metrics.One(metrics.Retried))
	return next, nil
}

// exhaustedMessage says a song failed after attempts tries, the last of
// them for last (a plain message).
func exhaustedMessage(attempts int, last string) string {
	if last == "" {
		last = generation.MessageFor(generation.CodeSunoError)
	}
	return fmt.Sprintf("Suno could not make the song after %d tries: %s", attempts, last)
}
