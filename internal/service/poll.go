package service

import (
	"context"
	"errors"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// poll asks Suno how a task is doing and applies the answer: the safety
// net under Suno's callbacks.
func (w *Worker) poll(ctx context.Context, job Job) error {
	g, found, err := w.load(ctx, job.GenerationID)
	if err != nil || !found {
		return err
	}
	if g.Status == generation.Processing && g.TaskID == "" && job.Attempt != 0 && job.Attempt == g.Attempts {
		// The worker that submitted died before saving the task id: this
		// job carries it.
		if g, err = w.submitted(ctx, g, job.TaskID, job.Account); err != nil && !isSettled(err) {
			return err
		}
		if err == nil {
			w.log.InfoContext(ctx, "task id recovered from the poll job", "generation", g.ID, "task", job.TaskID)
			// When it entered the queue is not known here: no queue wait.
			w.noteSubmitted(ctx, g, time.Time{})
			w.push.push(ctx, g)
		}
	}
	if w.archiving() && redelivered(ctx) && g.Status == generation.Processing && g.TaskID == job.TaskID && g.Progress == generation.ProgressSaving {
		// An earlier run of this job moved the song to saving and failed
		// before its archive job was sent: send it now, rather than
		// leaving it to the sweeper. A copy sent twice is harmless.
		return w.send(ctx, archiveJob(g), 0)
	}
	if !awaitsTask(g, job.TaskID) {
		return nil // finished, cancelled, superseded by a later attempt, or being saved
	}
	task, err := w.accounts.of(g.Account).Suno.Task(ctx, job.TaskID)
	if err != nil {
		if kind := generation.Classify(err); kind == generation.Permanent || errors.Is(err, generation.ErrUnknownTask) {
			// A task Suno does not know (any more) will not finish: the
			// attempt ends, transiently unless Suno refused for good.
			return w.attemptFailed(ctx, g, job.EnqueuedAt, err)
		}
		// Suno's trouble, not the song's: poll again, and keep the
		// attempt's deadline from running out while Suno is down.
		w.log.InfoContext(ctx, "poll failed, polling again", "generation", g.ID, "err", err)
		if err := w.extendDeadline(ctx, g); err != nil {
			return err
		}
		return w.pollAgain(ctx, job)
	}
	g, err = w.applyTask(ctx, g, task, job.EnqueuedAt)
	if err != nil {
		return err
	}
	if !awaitsTask(g, job.TaskID) {
		return nil
	}
	if w.now().After(g.Deadline) {
		return w.attemptFailed(ctx, g, job.EnqueuedAt, errTooSlow)
	}
	return w.pollAgain(ctx, job)
}

// awaitsTask reports whether g is still waiting for Suno to finish taskID.
func awaitsTask(g generation.Generation, taskID string) bool {
	return g.Status == generation.Processing && g.TaskID == taskID && g.Progress < generation.ProgressSaving
}

func (w *Worker) pollAgain(ctx context.Context, job Job) error {
	job.Polls++
	return w.send(ctx, job, w.pollDelay(job.Polls))
}

// extendDeadline moves the deadline of g's attempt on while Suno cannot be
// asked about it: Suno's outage does not count against Suno's time for the
// song. It writes only when the deadline is near.
func (f *flow) extendDeadline(ctx context.Context, g generation.Generation) error {
	now := f.now()
	if g.Deadline.After(now.Add(f.pollDelay(2) * 2)) {
		return nil
	}
	taskID := g.TaskID
	_, err := f.update(ctx, g, func(g *generation.Generation) error {
		if g.Status != generation.Processing || g.TaskID != taskID {
			return generation.ErrNoChange
		}
		g.Deadline = now.Add(f.pollDelay(2) * 4)
		return nil
	})
	if err != nil && !isSettled(err) {
		return err
	}
	return nil
}
