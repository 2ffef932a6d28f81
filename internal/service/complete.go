package service

import (
	"context"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/metrics"
)

// completion is how a finished task's generation ends: with the stack's
// copies of its files, or with Suno's URLs.
type completion struct {
	taskID string
	tracks []generation.Track
	// archived: tracks point at the stack's copies.
	archived bool
	// copyAgainAt is, for a completion with Suno's URLs while the stack
	// keeps copies, when the sweeper tries the copy again (zero: never).
	copyAgainAt time.Time
}

// complete is the one way a generation completes, whichever path got
// there: Suno's report when no copies are kept, the archive job's copy, or
// the copy's last failed try. Only the write that moves the generation to
// completed logs, counts and pushes it; a copy that fixes up a generation
// completed earlier only stores the copies' URLs.
func (f *flow) complete(ctx context.Context, g generation.Generation, c completion) (generation.Generation, error) {
	// Decided on the state the write applies to, not on g: another path
	// may complete the generation between g's read and this write, and
	// then this write only fixes it up (it must not push a second end).
	var completes bool
	next, err := f.update(ctx, g, func(g *generation.Generation) error {
		if g.TaskID != c.taskID {
			return generation.ErrNoChange // superseded by a later attempt
		}
		completes = g.Status != generation.Completed
		now := f.now()
		if c.archived {
			return g.Saved(c.tracks, now)
		}
		switch {
		case g.Status == generation.Processing:
			if err := g.Complete(c.tracks, now); err != nil {
				return err
			}
		case g.Status != generation.Completed || g.Archived:
			return generation.ErrNoChange
		}
		if f.archiving() {
			g.Deadline = c.copyAgainAt // the sweeper's next try
		}
		return nil
	})
	if err != nil {
		return next, err
	}
	if completes {
		f.logStep(ctx, next, stepCompleted, "taskId", next.TaskID, "archived", next.Archived)
		f.count(ctx, next, metrics.One(metrics.Completed))
		f.push.push(ctx, next)
	} else if c.archived {
		f.logStep(ctx, next, stepArchived, "taskId", next.TaskID)
	}
	return next, nil
}
