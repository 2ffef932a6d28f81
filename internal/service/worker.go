package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// HandleJob runs one queue message. A nil error means the message is done
// and may be deleted, including when the job turned out to be a duplicate or
// was rescheduled. An error means the message should be delivered again
// later; after the queue's maximum receive count it goes to the dead-letter
// queue.
func (s *Service) HandleJob(ctx context.Context, job Job) error {
	if job.GenerationID == "" || !job.Tier.Valid() {
		// A message nobody can act on must not loop until the DLQ takes it;
		// but it must not vanish silently either, so fail it loudly.
		return fmt.Errorf("malformed job %+v", job)
	}
	if wait := job.NotBefore.Sub(s.now()); wait > 0 {
		return s.send(ctx, job, wait)
	}
	switch job.Kind {
	case JobGenerate:
		return s.generate(ctx, job)
	case JobPoll:
		return s.poll(ctx, job)
	}
	return fmt.Errorf("job kind %q is not known", job.Kind)
}

func (s *Service) send(ctx context.Context, job Job, delay time.Duration) error {
	if delay > 0 {
		job.NotBefore = s.now().Add(delay)
	} else {
		job.NotBefore = time.Time{}
	}
	if err := s.Queue.Send(ctx, job, delay); err != nil {
		return fmt.Errorf("enqueue %s job for %s: %w", job.Kind, job.GenerationID, err)
	}
	return nil
}

func (s *Service) generate(ctx context.Context, job Job) error {
	g, err := s.Store.Get(ctx, job.GenerationID)
	if errors.Is(err, ErrNotFound) {
		s.log.WarnContext(ctx, "job for unknown generation dropped", "generation", job.GenerationID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("load generation %s: %w", job.GenerationID, err)
	}
	now := s.now()
	if !g.Claimable(job.Attempt, now) {
		s.log.DebugContext(ctx, "duplicate or stale job dropped", "generation", g.ID, "attempt", job.Attempt, "status", g.Status)
		return nil
	}
	// Before the claim: a key that cannot be read is not the attempt's
	// fault, and the message comes back to try again.
	callbackURL, err := s.callbackURL(ctx, g.ID)
	if err != nil {
		return err
	}
	ok, retryAfter, err := s.takeToken(ctx, g.Tier, job.EnqueuedAt)
	if err != nil {
		return err
	}
	if !ok {
		return s.send(ctx, job, retryAfter)
	}
	g, err = s.update(ctx, g, func(g *generation.Generation) error {
		return g.Claim(job.Attempt, s.now(), s.cfg.ClaimLease)
	})
	if err != nil {
		if isSettled(err) {
			return nil // someone else claimed it, or it was cancelled
		}
		return err
	}
	s.push(ctx, g.UserID, progressEvent(g))

	taskID, err := s.Suno.Submit(ctx, g.Request, callbackURL)
	if err != nil {
		return s.attemptFailed(ctx, g, job, err)
	}
	g, err = s.update(ctx, g, func(g *generation.Generation) error {
		return g.Submitted(taskID, s.now(), s.cfg.Deadline)
	})
	if err != nil {
		if isSettled(err) {
			s.log.InfoContext(ctx, "generation settled while submitting", "generation", g.ID, "status", g.Status, "task", taskID)
			return nil
		}
		return err
	}
	s.push(ctx, g.UserID, progressEvent(g))
	return s.send(ctx, Job{Kind: JobPoll, GenerationID: g.ID, Tier: g.Tier, TaskID: taskID, EnqueuedAt: s.now()}, s.pollDelay(0))
}

// takeToken asks the rate limiter for a token, sitting out short waits in
// place. It returns false with the wait when the job should be re-queued.
func (s *Service) takeToken(ctx context.Context, tier generation.Tier, enqueuedAt time.Time) (bool, time.Duration, error) {
	deadline := s.now().Add(s.cfg.MaxInlineWait)
	for {
		ok, retryAfter, err := s.Limiter.Take(ctx, tier, s.now().Sub(enqueuedAt))
		if err != nil {
			return false, 0, fmt.Errorf("rate limiter: %w", err)
		}
		if ok || s.now().Add(retryAfter).After(deadline) {
			return ok, retryAfter, nil
		}
		t := time.NewTimer(retryAfter)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, 0, ctx.Err()
		case <-t.C:
		}
	}
}

// pollDelay is the wait before poll number polls+1 of a task.
func (s *Service) pollDelay(polls int) time.Duration {
	d := s.cfg.PollInterval
	for range min(polls, 2) {
		d *= 2
	}
	return d
}

// isSettled reports whether a failed update means the work is already done
// or no longer wanted: a no-op transition or one the lifecycle forbids.
func isSettled(err error) bool {
	var te *generation.TransitionError
	return errors.Is(err, generation.ErrNoChange) || errors.As(err, &te)
}

