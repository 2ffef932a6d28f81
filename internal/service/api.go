package service

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
)

// MaxIdempotencyKey is the longest Idempotency-Key accepted.
const MaxIdempotencyKey = 128

// CreateResult is the answer to a create.
type CreateResult struct {
	Generation generation.Generation
	// Replayed is true when an earlier create with the same idempotency key
	// is being returned.
	Replayed bool
}

// Create validates req, stores a pending generation and enqueues its first
// attempt. The same idempotency key from the same user returns the same
// generation.
func (s *Service) Create(ctx context.Context, c identity.Caller, req generation.Request, idempotencyKey string) (CreateResult, error) {
	req = req.Normalize()
	if err := req.Validate(); err != nil {
		var fe *generation.FieldError
		if errors.As(err, &fe) {
			return CreateResult{}, InvalidField(fe.Field, fe.Error())
		}
		return CreateResult{}, invalid("invalid_request", "%s", err.Error())
	}
	if err := validIdempotencyKey(idempotencyKey); err != nil {
		return CreateResult{}, err
	}
	now := s.now()
	g := generation.New(newID(), c.UserID, c.Tier, req, now, s.cfg.Deadline+s.cfg.Retry.Backoff(s.cfg.Retry.MaxAttempts)*2)
	quota := s.cfg.Quotas[c.Tier]
	g.HoldsQuota = quota.Open > 0
	stored, created, err := s.Store.Create(ctx, g, idempotencyKey, quota)
	var qe *QuotaError
	if errors.As(err, &qe) {
		return CreateResult{}, quotaExceeded(c.Tier, qe, now)
	}
	if err != nil {
		return CreateResult{}, fmt.Errorf("store generation: %w", err)
	}
	if !created {
		if stored.UserID != c.UserID {
			// Keys are scoped per user by the store; this is a bug guard.
			return CreateResult{}, fmt.Errorf("idempotency key resolved to another user's generation")
		}
		if !reflect.DeepEqual(stored.Request, req) {
			return CreateResult{}, &Error{Kind: KindConflict, Code: "idempotency_key_reused",
				Message: "this Idempotency-Key was already used for a different request; use a new key for a new song"}
		}
		// The first create may have stored the generation and then failed
		// to enqueue it; enqueueing again is harmless because a job claims
		// its attempt only once.
		if stored.Status == generation.Pending && stored.Attempts == 0 {
			if err := s.enqueueFirst(ctx, stored); err != nil {
				return CreateResult{}, err
			}
		}
		return CreateResult{Generation: stored, Replayed: true}, nil
	}
	if err := s.enqueueFirst(ctx, stored); err != nil {
		return CreateResult{}, err
	}
	return CreateResult{Generation: stored}, nil
}

func (s *Service) enqueueFirst(ctx context.Context, g generation.Generation) error {
	job := Job{Kind: JobGenerate, GenerationID: g.ID, Tier: g.Tier, UserID: g.UserID, Attempt: 1, EnqueuedAt: g.CreatedAt}
	if err := s.Queue.Send(ctx, job, 0); err != nil {
		return fmt.Errorf("enqueue generation %s: %w", g.ID, err)
	}
	return nil
}

func validIdempotencyKey(k string) error {
	if k == "" {
		return nil
	}
	if len(k) > MaxIdempotencyKey {
		return invalid("invalid_idempotency_key", "Idempotency-Key is %d bytes long; the limit is %d", len(k), MaxIdempotencyKey)
	}
	for _, r := range k {
		if r < 0x21 || r > 0x7e {
			return invalid("invalid_idempotency_key", "Idempotency-Key must be printable ASCII without spaces, such as a UUID")
		}
	}
	return nil
}

// Get returns the caller's generation. Another user's generation does not
// exist as far as the caller can tell.
func (s *Service) Get(ctx context.Context, c identity.Caller, id string) (generation.Generation, error) {
	if !validID(id) {
		return generation.Generation{}, notFound(id)
	}
	g, err := s.Store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && g.UserID != c.UserID) {
		return generation.Generation{}, notFound(id)
	}
	if err != nil {
		return generation.Generation{}, fmt.Errorf("get generation %s: %w", id, err)
	}
	return g, nil
}

// validID keeps junk out of store keys; ids are UUIDs.
func validID(id string) bool {
	return id != "" && len(id) <= 64 && utf8.ValidString(id) && !strings.ContainsAny(id, "#/\\ \x00")
}

// MaxPageSize bounds a listing page.
const MaxPageSize = 100

