package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/health"
	"github.com/songqueue/songqueue/internal/identity"
)

// The operators' controls (DESIGN.md section 10). Every one of them is for
// a caller in the admin group only; everyone else learns no more than that.

// OperatorPorts are what the operators' routes run on.
type OperatorPorts struct {
	Core
	Queue       Queue
	Controls    Controls
	DeadLetters DeadLetters
	// Accounts are the Suno accounts' breakers, by account.
	Accounts []AccountBreakers
}

// AccountBreakers are a Suno account's breaker and rate window, by its
// name: what the operators need of an account (they never call Suno).
type AccountBreakers struct {
	Name     string
	Breakers interface {
		Breakers
		WindowReader
	}
}

// Operators serves the operators: every user's generations, retries,
// pauses and the dead-letter queues.
type Operators struct {
	*core
	queue    Queue
	controls Controls
	dead     DeadLetters
	accounts []AccountBreakers
}

// NewOperators returns the operators' side on p.
func NewOperators(p OperatorPorts, cfg Config) (*Operators, error) {
	if len(p.Accounts) == 0 {
		return nil, errNoAccounts
	}
	return &Operators{core: newCore(p.Core, cfg), queue: p.Queue, controls: p.Controls, dead: p.DeadLetters, accounts: p.Accounts}, nil
}

// AdminGroup is the token group whose members are operators.
func (s *Operators) AdminGroup() string { return s.cfg.AdminGroup }

func (s *Operators) mustAdmin(c identity.Caller) error {
	if c.InGroup(s.cfg.AdminGroup) {
		return nil
	}
	return &Error{Kind: KindForbidden, Code: "forbidden",
		Message: fmt.Sprintf("operator routes are for members of the %q group, and your token does not put you in it", s.cfg.AdminGroup)}
}

// unknownTier is the one answer of every route that takes a tier to a
// tier that is not one: 400 unknown_tier.
func unknownTier(t generation.Tier) error {
	return invalid("unknown_tier", "tier %q is not one of ENTERPRISE, PREMIUM, PRO, FREE", t)
}

// AdminList returns every user's generations that match f, newest first.
func (s *Operators) AdminList(ctx context.Context, c identity.Caller, f Filter, limit int, cursor string) (Page, error) {
	if err := s.mustAdmin(c); err != nil {
		return Page{}, err
	}
	if f.Status != "" && !knownStatus(f.Status) {
		return Page{}, invalid("invalid_status", "status %q is not one of pending, processing, completed, failed, cancelled", f.Status)
	}
	if f.Tier != "" && !f.Tier.Valid() {
		return Page{}, unknownTier(f.Tier)
	}
	if f.UserID != "" && (utf8.RuneCountInString(f.UserID) > 128 || !utf8.ValidString(f.UserID) || strings.ContainsAny(f.UserID, "\x00")) {
		return Page{}, invalid("invalid_user", "user must be a user id (a token's sub) of at most 128 characters")
	}
	if limit == 0 {
		limit = 20
	}
	if limit < 1 || limit > MaxPageSize {
		return Page{}, invalid("invalid_limit", "limit must be between 1 and %d", MaxPageSize)
	}
	p, err := s.store.ListAll(ctx, f, limit, cursor)
	if errors.Is(err, ErrInvalidCursor) {
		return Page{}, invalid("invalid_cursor", "cursor is not one this API returned; start again without it")
	}
	if err != nil {
		return Page{}, fmt.Errorf("list generations: %w", err)
	}
	return p, nil
}

func knownStatus(st generation.Status) bool {
	switch st {
	case generation.Pending, generation.Processing, generation.Completed, generation.Failed, generation.Cancelled:
		return true
	}
	return false
}

