package service

import (
	"context"
	"errors"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/metrics"
)

// applyTask moves g along to what Suno reports for its task. The poll, the
// callback and the sweeper all come through here, so whichever arrives
// first does the work and the others find nothing left to do.
func (f *flow) applyTask(ctx context.Context, g generation.Generation, task generation.TaskReport, enqueuedAt time.Time) (generation.Generation, error) {
	if task.Stage == generation.TaskFailed {
		return g, f.attemptFailed(ctx, g, enqueuedAt, taskFailure(task))
	}
	if err := checkTracks(task.Tracks, f.cfg.MediaHosts); err != nil {
		f.log.WarnContext(ctx, "track data refused", "generation", g.ID, "task", task.TaskID, "err", err)
		return g, f.attemptFailed(ctx, g, enqueuedAt,
			&generation.Failure{Kind: generation.Transient, Code: generation.CodeInvalidTracks, Reason: generation.MessageFor(generation.CodeInvalidTracks), Detail: err.Error()})
	}
	tracks := task.Tracks
	type step struct {
		name  string
		apply func(*generation.Generation) error
	}
	var steps []step
	if task.Stage == generation.TaskFirstReady || task.Stage == generation.TaskDone {
		steps = append(steps, step{stepFirstReady, func(g *generation.Generation) error { return g.FirstReady(tracks, f.now()) }})
	}
	if task.Stage == generation.TaskDone {
		steps = append(steps, step{stepSaving, func(g *generation.Generation) error {
			if err := g.Saving(tracks, f.now()); err != nil {
				return err
			}
			if f.archiving() {
				// If the archive job below is lost, the sweeper sends it again.
				g.Deadline = f.now().Add(f.cfg.ArchiveDeadline)
			}
			return nil
		}})
	}
	attempt := g.Attempts
	for _, st := range steps {
		next, err := f.update(ctx, g, func(g *generation.Generation) error {
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
		f.logStep(ctx, g, st.name, "taskId", task.TaskID)
		if st.name == stepSaving && !g.SubmittedAt.IsZero() {
			// Suno's part ends here; the copies are the stack's.
			f.count(ctx, g, metrics.Sample{Name: metrics.SunoTime, Value: g.UpdatedAt.Sub(g.SubmittedAt).Seconds()})
		}
		f.push.push(ctx, g)
		if st.name == stepSaving && f.archiving() {
			// Only the path whose write moved the generation to saving
			// sends the copy; a poll or callback that comes second finds
			// nothing left to do.
			if err := f.send(ctx, archiveJob(g), 0); err != nil {
				return g, err
			}
		}
	}
	if task.Stage != generation.TaskDone || f.archiving() || g.Status != generation.Processing || g.TaskID != task.TaskID {
		return g, nil
	}
	next, err := f.complete(ctx, g, completion{taskID: task.TaskID, tracks: tracks})
	if err != nil && !isSettled(err) {
		return g, err
	}
	if err != nil {
		return g, nil
	}
	return next, nil
}

// taskFailure is a failed task's reason, never nil.
func taskFailure(t generation.TaskReport) error {
	if t.Failure != nil {
		return t.Failure
	}
	return &generation.Failure{Kind: generation.Transient, Code: generation.CodeSunoError, Reason: generation.MessageFor(generation.CodeSunoError), Detail: "Suno reported task " + t.TaskID + " failed"}
}