// List returns a page of the caller's generations, newest first.
func (s *Service) List(ctx context.Context, c identity.Caller, limit int, cursor string) (Page, error) {
	if limit == 0 {
		limit = 20
	}
	if limit < 1 || limit > MaxPageSize {
		return Page{}, invalid("invalid_limit", "limit must be between 1 and %d", MaxPageSize)
	}
	p, err := s.Store.ListByUser(ctx, c.UserID, limit, cursor)
	if errors.Is(err, ErrInvalidCursor) {
		return Page{}, invalid("invalid_cursor", "cursor is not one this API returned; start again without it")
	}
	if err != nil {
		return Page{}, fmt.Errorf("list generations: %w", err)
	}
	return p, nil
}

// ErrInvalidCursor is returned by stores for a cursor they did not issue.
var ErrInvalidCursor = errors.New("invalid cursor")

// Cancel cancels the caller's generation, queued or running.
func (s *Service) Cancel(ctx context.Context, c identity.Caller, id string) (generation.Generation, error) {
	g, err := s.Get(ctx, c, id)
	if err != nil {
		return g, err
	}
	g, err = s.update(ctx, g, func(g *generation.Generation) error { return g.Cancel(s.now()) })
	var te *generation.TransitionError
	switch {
	case errors.Is(err, generation.ErrNoChange):
		return g, nil
	case errors.As(err, &te):
		return g, &Error{Kind: KindConflict, Code: "already_finished",
			Message: fmt.Sprintf("generation %s is already %s and can no longer be cancelled", id, te.From)}
	case err != nil:
		return g, err
	}
	s.push(ctx, g)
	return g, nil
}

// Stats is the queue overview.
type Stats struct {
	TierStats
	ByTier map[generation.Tier]TierStats `json:"byTier"`
}

// TierStats counts one tier's jobs the way BullMQ's getJobCounts did.
type TierStats struct {
	Waiting   int64 `json:"waiting"`
	Active    int64 `json:"active"`
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	Delayed   int64 `json:"delayed"`
	Cancelled int64 `json:"cancelled"`
	Dead      int64 `json:"deadLetter"`
	Total     int64 `json:"total"`
}

// Stats combines queue depths (waiting, delayed) with the store's counters
// (active, completed, failed).
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	depth, err := s.Queue.Depth(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("queue depth: %w", err)
	}
	counts, err := s.Store.Counts(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("generation counts: %w", err)
	}
	out := Stats{ByTier: make(map[generation.Tier]TierStats, len(generation.Tiers))}
	for _, t := range generation.Tiers {
		d, c := depth[t], counts[t]
		ts := TierStats{
			Waiting:   d.Waiting,
			Delayed:   d.Delayed,
			Active:    c[generation.Processing],
			Completed: c[generation.Completed],
			Failed:    c[generation.Failed],
			Cancelled: c[generation.Cancelled],
			Dead:      d.Dead,
		}
		ts.Total = ts.Waiting + ts.Delayed + ts.Active + ts.Completed + ts.Failed + ts.Cancelled
		out.ByTier[t] = ts
		out.Waiting += ts.Waiting
		out.Delayed += ts.Delayed
		out.Active += ts.Active
		out.Completed += ts.Completed
		out.Failed += ts.Failed
		out.Cancelled += ts.Cancelled
		out.Dead += ts.Dead
		out.Total += ts.Total
	}
	return out, nil
}

// quotaExceeded says which limit a refused create hit and when it frees.
func quotaExceeded(tier generation.Tier, qe *QuotaError, now time.Time) *Error {
	retry := max(qe.RetryAfter, time.Second).Round(time.Second)
	var msg string
	switch qe.Limit {
	case "daily":
		msg = fmt.Sprintf("a %s account may create %d generations in 24 hours and you have; the next fits in %s (at %s)",
			tier, qe.Max, retry, now.Add(retry).UTC().Format("15:04 UTC"))
	default:
		msg = fmt.Sprintf("a %s account may have %d unfinished generations at once and you have; one frees when a song finishes or you cancel one",
			tier, qe.Max)
	}
	return &Error{Kind: KindQuota, Code: "quota_exceeded", Message: msg, RetryAfter: retry}
}

// InvalidField is the error for a bad request field: its code is
// "invalid_" and the field's name in snake_case.
func InvalidField(field, message string) *Error {
	return &Error{Kind: KindInvalid, Code: "invalid_" + snake(field), Message: message}
}

func snake(field string) string {
	var b strings.Builder
	for _, r := range field {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
