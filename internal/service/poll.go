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
		if g, err = w.submitted(ctx, g, job.TaskID); err != nil && !isSettled(err) {
			return err
		}
		if err == nil {
			w.log.InfoContext(ctx, "task id recovered from the poll job", "generation", g.ID, "task", job.TaskID)
			// When it entered the queue is not known here: no queue wait.
			w.noteSubmitted(ctx, g, time.Time{})
			w.push.push(ctx, g)
		}
	}
	if !awaitsTask(g, job.TaskID) {
		return nil // finished, cancelled, superseded by a later attempt, or being saved
	}
	task, err := w.suno.Task(ctx, job.TaskID)
	if err != nil {
		if kind := generation.Classify(err); kind == generation.Permanent || errors.Is(err, generation.ErrUnknownTask) {
			// A task Suno does not know (any more) will not finish: the
			// attempt ends, transiently unless Suno refused for good.
			return w.attemptFailed(ctx, g, job.EnqueuedAt, err)
		}
		w.log.InfoContext(ctx, "poll failed, polling again", "generation", g.ID, "err", err)
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
