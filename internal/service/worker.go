package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/metrics"
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
	case JobArchive:
		return s.archive(ctx, job)
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

// generate runs one attempt: claim, submit, hand over to the poll job.
// Its writes, sends and pushes are ordered so that a worker dying between
// any two of them leaves something that acts again: the job's message
// (deleted only once this returns), the poll job sent before the task id is
// saved (it carries the task id and adopts it), or a record whose deadline
// brings the sweeper soon (the claim's lease).
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
	switch {
	case g.Claimable(job.Attempt):
	case g.ClaimHeld(job.Attempt, now):
		// Another delivery of this job holds the claim. Come back when its
		// lease ends: by then it has submitted (and this copy is dropped),
		// or it has died (and this copy ends the attempt).
		s.log.InfoContext(ctx, "attempt claimed by another worker; checking again when its lease ends", "generation", g.ID, "attempt", job.Attempt)
		return s.send(ctx, job, g.LeaseUntil.Sub(now)+time.Second)
	case g.ClaimLapsed(job.Attempt, now):
		return s.attemptFailed(ctx, g, job, errWorkerDied)
	default:
		s.log.DebugContext(ctx, "duplicate or stale job dropped", "generation", g.ID, "attempt", job.Attempt, "status", g.Status)
		return nil
	}
	if paused, err := s.paused(ctx, g.Tier); err != nil || paused {
		if err != nil {
			return err
		}
		// Nothing of a paused tier reaches Suno; the job keeps its place
		// in the queue and looks again later.
		s.logStepAt(ctx, slog.LevelDebug, g, stepPaused)
		return s.send(ctx, job, s.cfg.PauseRecheck)
	}
	// Before the claim: a key that cannot be read is not the attempt's
	// fault, and the message comes back to try again.
	callbackURL, err := s.callbackURL(ctx, g.ID)
	if err != nil {
		return err
	}
	ok, retryAfter, err := s.takeToken(ctx, g.Tier, g.UserID, job.EnqueuedAt)
	if err != nil {
		return err
	}
	if !ok {
		return s.waitForToken(ctx, g, job, retryAfter)
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
	s.logStep(ctx, g, stepClaimed)
	s.push(ctx, g)

	taskID, err := s.Suno.Submit(ctx, g.Request, callbackURL)
	if err != nil {
		return s.attemptFailed(ctx, g, job, err)
	}
	// The poll job first: if this worker dies before the task id is saved,
	// the poll job saves it.
	poll := Job{Kind: JobPoll, GenerationID: g.ID, Tier: g.Tier, UserID: g.UserID, Attempt: g.Attempts, TaskID: taskID, EnqueuedAt: s.now()}
	if err := s.send(ctx, poll, s.pollDelay(0)); err != nil {
		return err
	}
	g, err = s.submitted(ctx, g, taskID)
	if err != nil {
		if isSettled(err) {
			s.log.InfoContext(ctx, "generation settled while submitting", "generation", g.ID, "status", g.Status, "task", taskID)
			return nil
		}
		return err
	}
	s.noteSubmitted(ctx, g, job)
	s.push(ctx, g)
	return nil
}

// noteSubmitted logs and counts a submission. The queue wait is the first
// attempt's: from the create (or an operator's retry) to Suno.
func (s *Service) noteSubmitted(ctx context.Context, g generation.Generation, job Job) {
	s.logStep(ctx, g, stepSubmitted, "taskId", g.TaskID)
	samples := []metrics.Sample{metrics.One(metrics.Submitted)}
	if g.Attempts == 1 && !job.EnqueuedAt.IsZero() {
		samples = append(samples, metrics.Sample{Name: metrics.QueueWait, Value: g.SubmittedAt.Sub(job.EnqueuedAt).Seconds()})
	}
	s.record(ctx, g, samples...)
}

// waitForToken re-queues a job the rate limiter has no token for yet. Its
// generation stays as it is: ready and in line, which the statistics count
// as waiting, as BullMQ counts a rate-limited job. Marking it delayed would
// cost a write at every re-queue, which under a backlog is every job about
// once a second, on the very path that is short of capacity.
func (s *Service) waitForToken(ctx context.Context, g generation.Generation, job Job, wait time.Duration) error {
	s.record(ctx, g, metrics.One(metrics.RateLimitWaits))
	s.logStepAt(ctx, slog.LevelDebug, g, stepWaiting, "reason", "rate limiter", "for", wait)
	return s.send(ctx, job, wait)
}

// paused reports whether operators have paused tier.
func (s *Service) paused(ctx context.Context, tier generation.Tier) (bool, error) {
	if s.Controls == nil {
		return false, nil
	}
	p, err := s.Controls.Paused(ctx)
	if err != nil {
		return false, fmt.Errorf("read paused tiers: %w", err)
	}
	return p[tier], nil
}

