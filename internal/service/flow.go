package service

import (
	"context"
	"fmt"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// flow moves generations through Suno's stages and their failures: what
// the worker, Suno's callbacks and the sweeper share. Each of them reaches
// Suno through its own port; the flow itself only stores, queues and
// tells.
type flow struct {
	*core
	queue Queue
}

func newFlow(p Core, queue Queue, cfg Config) *flow {
	return &flow{core: newCore(p, cfg), queue: queue}
}

// archiving reports whether the stack keeps its own copies of the songs'
// files (DESIGN.md section 11): then a finished task goes to saving and an
// archive job completes it.
func (f *flow) archiving() bool { return f.cfg.Archive }

// send enqueues job, visible after delay.
func (f *flow) send(ctx context.Context, job Job, delay time.Duration) error {
	if delay > 0 {
		job.NotBefore = f.now().Add(delay)
	} else {
		job.NotBefore = time.Time{}
	}
	if err := f.queue.Send(ctx, job, delay); err != nil {
		return fmt.Errorf("enqueue %s job for %s: %w", job.Kind, job.GenerationID, err)
	}
	return nil
}

// pollDelay is the wait before poll number polls+1 of a task.
func (f *flow) pollDelay(polls int) time.Duration {
	d := f.cfg.PollInterval
	for range min(polls, 2) {
		d *= 2
	}
	return d
}

// submitted records that g's current attempt is Suno's task taskID, made
// by account.
func (f *flow) submitted(ctx context.Context, g generation.Generation, taskID, account string) (generation.Generation, error) {
	return f.update(ctx, g, func(g *generation.Generation) error {
		if err := g.Submitted(taskID, f.now(), f.cfg.Deadline); err != nil {
			return err
		}
		g.Account = account
		return nil
	})
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
