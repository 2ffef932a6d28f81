package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/metrics"
)

// MaxIdempotencyKey is the longest Idempotency-Key accepted.
const MaxIdempotencyKey = 128

// APIPorts are what the HTTP API's routes for song makers run on.
type APIPorts struct {
	Core
	Queue       Queue
	DeadLetters DeadCounter
	// Media deletes a deleted generation's copies; required when
	// Config.Archive is set, unused otherwise.
	Media MediaRemover
}

// API serves the people who make songs: create, status, list, cancel,
// delete, and the queue's statistics.
type API struct {
	*core
	line  *line
	queue Queue
	dead  DeadCounter
	media MediaRemover
}

// NewAPI returns the API on p.
func NewAPI(p APIPorts, cfg Config) (*API, error) {
	if cfg.Archive && p.Media == nil {
		return nil, errMissingCopies
	}
	c := newCore(p.Core, cfg)
	return &API{core: c, line: newLine(p.Store, c.cfg.Line, c.now), queue: p.Queue, dead: p.DeadLetters, media: p.Media}, nil
}

// CreateResult is the answer to a create.
type CreateResult struct {
	Generation generation.Generation
	// Replayed is true when an earlier create with the same idempotency key
	// is being returned.
	Replayed bool
	// Place is the new song's place in line; nil when the line could not
	// be read (the create does not fail for it).
	Place *Place
}

// Create validates req, stores a pending generation and enqueues its first
// attempt. The same idempotency key from the same user returns the same
// generation.
func (s *API) Create(ctx context.Context, c identity.Caller, req generation.Request, idempotencyKey string) (CreateResult, error) {
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
	g := generation.New(newID(), c.UserID, c.Tier, req, now, s.openDeadline(now).Sub(now))
	quota := s.cfg.Quotas[c.Tier]
	g.HoldsQuota = quota.Open > 0
	counts, err := s.line.fresh(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "no place in line for a new song", "err", err)
	} else {
		g.Ticket = ticket(counts, g.Tier)
	}
	stored, created, err := s.store.Create(ctx, g, idempotencyKey, quota)
	var qe *QuotaError
	if errors.As(err, &qe) {
		s.cfg.Metrics.Record(ctx, string(c.Tier), "", metrics.One(metrics.QuotaRefusals))
		s.log.InfoContext(ctx, "create refused by quota", "userId", c.UserID, "tier", c.Tier, "limit", qe.Limit, "max", qe.Max)
		return CreateResult{}, quotaExceeded(c.Tier, qe, now)
	}
	if errors.Is(err, ErrKeyDeleted) {
		// A key is for retries of one create: its song is gone, and a
		// retry must not make a second one (Stripe's semantics).
		return CreateResult{}, &Error{Kind: KindConflict, Code: "generation_deleted",
			Message: "the generation this Idempotency-Key created has been deleted, so this request cannot be replayed; use a new key for a new song"}
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
			if err := enqueueFirst(ctx, s.queue, stored); err != nil {
				return CreateResult{}, err
			}
		}
		return CreateResult{Generation: stored, Replayed: true}, nil
	}
	s.logStep(ctx, stored, stepCreated)
	s.count(ctx, stored, metrics.One(metrics.Created))
	if err := enqueueFirst(ctx, s.queue, stored); err != nil {
		return CreateResult{}, err
	}
	res := CreateResult{Generation: stored}
	if counts != nil {
		// The counts read before the create, with it in them.
		c := counts[stored.Tier]
		c.Pending, c.Entered = c.Pending+1, c.Entered+1
		withIt := maps.Clone(counts)
		withIt[stored.Tier] = c
		if p, ok := s.line.place(withIt, stored, now); ok {
			res.Place = &p
		}
	}
	return res, nil
}

// Places returns the place in line of each pending generation of gens,
// by id: one read of the line counts, at most a second old.
func (s *API) Places(ctx context.Context, gens ...generation.Generation) map[string]Place {
	p, err := s.line.places(ctx, gens...)
	if err != nil {
		s.log.WarnContext(ctx, "no places in line", "err", err)
	}
	return p
}