// errWorkerDied ends an attempt whose claim lapsed before a submission was
// recorded.
var errWorkerDied = &generation.Failure{Kind: generation.Transient, Reason: "the worker stopped before submitting to Suno"}

func (s *Service) submitted(ctx context.Context, g generation.Generation, taskID string) (generation.Generation, error) {
	return s.update(ctx, g, func(g *generation.Generation) error {
		return g.Submitted(taskID, s.now(), s.cfg.Deadline)
	})
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
func (s *Service) takeToken(ctx context.Context, tier generation.Tier, userID string, enqueuedAt time.Time) (bool, time.Duration, error) {
	deadline := s.now().Add(s.cfg.MaxInlineWait)
	if s.served.yield(userID, s.now()) > 0 {
		deadline = s.now()
	}
	for {
		ok, retryAfter, err := s.Limiter.Take(ctx, tier, s.now().Sub(enqueuedAt))
		if err != nil {
			return false, 0, fmt.Errorf("rate limiter: %w", err)
		}
		if ok {
			s.served.note(userID, s.now())
		}
		if ok || s.now().Add(retryAfter).After(deadline) {
			return ok, retryAfter, nil
		}
		t := time.NewTimer(retryAfter + s.served.yield(userID, s.now()))
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

// attemptFailed applies the retry policy to a failed attempt of g: it
// saves the outcome, sends the next attempt's job, then pushes. A retry's
// deadline is when its job is due plus a claim's lease, so that if the
// worker dies before the job is sent, the sweeper requeues it soon.
func (s *Service) attemptFailed(ctx context.Context, g generation.Generation, job Job, cause error) error {
	kind := generation.Classify(cause)
	attempt, taskID := g.Attempts, g.TaskID
	var next Job
	var decision generation.Decision
	g, err := s.update(ctx, g, func(g *generation.Generation) error {
		if err := sameAttempt(g, attempt, taskID); err != nil {
			return err // the failure is of an attempt already over
		}
		decision = s.cfg.Retry.Decide(g.Attempts, kind)
		now := s.now()
		var err error
		switch {
		case !decision.Retry:
			return g.Fail(cause.Error(), now)
		case !decision.CountsAsAttempt:
			next = Job{Kind: JobGenerate, GenerationID: g.ID, Tier: g.Tier, UserID: g.UserID, Attempt: g.Attempts, EnqueuedAt: job.EnqueuedAt}
			err = g.Defer(now, now.Add(decision.Delay))
		default:
			next = Job{Kind: JobGenerate, GenerationID: g.ID, Tier: g.Tier, UserID: g.UserID, Attempt: g.Attempts + 1, EnqueuedAt: job.EnqueuedAt}
			err = g.Retry(cause.Error(), now, now.Add(decision.Delay))
		}
		if err == nil {
			g.Deadline = now.Add(decision.Delay + s.cfg.ClaimLease)
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
		s.logStep(ctx, g, stepFailed, "reason", cause.Error(), "kind", kind.String())
		s.record(ctx, g, metrics.One(metrics.Failed))
	case !decision.CountsAsAttempt:
		s.logStep(ctx, g, stepWaiting, "reason", cause.Error(), "until", g.WaitUntil)
		s.record(ctx, g, metrics.One(metrics.RateLimitWaits))
	default:
		s.logStep(ctx, g, stepRetried, "reason", cause.Error(), "kind", kind.String(), "failedAttempt", attempt, "until", g.WaitUntil)
		s.record(ctx, g, metrics.One(metrics.Retried))
	}
	if g.Status == generation.Pending {
		if err := s.send(ctx, next, decision.Delay); err != nil {
			// The sweeper requeues it at its deadline; the message comes
			// back sooner and finds nothing to do.
			return err
		}
	}
	s.push(ctx, g)
	return nil
}

// sameAttempt is ErrNoChange unless g is still processing the attempt (and
// Suno task) a stage was decided for: a change re-applied after a
// concurrent write must not land on the next attempt.
func sameAttempt(g *generation.Generation, attempt int, taskID string) error {
	if g.Status != generation.Processing || g.Attempts != attempt || g.TaskID != taskID {
		if g.Status.Terminal() {
			return &generation.TransitionError{From: g.Status, To: generation.Processing}
		}
		return generation.ErrNoChange
	}
	return nil
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
	if g.Status == generation.Processing && g.TaskID == "" && job.Attempt != 0 && job.Attempt == g.Attempts {
		// The worker that submitted died before saving the task id: this
		// job carries it.
		if g, err = s.submitted(ctx, g, job.TaskID); err != nil && !isSettled(err) {
			return err
		}
		if err == nil {
			s.log.InfoContext(ctx, "task id recovered from the poll job", "generation", g.ID, "task", job.TaskID)
			s.noteSubmitted(ctx, g, Job{})
			s.push(ctx, g)
		}
	}
	if g.Status != generation.Processing || g.TaskID != job.TaskID || g.Progress >= generation.ProgressSaving {
		return nil // finished, cancelled, superseded by a later attempt, or being saved
	}
	task, err := s.Suno.Record(ctx, job.TaskID)
	if err != nil {
		if kind := generation.Classify(err); kind == generation.Permanent || errors.Is(err, generation.ErrUnknownTask) {
			// A task Suno does not know (any more) will not finish: the
			// attempt ends, transiently unless Suno refused for good.
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
	if g.Status != generation.Processing || g.TaskID != job.TaskID || g.Progress >= generation.ProgressSaving {
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
	if err := s.checkTracks(task.Tracks); err != nil {
		s.log.WarnContext(ctx, "track data refused", "generation", g.ID, "task", task.TaskID, "err", err)
		return g, s.attemptFailed(ctx, g, Job{Kind: JobGenerate, EnqueuedAt: enqueuedAt},
			&generation.Failure{Kind: generation.Transient, Reason: "Suno returned track data the service cannot accept: " + err.Error()})
	}
	tracks := task.Tracks
	type step struct {
		name  string
		apply func(*generation.Generation) error
	}
	var steps []step
	if task.Stage == generation.TaskFirstReady || task.Stage == generation.TaskDone {
		steps = append(steps, step{stepFirstReady, func(g *generation.Generation) error { return g.FirstReady(tracks, s.now()) }})
	}
	if task.Stage == generation.TaskDone {
		steps = append(steps, step{stepSaving, func(g *generation.Generation) error {
			if err := g.Saving(tracks, s.now()); err != nil {
				return err
			}
			if s.archiving() {
				// If the archive job below is lost, the sweeper sends it again.
				g.Deadline = s.now().Add(s.cfg.ArchiveDeadline)
			}
			return nil
		}})
		if !s.archiving() {
			steps = append(steps, step{stepCompleted, func(g *generation.Generation) error { return g.Complete(tracks, s.now()) }})
		}
	}
	attempt := g.Attempts
	for _, st := range steps {
		next, err := s.update(ctx, g, func(g *generation.Generation) error {
			if err := sameAttempt(g, attempt, task.TaskID); err != nil {
				return err
			}
			return st.apply(g)
		})
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
		s.logStep(ctx, g, st.name, "taskId", task.TaskID)
		switch st.name {
		case stepSaving:
			// Suno's part ends here; the copies are the stack's.
			if !g.SubmittedAt.IsZero() {
				s.record(ctx, g, metrics.Sample{Name: metrics.SunoTime, Value: g.UpdatedAt.Sub(g.SubmittedAt).Seconds()})
			}
		case stepCompleted:
			s.record(ctx, g, metrics.One(metrics.Completed))
		}
		s.push(ctx, g)
		if st.name == stepSaving && s.archiving() {
			// Only the path whose write moved the generation to saving
			// sends the copy; a poll or callback that comes second finds
			// nothing left to do.
			if err := s.sendArchive(ctx, g); err != nil {
				return g, err
			}
		}
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

// HandleCallback acts on a Suno callback. A callback is a hint, not the
// truth: anyone who learns a callback URL could send one, so what is stored
// comes from Suno's record-info for the task, which the callback only
// prompts; a forged callback costs at most that one look-up. When Suno
// cannot be asked at once, a poll job asks soon, and Suno gets its answer
// in time whatever happens. It is idempotent: a callback for a stage
// already reached changes nothing.
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
	lookCtx, cancel := context.WithTimeout(ctx, callbackLookup)
	task, err := s.Suno.Record(lookCtx, report.TaskID)
	cancel()
	if err != nil {
		s.log.WarnContext(ctx, "callback not confirmed yet; polling", "generation", g.ID, "task", report.TaskID, "err", err)
		return s.send(ctx, Job{Kind: JobPoll, GenerationID: g.ID, Tier: g.Tier, UserID: g.UserID, Attempt: g.Attempts, TaskID: g.TaskID, EnqueuedAt: g.CreatedAt}, 0)
	}
	_, err = s.applyTask(ctx, g, task, g.CreatedAt)
	return err
}

// callbackLookup bounds the record-info a callback makes, well inside the
// 15 s Suno waits for the callback's answer.
const callbackLookup = 5 * time.Second
