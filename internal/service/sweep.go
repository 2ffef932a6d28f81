package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/songqueue/songqueue/internal/generation"
)

// SweeperPorts are what the sweeper runs on.
type SweeperPorts struct {
	Core
	Queue    Queue
	Suno     TaskReader
	Controls PauseReader
}

// Sweeper moves on the generations stuck past their deadline (a janitor,
// as asynq's and River's rescuer are).
type Sweeper struct {
	*flow
	suno     TaskReader
	controls PauseReader
}

// NewSweeper returns the sweeper on p.
func NewSweeper(p SweeperPorts, cfg Config) *Sweeper {
	return &Sweeper{flow: newFlow(p.Core, p.Queue, cfg), suno: p.Suno, controls: p.Controls}
}

// SweepReport says what a sweep did.
type SweepReport struct {
	Overdue  int `json:"overdue"`
	Requeued int `json:"requeued"`
	Retried  int `json:"retried"`
	Finished int `json:"finished"`
	Errors   int `json:"errors"`
}

// sweepBatch bounds the work of one sweep; the next one takes the rest.
const sweepBatch = 100

// Sweep finds generations stuck past their deadline and moves them on: a
// pending one whose job was lost is queued again, a claim whose worker died
// or a task Suno never finished counts as a failed attempt and is retried or
// failed by the retry policy. Every step is a conditional write, so a sweep
// racing a late worker or callback does no harm.
func (s *Sweeper) Sweep(ctx context.Context) (SweepReport, error) {
	now := s.now()
	overdue, err := s.store.Overdue(ctx, now, sweepBatch)
	if err != nil {
		return SweepReport{}, fmt.Errorf("find overdue generations: %w", err)
	}
	r := SweepReport{Overdue: len(overdue)}
	paused, err := s.controls.Paused(ctx)
	if err != nil {
		return r, fmt.Errorf("read paused tiers: %w", err)
	}
	var errs []error
	for _, g := range overdue {
		outcome, err := s.sweepOne(ctx, g, paused[g.Tier])
		if err != nil {
			r.Errors++
			errs = append(errs, err)
			continue
		}
		switch outcome {
		case "requeued":
			r.Requeued++
		case "retried":
			r.Retried++
		case "finished":
			r.Finished++
		}
	}
	return r, errors.Join(errs...)
}

func (s *Sweeper) sweepOne(ctx context.Context, g generation.Generation, paused bool) (string, error) {
	switch {
	case g.Status == generation.Pending:
		// The job may only be late (a long backlog) or lost; a second copy
		// is harmless because an attempt is claimed once.
		g, err := s.update(ctx, g, func(g *generation.Generation) error {
			g.Deadline = s.now().Add(s.cfg.Deadline)
			return nil
		})
		if err != nil {
			return "", err
		}
		if paused {
			// Its job is waiting out the pause; copies would only pile up.
			return "", nil
		}
		return "requeued", s.send(ctx, generateJob(g, g.Attempts+1, g.CreatedAt), 0)
	case s.archiving() && (g.Status == generation.Processing && g.Progress == generation.ProgressSaving ||
		g.Status == generation.Completed && !g.Archived):
		// A copy whose job was lost, or one that failed and is due again.
		next := s.cfg.ArchiveDeadline
		if g.Status == generation.Completed {
			next = s.cfg.ArchiveRetry
		}
		g, err := s.update(ctx, g, func(g *generation.Generation) error {
			g.Deadline = s.now().Add(next)
			return nil
		})
		if err != nil {
			return "", err
		}
		return "requeued", s.send(ctx, archiveJob(g), 0)
	case g.Status == generation.Processing && g.TaskID == "":
		if s.now().Before(g.LeaseUntil) {
			return "", nil
		}
		return "retried", s.attemptFailed(ctx, g, g.CreatedAt, errWorkerDied)
	case g.Status == generation.Processing:
		task, err := s.suno.Task(ctx, g.TaskID)
		if err == nil {
			if g, err = s.applyTask(ctx, g, task, g.CreatedAt); err != nil {
				return "", err
			}
			if g.Status != generation.Processing {
				return "finished", nil
			}
		}
		return "retried", s.attemptFailed(ctx, g, g.CreatedAt, errTooSlow)
	}
	return "", nil
}