// AdminRetry gives a failed generation a fresh set of attempts under the
// same id and queues it; its owner sees it move again.
func (s *Operators) AdminRetry(ctx context.Context, c identity.Caller, id string) (generation.Generation, error) {
	if err := s.mustAdmin(c); err != nil {
		return generation.Generation{}, err
	}
	if !validID(id) {
		return generation.Generation{}, &Error{Kind: KindNotFound, Code: "not_found", Message: fmt.Sprintf("no generation %q", id)}
	}
	g, err := s.store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return generation.Generation{}, &Error{Kind: KindNotFound, Code: "not_found", Message: fmt.Sprintf("no generation %q", id)}
	}
	if err != nil {
		return generation.Generation{}, fmt.Errorf("get generation %s: %w", id, err)
	}
	g, err = s.update(ctx, g, func(g *generation.Generation) error {
		if err := g.Revive(s.now()); err != nil {
			return err
		}
		// As for a create: if the job below is lost, the sweeper queues
		// it again then.
		g.Deadline = s.openDeadline(s.now())
		return nil
	})
	var te *generation.TransitionError
	if errors.As(err, &te) {
		s.audit(ctx, c.UserID, "retry", "generation "+id, "refused: not failed")
		return g, &Error{Kind: KindConflict, Code: "not_failed",
			Message: fmt.Sprintf("generation %s is %s; only a failed generation can be retried", id, te.From)}
	}
	if err != nil {
		return g, err
	}
	s.logStep(ctx, g, stepRevived, "by", c.UserID)
	s.audit(ctx, c.UserID, "retry", "generation "+id, "queued again")
	if err := enqueueFirst(ctx, s.queue, g); err != nil {
		return g, err
	}
	s.push.push(ctx, g)
	return g, nil
}

// QueueControl is what an operator sees of one tier's queue.
type QueueControl struct {
	Paused      bool  `json:"paused"`
	DeadLetters int64 `json:"deadLetters"`
}

// QueueControls reports each tier's pause switch and dead letters.
func (s *Operators) QueueControls(ctx context.Context, c identity.Caller) (map[generation.Tier]QueueControl, error) {
	if err := s.mustAdmin(c); err != nil {
		return nil, err
	}
	paused, err := s.controls.Paused(ctx)
	if err != nil {
		return nil, fmt.Errorf("read paused tiers: %w", err)
	}
	dead, err := s.dead.DeadCount(ctx)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	out := make(map[generation.Tier]QueueControl, len(generation.Tiers))
	for _, t := range generation.Tiers {
		out[t] = QueueControl{Paused: paused[t], DeadLetters: dead[t]}
	}
	return out, nil
}

// SetPaused pauses or resumes tier. While paused, no job of the tier is
// submitted to Suno; creates are still accepted and queued, and the jobs
// wait in their queue, so nothing is lost.
func (s *Operators) SetPaused(ctx context.Context, c identity.Caller, tier generation.Tier, paused bool) error {
	if err := s.mustAdmin(c); err != nil {
		return err
	}
	if !tier.Valid() {
		return unknownTier(tier)
	}
	action := "resume"
	if paused {
		action = "pause"
	}
	if err := s.controls.SetPaused(ctx, tier, paused); err != nil {
		s.audit(ctx, c.UserID, action, "tier "+string(tier), "error")
		return err
	}
	s.audit(ctx, c.UserID, action, "tier "+string(tier), "done")
	return nil
}

// maxAudit bounds the audit entries one listing returns.
const maxAudit = 200

// Audit lists the latest operator actions, newest first.
func (s *Operators) Audit(ctx context.Context, c identity.Caller, limit int) ([]AuditEntry, error) {
	if err := s.mustAdmin(c); err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = 50
	}
	if limit < 1 || limit > maxAudit {
		return nil, invalid("invalid_limit", "limit must be between 1 and %d", maxAudit)
	}
	return s.store.RecentAudit(ctx, limit)
}

// DeadLetterView is a dead letter as an operator reads it: the job it
// carries when it is one, else its raw body.
type DeadLetterView struct {
	Tier         generation.Tier `json:"tier"`
	MessageID    string          `json:"messageId"`
	ReceiveCount int             `json:"receiveCount"`
	Job          *Job            `json:"job,omitempty"`
	Body         string          `json:"body,omitempty"`
}

// maxBodyShown bounds the raw body of a dead letter that is not a job.
const maxBodyShown = 1024