// enqueueFirst sends the job of g's first attempt; it is enqueued as of
// g's last change (its creation, or an operator's retry).
func enqueueFirst(ctx context.Context, q Queue, g generation.Generation) error {
	if err := q.Send(ctx, generateJob(g, g.Attempts+1, g.UpdatedAt), 0); err != nil {
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
func (s *API) Get(ctx context.Context, c identity.Caller, id string) (generation.Generation, error) {
	if !validID(id) {
		return generation.Generation{}, notFound(id)
	}
	g, err := s.store.Get(ctx, id)
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
func (s *API) List(ctx context.Context, c identity.Caller, limit int, cursor string) (Page, error) {
	if limit == 0 {
		limit = 20
	}
	if limit < 1 || limit > MaxPageSize {
		return Page{}, invalid("invalid_limit", "limit must be between 1 and %d", MaxPageSize)
	}
	p, err := s.store.ListByUser(ctx, c.UserID, limit, cursor)
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
func (s *API) Cancel(ctx context.Context, c identity.Caller, id string) (generation.Generation, error) {
	g, err := s.Get(ctx, c, id)
	if err != nil {
		return g, err
	}
	g, err = s.update(ctx, g, func(g *generation.Generation) error {
		now := s.now()
		until := s.slotUntil(*g, now)
		if err := g.Cancel(now); err != nil {
			return err
		}
		g.SlotUntil = until
		return nil
	})
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
	s.logStep(ctx, g, stepCancelled)
	s.count(ctx, g, metrics.One(metrics.Cancelled))
	s.push.push(ctx, g)
	return g, nil
}

// slotUntil is how long a cancel of g, as it is now, keeps its owner's
// open-quota slot: while Suno may still be making the song (claimed for a
// submission, or submitted and not yet done), until Suno's time for the
// attempt is up; else not at all (zero). Cancelling then frees no room for
// another song while Suno still spends credits on this one, so a loop of
// creates and cancels spends no faster than the open quota allows.
func (s *API) slotUntil(g generation.Generation, now time.Time) time.Time {
	if !g.HoldsQuota || g.Status != generation.Processing || g.Progress >= generation.ProgressSaving {
		return time.Time{}
	}
	start := g.SubmittedAt
	if g.TaskID == "" || start.IsZero() {
		start = now // a worker may be submitting it right now
	}
	if until := start.Add(s.cfg.Deadline); until.After(now) {
		return until
	}
	return time.Time{}
}

// Delete removes the caller's finished generation from their history.
func (s *API) Delete(ctx context.Context, c identity.Caller, id string) error {
	for range 3 {
		g, err := s.Get(ctx, c, id)
		if err != nil {
			return err
		}
		if !g.Status.Terminal() {
			return &Error{Kind: KindConflict, Code: "not_finished",
				Message: fmt.Sprintf("generation %s is %s; cancel it first, or wait until it finishes", id, g.Status)}
		}
		err = s.store.Delete(ctx, g)
		switch {
		case err == nil:
			s.logStep(ctx, g, stepDeleted)
			if s.cfg.Archive {
				// After the record: a failure here leaves files nobody
				// links to, never a song whose files are gone.
				if err := s.media.Delete(ctx, g.ID); err != nil {
					s.log.ErrorContext(ctx, "copies of a deleted generation left behind", "generationId", g.ID, "err", err)
				}
			}
			return nil
		case errors.Is(err, ErrNotFound):
			return notFound(id)
		case !errors.Is(err, ErrConflict):
			return fmt.Errorf("delete generation %s: %w", id, err)
		}
		// It changed under us (an operator's retry): look again.
	}
	return &Error{Kind: KindConflict, Code: "changed", Message: fmt.Sprintf("generation %s keeps changing; try again", id)}
}

// Stats is the queue overview.
type Stats struct {
	TierStats
	ByTier map[generation.Tier]TierStats `json:"byTier"`
}

// TierStats counts one tier's generations by state, the way BullMQ's
// getJobCounts counted jobs, plus the messages in its dead-letter queue.
type TierStats struct {
	Waiting   int64 `json:"waiting"`
	Active    int64 `json:"active"`
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	Delayed   int64 `json:"delayed"`
	// Held are pending songs held while Suno is unavailable or out of
	// credits, or their tier is paused (their waitReason).
	Held      int64 `json:"held"`
	Cancelled int64 `json:"cancelled"`
	// Total counts generations; dead letters are messages, not in it.
	Total int64 `json:"total"`
	Dead  int64 `json:"deadLetters"`
}

func (t *TierStats) add(o TierStats) {
	t.Waiting += o.Waiting
	t.Active += o.Active
	t.Completed += o.Completed
	t.Failed += o.Failed
	t.Delayed += o.Delayed
	t.Held += o.Held
	t.Cancelled += o.Cancelled
	t.Total += o.Total
	t.Dead += o.Dead
}

// Stats counts generations, from the store: its per-status counters, and
// the pending ones that wait (a backoff, a rate limit) as delayed. Queue
// messages are not generations: a poll message or one held by a worker
// counts nowhere; only the dead-letter queues are read, for their depth.
func (s *API) Stats(ctx context.Context) (Stats, error) {
	now := s.now()
	counts, err := s.store.Counts(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("generation counts: %w", err)
	}
	delayed, err := s.store.Delayed(ctx, now)
	if err != nil {
		return Stats{}, fmt.Errorf("delayed generations: %w", err)
	}
	held, err := s.store.Held(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("held generations: %w", err)
	}
	dead, err := s.dead.DeadCount(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("dead letters: %w", err)
	}
	out := Stats{ByTier: make(map[generation.Tier]TierStats, len(generation.Tiers))}
	for _, t := range generation.Tiers {
		c := counts[t]
		// The reads are not one snapshot: a generation claimed between
		// them must not make waiting negative.
		h := min(held[t], c[generation.Pending])
		d := min(delayed[t], c[generation.Pending]-h)
		ts := TierStats{
			Waiting:   c[generation.Pending] - d - h,
			Delayed:   d,
			Held:      h,
			Active:    c[generation.Processing],
			Completed: c[generation.Completed],
			Failed:    c[generation.Failed],
			Cancelled: c[generation.Cancelled],
			Dead:      dead[t],
		}
		ts.Total = ts.Waiting + ts.Delayed + ts.Held + ts.Active + ts.Completed + ts.Failed + ts.Cancelled
		out.ByTier[t] = ts
		out.add(ts)
	}
	return out, nil
}

// quotaExceeded says which limit a refused create hit and when it frees.
func quotaExceeded(tier generation.Tier, qe *QuotaError, now time.Time) *Error {
	retry := max(qe.RetryAfter, time.Second).Round(time.Second)
	var msg string
	switch qe.Limit {
	case "daily":
		msg = fmt.Sprintf("you have created %d generations in the last 24 hours, the most a %s account may; the next fits in %s (at %s)",
			qe.Max, tier, retry, now.Add(retry).UTC().Format("15:04 UTC"))
	default:
		msg = fmt.Sprintf("you have %d unfinished generations, the most a %s account may have at once; one frees when a song finishes or you cancel one (a song cancelled while Suno was making it keeps its place until Suno's time for it is up)",
			qe.Max, tier)
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
