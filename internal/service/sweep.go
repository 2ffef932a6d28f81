package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/health"
	"github.com/songqueue/songqueue/internal/metrics"
)

// SweeperPorts are what the sweeper runs on.
type SweeperPorts struct {
	Core
	Queue    Queue
	Controls PauseReader
	// Accounts are the Suno accounts: the sweeper asks each task's account
	// how it is doing, and reads every account's credits on its schedule.
	Accounts []SweptAccount
}

// Sweeper moves on the generations stuck past their deadline (a janitor,
// as asynq's and River's rescuer are).
type Sweeper struct {
	*flow
	controls PauseReader
	accounts accounts[SweptAccount]
	places   *placeNotices
}

// NewSweeper returns the sweeper on p.
func NewSweeper(p SweeperPorts, cfg Config) (*Sweeper, error) {
	accounts, err := newAccounts(p.Accounts)
	if err != nil {
		return nil, err
	}
	f := newFlow(p.Core, p.Queue, cfg)
	places := &placeNotices{store: p.Store, conns: p.Connections, line: newLine(p.Store, f.cfg.Line, f.now), push: f.push}
	return &Sweeper{flow: f, controls: p.Controls, accounts: accounts, places: places}, nil
}

// SweepReport says what a sweep did.
type SweepReport struct {
	Overdue  int `json:"overdue"`
	Requeued int `json:"requeued"`
	Retried  int `json:"retried"`
	Finished int `json:"finished"`
	Errors   int `json:"errors"`
	// PlacesPushed counts the places in line pushed to open pages.
	PlacesPushed int `json:"placesPushed"`
	// Credits are the Suno accounts' remaining credits, read by this
	// sweep (-1 for one that could not be read).
	Credits map[string]int `json:"credits"`
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
	credits := s.readCredits(ctx)
	overdue, err := s.store.Overdue(ctx, now, sweepBatch)
	if err != nil {
		return SweepReport{Credits: credits}, fmt.Errorf("find overdue generations: %w", err)
	}
	r := SweepReport{Overdue: len(overdue), Credits: credits}
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
	if r.PlacesPushed, err = s.places.round(ctx); err != nil {
		errs = append(errs, err)
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
		taskID := g.TaskID
		task, err := s.accounts.of(g.Account).Suno.Task(ctx, taskID)
		if err != nil && generation.Classify(err) != generation.Permanent && !errors.Is(err, generation.ErrUnknownTask) {
			// Suno cannot be asked now: its trouble, not the song's.
			return "", s.extendDeadline(ctx, g)
		}
		if err == nil {
			if g, err = s.applyTask(ctx, g, task, g.CreatedAt); err != nil {
				return "", err
			}
			if !awaitsTask(g, taskID) {
				// Finished, failed or now being saved: Suno was in time.
				return "finished", nil
			}
		}
		return "retried", s.attemptFailed(ctx, g, g.CreatedAt, errTooSlow)
	}
	return "", nil
}

// readCredits reads every account's credits on the sweeper's schedule:
// the SunoCredits metric (an alarm watches it), and what the credit
// reserve decides by. A failed read is logged; the sweep goes on. Each
// account's SunoAvailable goes with it, from its breaker, so that the
// unavailability alarm has a sample every run, not only when a probe
// answers (probes back off to a minute and more apart).
func (s *Sweeper) readCredits(ctx context.Context) map[string]int {
	out := make(map[string]int, len(s.accounts.list))
	for _, acc := range s.accounts.list {
		credits, err := acc.Suno.Credits(ctx)
		var b health.Breaker
		if err != nil {
			s.log.WarnContext(ctx, "read Suno's credits", "account", acc.Name, "err", err)
			out[acc.Name] = -1
			b, err = acc.Breakers.Breaker(ctx)
		} else {
			out[acc.Name] = credits
			s.cfg.Metrics.RecordAccount(ctx, acc.Name, metrics.Sample{Name: metrics.SunoCredits, Value: float64(credits)})
			b, err = acc.Breakers.UpdateBreaker(ctx, func(b *health.Breaker) error {
				b.SetCredits(credits, s.now())
				return nil
			})
		}
		if err != nil {
			s.log.WarnContext(ctx, "Suno account's breaker", "account", acc.Name, "err", err)
			continue
		}
		available := 0.0
		if b.Current() == health.Closed {
			available = 1
		}
		s.cfg.Metrics.RecordAccount(ctx, acc.Name, metrics.Sample{Name: metrics.SunoAvailable, Value: available})
	}
	return out
}
