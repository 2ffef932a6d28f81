package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/health"
	"github.com/songqueue/songqueue/internal/metrics"
)

// Suno's bad days (DESIGN.md section 13). A song waits, spending no
// attempt, while the account's breaker is open; one worker at a time
// probes Suno; a song held past MaxWait fails. The breaker itself is
// package health, kept by the Account port beside the rate limiter.

// DefaultAccount names the one Suno account when a single key is
// configured.
const DefaultAccount = "default"

// gate decides, with the breaker a token came with, whether g may go to
// Suno now. It returns the reason to hold g instead ("" to go on) and when
// to look again.
func (w *Worker) gate(ctx context.Context, acc SunoAccount, g generation.Generation, grant Grant) (reason string, until time.Time, err error) {
	b := grant.Breaker
	if !grant.BreakerKnown {
		if b, err = acc.Account.Breaker(ctx); err != nil {
			return "", time.Time{}, fmt.Errorf("read Suno's breaker: %w", err)
		}
	}
	now := w.now()
	if !b.Allows() {
		if b.Current() == health.Probing && !b.ProbeDue(now) {
			// The probe is under way: look again as soon as it may have
			// answered, all held songs together, so that they meet at the
			// limiter and go in tier order.
			return b.WaitReason(), w.recheck(now, now.Add(w.cfg.Health.ProbeFirst/2)), nil
		}
		if !b.ProbeDue(now) {
			return b.WaitReason(), w.recheck(now, b.NextProbe), nil
		}
		if b, err = w.probe(ctx, acc); err != nil {
			return "", time.Time{}, err
		}
		if !b.Allows() {
			return b.WaitReason(), w.recheck(now, b.NextProbe), nil
		}
	}
	if g.Tier == generation.Free && w.cfg.CreditReserve > 0 {
		if credits, known := b.KnownCredits(); known && credits < w.cfg.CreditReserve {
			if now.Sub(b.CreditsAt) > w.cfg.CreditCheck {
				// A top-up shows at the next reading; this one is stale.
				if b, err = w.readCredits(ctx, acc); err != nil {
					return "", time.Time{}, err
				}
				credits, _ = b.KnownCredits()
			}
			if credits < w.cfg.CreditReserve {
				return health.ReasonCredits, now.Add(w.cfg.HoldRecheck), nil
			}
		}
	}
	return "", time.Time{}, nil
}

// recheck is when a held job looks again: when the probe is due, but no
// later than HoldRecheck from now, and never at once.
func (w *Worker) recheck(now, probe time.Time) time.Time {
	at := now.Add(w.cfg.HoldRecheck)
	if probe.Before(at) {
		at = probe
	}
	if floor := min(w.cfg.HoldRecheck, 100*time.Millisecond); at.Sub(now) < floor {
		at = now.Add(floor)
	}
	return at
}

// probe checks Suno, if this worker wins the one probe: the credit
// endpoint answers, and has credits to spend. It returns the breaker as
// the probe left it.
func (w *Worker) probe(ctx context.Context, acc SunoAccount) (health.Breaker, error) {
	now := w.now()
	won := false
	b, err := acc.Account.UpdateBreaker(ctx, func(b *health.Breaker) error {
		if won = b.ClaimProbe(now, w.cfg.Health); !won {
			return generation.ErrNoChange
		}
		return nil
	})
	if errors.Is(err, generation.ErrNoChange) || (err == nil && !won) {
		return b, nil // another worker probes
	}
	if err != nil {
		return b, fmt.Errorf("claim Suno's probe: %w", err)
	}
	credits, cerr := acc.Suno.Credits(ctx)
	outage, message := generation.Outage(""), ""
	switch {
	case cerr != nil:
		outage, _ = generation.OutageOf(cerr)
		if outage == "" {
			outage = generation.OutageUnreachable
		}
		message = generation.MessageOf(cerr)
		w.log.WarnContext(ctx, "Suno probe failed", "account", acc.Name, "outage", outage, "err", cerr)
	case credits <= 0:
		outage, message = generation.OutageCredits, generation.OutageMessage(generation.OutageCredits)
		w.log.WarnContext(ctx, "Suno probe: no credits left", "account", acc.Name, "credits", credits)
	}
	b, err = acc.Account.UpdateBreaker(ctx, func(b *health.Breaker) error {
		if cerr == nil {
			b.SetCredits(credits, w.now())
		}
		if outage != "" {
			b.ProbeFailed(w.now(), outage, message, w.cfg.Health)
		} else {
			b.ProbeSucceeded(w.now())
		}
		return nil
	})
	if err != nil {
		return b, fmt.Errorf("record Suno's probe: %w", err)
	}
	available := 0.0
	if b.Allows() {
		available = 1
		w.log.InfoContext(ctx, "Suno is back: breaker closed", "account", acc.Name, "credits", credits)
	}
	samples := []metrics.Sample{{Name: metrics.SunoAvailable, Value: available}}
	if cerr == nil {
		samples = append(samples, metrics.Sample{Name: metrics.SunoCredits, Value: float64(credits)})
	}
	w.cfg.Metrics.RecordAccount(ctx, acc.Name, samples...)
	return b, nil
}

