package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/metrics"
)

// Core are the ports every role that changes a generation holds: the
// store it changes and the owner's connections it tells. Make it with
// NewCore, so that every role of a process shares one push order.
type Core struct {
	Store       Store
	Connections Connections
	Notifier    Notifier
	// pushing orders the pushes of one generation within the process;
	// roles sharing a Core share it.
	pushing *keyedMutex
}

// NewCore is the core of the roles of one process: their pushes of a
// generation are made one at a time, whichever role makes them, so a
// slower path can never post a state older than one already posted.
func NewCore(store Store, conns Connections, notifier Notifier) Core {
	return Core{Store: store, Connections: conns, Notifier: notifier, pushing: &keyedMutex{}}
}

// core is what every role shares: load, conditional update, push, the
// lifecycle log and the metrics. It holds no port a role might lack.
type core struct {
	store Store
	cfg   Config
	log   *slog.Logger
	push  *pusher
}

func newCore(p Core, cfg Config) *core {
	cfg = cfg.withDefaults()
	c := &core{store: p.Store, cfg: cfg, log: cfg.Logger}
	order := p.pushing
	if order == nil {
		order = &keyedMutex{}
	}
	c.push = &pusher{store: p.Store, conns: p.Connections, notifier: p.Notifier, cfg: cfg, log: cfg.Logger, pushing: order}
	return c
}

func (c *core) now() time.Time { return c.cfg.Now().UTC() }

// load reads a generation a job or callback names; found is false when it
// is gone (deleted meanwhile), which ends the work without an error.
func (c *core) load(ctx context.Context, id string) (g generation.Generation, found bool, err error) {
	g, err = c.store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return g, false, nil
	}
	if err != nil {
		return g, false, fmt.Errorf("load generation %s: %w", id, err)
	}
	return g, true, nil
}

// update applies change to g and saves it, re-reading and re-applying when
// another writer got there first. It returns the stored generation, or
// generation.ErrNoChange when there was nothing to do.
func (c *core) update(ctx context.Context, g generation.Generation, change func(*generation.Generation) error) (generation.Generation, error) {
	const attempts = 5
	for i := 0; ; i++ {
		from := g.Status
		next := g
		next.Tracks = append([]generation.Track(nil), g.Tracks...)
		if err := change(&next); err != nil {
			return g, err
		}
		saved, err := c.store.Save(ctx, next, from)
		if err == nil {
			return saved, nil
		}
		if !errors.Is(err, ErrConflict) || i == attempts-1 {
			return g, fmt.Errorf("save generation %s: %w", g.ID, err)
		}
		if g, err = c.store.Get(ctx, g.ID); err != nil {
			return g, fmt.Errorf("reload generation %s: %w", g.ID, err)
		}
	}
}

// openDeadline is when a generation that has just been queued for its
// first attempt (a create, an operator's retry) is overdue: every attempt's
// deadline and backoff, twice over. If its job is lost, the sweeper queues
// it again then.
func (c *core) openDeadline(now time.Time) time.Time {
	return now.Add(c.cfg.Deadline + c.cfg.Retry.Backoff(c.cfg.Retry.MaxAttempts)*2)
}

// isSettled reports whether a failed update means the work is already done
// or no longer wanted: a no-op transition or one the lifecycle forbids.
func isSettled(err error) bool {
	var te *generation.TransitionError
	return errors.Is(err, generation.ErrNoChange) || errors.As(err, &te)
}

func (c *core) logStep(ctx context.Context, g generation.Generation, step string, attrs ...any) {
	c.logStepAt(ctx, slog.LevelInfo, g, step, attrs...)
}

func (c *core) logStepAt(ctx context.Context, level slog.Level, g generation.Generation, step string, attrs ...any) {
	c.log.Log(ctx, level, "lifecycle", append([]any{
		"step", step, "generationId", g.ID, "userId", g.UserID, "tier", g.Tier, "attempt", g.Attempts, "status", g.Status,
	}, attrs...)...)
}

// count sends g's metric samples.
func (c *core) count(ctx context.Context, g generation.Generation, samples ...metrics.Sample) {
	c.cfg.Metrics.Record(ctx, string(g.Tier), g.ID, samples...)
}

// newID returns a random UUID (version 4).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// audit writes one line of what an operator did (message "audit", with
// operator, action, target and outcome: one JSON line in AWS) and keeps it
// for the admin view. An entry that cannot be kept is logged, and the
// action stands.
func (c *core) audit(ctx context.Context, operator, action, target, outcome string) {
	e := AuditEntry{At: c.now(), Operator: operator, Action: action, Target: target, Outcome: outcome}
	c.log.InfoContext(ctx, "audit", "operator", e.Operator, "action", e.Action, "target", e.Target, "outcome", e.Outcome)
	if err := c.store.RecordAudit(context.WithoutCancel(ctx), e); err != nil {
		c.log.WarnContext(ctx, "audit entry not stored", "action", action, "err", err)
	}
}