// ListDeadLetters shows up to limit dead letters of each of tiers, leaving
// them where they are.
func (s *Operators) ListDeadLetters(ctx context.Context, c identity.Caller, tiers []generation.Tier, limit int) ([]DeadLetterView, error) {
	if err := s.mustAdmin(c); err != nil {
		return nil, err
	}
	out := []DeadLetterView{}
	for _, t := range tiers {
		dead, err := s.dead.DeadLetters(ctx, t, limit)
		if err != nil {
			return nil, fmt.Errorf("dead letters of %s: %w", t, err)
		}
		for _, d := range dead {
			v := DeadLetterView{Tier: t, MessageID: d.MessageID, ReceiveCount: d.ReceiveCount}
			var job Job
			if json.Unmarshal(d.Body, &job) == nil && job.GenerationID != "" {
				v.Job = &job
			} else {
				v.Body = string(d.Body[:min(len(d.Body), maxBodyShown)])
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// Redrive moves the dead letters of tiers back to their queues; the jobs
// they carry run again (a finished generation's job finds nothing to do).
func (s *Operators) Redrive(ctx context.Context, c identity.Caller, tiers []generation.Tier) (map[generation.Tier]int, error) {
	if err := s.mustAdmin(c); err != nil {
		return nil, err
	}
	out := make(map[generation.Tier]int, len(tiers))
	for _, t := range tiers {
		n, err := s.dead.Redrive(ctx, t)
		out[t] = n
		if err != nil {
			s.audit(ctx, c.UserID, "redrive", "tier "+string(t), fmt.Sprintf("error after %d moved", n))
			return out, fmt.Errorf("redrive %s: %w", t, err)
		}
		s.audit(ctx, c.UserID, "redrive", "tier "+string(t), fmt.Sprintf("%d moved", n))
	}
	return out, nil
}

// AccountHealth is what an operator sees of a Suno account: its breaker,
// credits and rate window.
type AccountHealth struct {
	Account string       `json:"account"`
	State   health.State `json:"state"`
	// Rate is the account's limit, and Used how many submissions the
	// window that ends now holds: the tokens in use.
	Rate  *AccountRate `json:"rate,omitempty"`
	Since *time.Time   `json:"since,omitempty"`
	// Outage is why it is open; LastError what Suno last answered, in
	// plain words.
	Outage    generation.Outage `json:"outage,omitempty"`
	LastError string            `json:"lastError,omitempty"`
	NextProbe *time.Time        `json:"nextProbe,omitempty"`
	// Credits as last read, at CreditsAt; absent before any reading.
	Credits   *int       `json:"credits,omitempty"`
	CreditsAt *time.Time `json:"creditsAt,omitempty"`
}

// AccountRate is an account's rate window as an operator reads it.
type AccountRate struct {
	Limit         int     `json:"limit"`
	WindowSeconds float64 `json:"windowSeconds"`
	Used          int     `json:"used"`
}

// SunoAccounts reports each Suno account's breaker, credits and rate
// window.
func (s *Operators) SunoAccounts(ctx context.Context, c identity.Caller) ([]AccountHealth, error) {
	if err := s.mustAdmin(c); err != nil {
		return nil, err
	}
	out := make([]AccountHealth, 0, len(s.accounts))
	for _, acc := range s.accounts {
		b, err := acc.Breakers.Breaker(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the breaker of Suno account %s: %w", acc.Name, err)
		}
		v := accountView(acc.Name, b)
		u, err := acc.Breakers.Usage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the rate window of Suno account %s: %w", acc.Name, err)
		}
		v.Rate = &AccountRate{Limit: u.Limit, WindowSeconds: u.Window.Seconds(), Used: u.Used}
		out = append(out, v)
	}
	return out, nil
}

func accountView(name string, b health.Breaker) AccountHealth {
	v := AccountHealth{Account: name, State: b.Current(), Outage: b.Outage, LastError: b.LastError}
	if !b.Since.IsZero() {
		v.Since = &b.Since
	}
	if !b.Allows() && !b.NextProbe.IsZero() {
		v.NextProbe = &b.NextProbe
	}
	if n, ok := b.KnownCredits(); ok {
		v.Credits, v.CreditsAt = &n, &b.CreditsAt
	}
	return v
}

// ProbeSuno makes the account's next probe due now, for an operator who
// knows Suno is back: the next held job to look again probes at once.
func (s *Operators) ProbeSuno(ctx context.Context, c identity.Caller, account string) (AccountHealth, error) {
	if err := s.mustAdmin(c); err != nil {
		return AccountHealth{}, err
	}
	i := slices.IndexFunc(s.accounts, func(a AccountBreakers) bool { return a.Name == account })
	if i < 0 {
		return AccountHealth{}, &Error{Kind: KindNotFound, Code: "unknown_account", Message: fmt.Sprintf("there is no Suno account %q; GET /api/admin/suno lists them", account)}
	}
	b, err := s.accounts[i].Breakers.UpdateBreaker(ctx, func(b *health.Breaker) error {
		if !b.Reopen(s.now()) {
			return generation.ErrNoChange
		}
		return nil
	})
	if err != nil && !errors.Is(err, generation.ErrNoChange) {
		return AccountHealth{}, fmt.Errorf("schedule Suno's probe: %w", err)
	}
	s.audit(ctx, c.UserID, "probe", "Suno account "+account, "state "+string(b.Current()))
	return accountView(account, b), nil
}