// readCredits reads the account's credits into its breaker.
func (w *Worker) readCredits(ctx context.Context, acc SunoAccount) (health.Breaker, error) {
	credits, err := acc.Suno.Credits(ctx)
	if err != nil {
		w.log.WarnContext(ctx, "read Suno's credits", "account", acc.Name, "err", err)
		return acc.Account.Breaker(ctx)
	}
	w.cfg.Metrics.RecordAccount(ctx, acc.Name, metrics.Sample{Name: metrics.SunoCredits, Value: float64(credits)})
	return acc.Account.UpdateBreaker(ctx, func(b *health.Breaker) error {
		b.SetCredits(credits, w.now())
		return nil
	})
}

// sunoTrouble records a failed submission's Suno-wide trouble (certain or
// suspect) in the breaker, and reports whether the breaker is open now:
// then the failure was Suno's, not the song's.
func (w *Worker) sunoTrouble(ctx context.Context, acc SunoAccount, song string, o generation.Outage, cause error) (health.Breaker, bool, error) {
	opened := false
	b, err := acc.Account.UpdateBreaker(ctx, func(b *health.Breaker) error {
		wasClosed := b.Allows()
		open := b.Failed(w.now(), song, o, generation.MessageOf(cause), w.cfg.Health)
		opened = open && wasClosed
		return nil
	})
	if err != nil {
		return b, false, fmt.Errorf("record Suno's trouble: %w", err)
	}
	if opened {
		w.log.WarnContext(ctx, "Suno is unavailable: breaker opened", "account", acc.Name, "outage", o, "err", cause, "nextProbe", b.NextProbe)
		w.cfg.Metrics.RecordAccount(ctx, acc.Name, metrics.Sample{Name: metrics.SunoAvailable, Value: 0})
	}
	if o == generation.OutageCredits {
		if nb, err := w.readCredits(ctx, acc); err == nil {
			b = nb
		}
	}
	return b, !b.Allows(), nil
}

// clearSuspects records an accepted submission in the breaker.
func (w *Worker) clearSuspects(ctx context.Context, acc SunoAccount, at time.Time) {
	_, err := acc.Account.UpdateBreaker(ctx, func(b *health.Breaker) error {
		if !b.Succeeded(at) {
			return generation.ErrNoChange
		}
		return nil
	})
	if err != nil && !errors.Is(err, generation.ErrNoChange) {
		w.log.WarnContext(ctx, "record an accepted submission in Suno's breaker", "err", err)
	}
}