// attemptFailed applies the retry policy to a failed attempt of g.
func (s *Service) attemptFailed(ctx context.Context, g generation.Generation, job Job, cause error) error {
	kind := generation.Classify(cause)
	decision := s.cfg.Retry.Decide(g.Attempts, kind)
	s.log.InfoContext(ctx, "attempt failed", "generation", g.ID, "attempt", g.Attempts, "kind", kind, "retry", decision.Retry, "delay", decision.Delay, "err", cause)
	var next Job
	g, err := s.update(ctx, g, func(g *generation.Generation) error {
		switch {
		case !decision.Retry:
			return g.Fail(cause.Error(), s.now())
		case !decision.CountsAsAttempt:
			next = Job{Kind: JobGenerate, GenerationID: g.ID, Tier: g.Tier, Attempt: g.Attempts, EnqueuedAt: job.EnqueuedAt}
			return g.Defer(s.now())
		default:
			next = Job{Kind: JobGenerate, GenerationID: g.ID, Tier: g.Tier, Attempt: g.Attempts + 1, EnqueuedAt: job.EnqueuedAt}
			return g.Retry(cause.Error(), s.now())
		}
	})
	if err != nil {
		if isSettled(err) {
			return nil
		}
		return err
	}
	if g.Status == generation.Failed {
		s.push(ctx, g.UserID, errorEvent(g))
		return nil
	}
	s.push(ctx, g.UserID, progressEvent(g))
	return s.send(ctx, next, decision.Delay)
}

// poll asks Suno how a task is doing and applies the answer.
func (s *Service) poll(ctx context.Context, job Job) error {
	g, err := s.Store.Get(ctx, job.GenerationID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load generation %s: %w", job.GenerationID, err)
	}
	if g.Status != generation.Processing || g.TaskID != job.TaskID {
		return nil // finished, cancelled, or superseded by a later attempt
	}
	task, err := s.Suno.Record(ctx, job.TaskID)
	if err != nil {
		if generation.Classify(err) == generation.Permanent {
			return s.attemptFailed(ctx, g, Job{Kind: JobGenerate, EnqueuedAt: job.EnqueuedAt}, err)
		}
		s.log.InfoContext(ctx, "poll failed, polling again", "generation", g.ID, "err", err)
		job.Polls++
		return s.send(ctx, job, s.pollDelay(job.Polls))
	}
	g, err = s.applyTask(ctx, g, task, job.EnqueuedAt)
	if err != nil {
		return err
	}
	if g.Status != generation.Processing || g.TaskID != job.TaskID {
		return nil
	}
	if s.now().After(g.Deadline) {
		return s.attemptFailed(ctx, g, Job{Kind: JobGenerate, EnqueuedAt: job.EnqueuedAt},
			&generation.Failure{Kind: generation.Transient, Reason: "Suno did not finish the song in time"})
	}
	job.Polls++
	return s.send(ctx, job, s.pollDelay(job.Polls))
}

// applyTask moves g along to what Suno reports for its task. Both the poll
// and the callback come through here, so whichever arrives first does the
// work and the other finds nothing left to do.
func (s *Service) applyTask(ctx context.Context, g generation.Generation, task generation.TaskReport, enqueuedAt time.Time) (generation.Generation, error) {
	if task.Stage == generation.TaskFailed {
		return g, s.attemptFailed(ctx, g, Job{Kind: JobGenerate, EnqueuedAt: enqueuedAt}, taskFailure(task))
	}
	tracks := task.Tracks
	steps := []func(*generation.Generation) error{}
	if task.Stage == generation.TaskFirstReady || task.Stage == generation.TaskDone {
		steps = append(steps, func(g *generation.Generation) error { return g.FirstReady(tracks, s.now()) })
	}
	if task.Stage == generation.TaskDone {
		steps = append(steps,
			func(g *generation.Generation) error { return g.Saving(tracks, s.now()) },
			func(g *generation.Generation) error { return g.Complete(tracks, s.now()) })
	}
	for _, step := range steps {
		next, err := s.update(ctx, g, step)
		var te *generation.TransitionError
		switch {
		case errors.Is(err, generation.ErrNoChange):
			continue
		case errors.As(err, &te):
			return next, nil // cancelled or failed meanwhile
		case err != nil:
			return g, err
		}
		g = next
		s.push(ctx, g.UserID, EventFor(g))
	}
	return g, nil
}

// taskFailure is a failed task's reason, never nil.
func taskFailure(t generation.TaskReport) error {
	if t.Failure != nil {
		return t.Failure
	}
	return &generation.Failure{Kind: generation.Transient, Reason: "Suno reported task " + t.TaskID + " failed"}
}

// CallbackAuth is what a callback URL carries to prove it came from Suno.
type CallbackAuth struct {
	GenerationID string
	Signature    string
}

// HandleCallback applies what a Suno callback reports. It is idempotent: a
// callback for a stage already reached changes nothing.
func (s *Service) HandleCallback(ctx context.Context, auth CallbackAuth, report generation.TaskReport) error {
	if !validID(auth.GenerationID) {
		return &Error{Kind: KindNotFound, Code: "unknown_callback", Message: "the callback URL is not one this service issued"}
	}
	want, err := s.CallbackSignature(ctx, auth.GenerationID)
	if err != nil {
		return err // a 500: Suno tries the callback again
	}
	if !hmacEqual(auth.Signature, want) {
		return &Error{Kind: KindNotFound, Code: "unknown_callback", Message: "the callback URL is not one this service issued"}
	}
	if report.Stage == generation.TaskRunning {
		return nil // lyrics are ready: nothing the user sees, nothing to read
	}
	g, err := s.Store.Get(ctx, auth.GenerationID)
	if errors.Is(err, ErrNotFound) {
		return &Error{Kind: KindNotFound, Code: "unknown_callback", Message: "no such generation"}
	}
	if err != nil {
		return fmt.Errorf("load generation %s: %w", auth.GenerationID, err)
	}
	if g.Status != generation.Processing || g.TaskID != report.TaskID {
		// Early (task id not stored yet), late, or for an abandoned attempt:
		// the poll job covers the first case, the others need nothing.
		return nil
	}
	_, err = s.applyTask(ctx, g, report, g.CreatedAt)
	return err
}