// hold keeps g pending with reason until until, and sends its job again
// for then. Only the write that starts the hold (or changes its reason) is
// made, pushed, logged and counted: a held job that looks again and finds
// nothing changed costs one send. A hold past MaxWait fails the song.
func (w *Worker) hold(ctx context.Context, g generation.Generation, job Job, reason string, until time.Time) error {
	now := w.now()
	if !g.HeldSince.IsZero() && now.Sub(g.HeldSince) > w.cfg.MaxWait {
		return w.holdExpired(ctx, g)
	}
	job.SuspectAt = time.Time{} // the trouble was Suno's: no attempt to count
	if g.Status == generation.Pending && g.WaitReason == reason {
		return w.send(ctx, job, until.Sub(now))
	}
	started := g.HeldSince.IsZero()
	next, err := w.update(ctx, g, func(g *generation.Generation) error {
		if err := g.Hold(reason, health.ReasonMessage(reason), w.now(), until); err != nil {
			return err
		}
		// If the job below is lost, the sweeper sends it again.
		g.Deadline = until.Add(w.cfg.ClaimLease)
		return nil
	})
	if err != nil {
		if isSettled(err) {
			return nil
		}
		return err
	}
	if job.Attempt > next.Attempts+1 {
		job.Attempt = next.Attempts + 1
	}
	w.logStep(ctx, next, stepHeld, "reason", reason, "until", until)
	if started {
		w.count(ctx, next, metrics.One(metrics.Held))
	}
	if err := w.send(ctx, job, until.Sub(now)); err != nil {
		return err
	}
	w.push.push(ctx, next)
	return nil
}

// holdExpired fails a song held longer than MaxWait; it frees its quota
// slot as any failure does.
func (w *Worker) holdExpired(ctx context.Context, g generation.Generation) error {
	reason := g.WaitReason
	next, err := w.update(ctx, g, func(g *generation.Generation) error {
		return g.FailWith(generation.CodeMaxWaitExceeded, generation.MessageFor(generation.CodeMaxWaitExceeded), w.now())
	})
	if err != nil {
		if isSettled(err) {
			return nil
		}
		return err
	}
	w.logStep(ctx, next, stepFailed, "reason", "held longer than GENERATION_MAX_WAIT", "heldFor", w.now().Sub(g.HeldSince), "waitReason", reason)
	w.count(ctx, next, metrics.One(metrics.Failed))
	w.push.push(ctx, next)
	return nil
}

// choice is the account a job goes to, or why it cannot go now.
type choice struct {
	acc   SunoAccount
	grant Grant
	// wait: no account with a healthy breaker has a token; ask again then.
	wait time.Duration
	// reason and until: every account is down (or FREE is below the
	// credit reserve everywhere): hold the song.
	reason string
	until  time.Time
}

// pick takes a token from the first account, in the configured order
// from a rotating start, whose window has one and whose breaker lets it
// submit g. An account that is down, refused or out of credits is skipped
// until its breaker closes; the others go on.
func (w *Worker) pick(ctx context.Context, g generation.Generation, job Job) (choice, error) {
	n := len(w.accounts.list)
	start := int(w.turn.Add(1) % uint64(n))
	var c choice
	waited := false
	for i := range n {
		acc := w.accounts.list[(start+i)%n]
		grant, err := w.takeToken(ctx, acc, g.Tier, g.UserID, job.EnqueuedAt, n == 1)
		if err != nil {
			return c, err
		}
		if !grant.OK {
			if !waited || grant.RetryAfter < c.wait {
				c.wait = grant.RetryAfter
			}
			waited = true
			continue
		}
		reason, until, err := w.gate(ctx, acc, g, grant)
		if err != nil {
			return c, err
		}
		if reason == "" {
			return choice{acc: acc, grant: grant}, nil
		}
		if c.reason == "" || until.Before(c.until) {
			c.reason, c.until = reason, until
		}
	}
	if waited {
		c.reason = ""
		c.wait = max(c.wait, time.Millisecond)
	}
	return c, nil
}

// stillHeld reads the breakers for a held song before it takes a token:
// held songs that look again must not spend the tokens the songs Suno can
// take need, nor drain the window when Suno is back. It returns the
// reason to go on holding ("" when some account may take the song).
func (w *Worker) stillHeld(ctx context.Context, g generation.Generation) (string, time.Time, error) {
	var reason string
	var until time.Time
	for _, acc := range w.accounts.list {
		b, err := acc.Account.Breaker(ctx)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("read Suno's breaker of %s: %w", acc.Name, err)
		}
		r, u, err := w.gate(ctx, acc, g, Grant{Breaker: b, BreakerKnown: true})
		if err != nil || r == "" {
			return "", time.Time{}, err
		}
		if reason == "" || u.Before(until) {
			reason, until = r, u
		}
	}
	return reason, until, nil
}
