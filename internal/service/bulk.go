package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
)

// Bulk actions: an operator's cancel or retry of every song a filter
// matches (DESIGN.md section 15). A dry run counts them; a confirmed one
// is a Bulk record and a job of its own that works through the matches a
// page at a time (the worker's JobBulk), saving where it is after each
// page, so a run that dies is taken up by the message coming back. It
// never acts twice on a song: it only touches songs created before it
// began, and a retry only songs that failed before it began (a song it
// retried and that failed again is not retried again).

// BulkAction is what a bulk action does to each song it matches.
type BulkAction string

const (
	BulkCancel BulkAction = "cancel"
	BulkRetry  BulkAction = "retry"
)

// BulkRequest is an operator's bulk action, as asked.
type BulkRequest struct {
	Action BulkAction `json:"action"`
	Filter Filter     `json:"filter"`
	DryRun bool       `json:"dryRun"`
}

// Bulk is a confirmed bulk action and how far it has got.
type Bulk struct {
	ID     string     `json:"bulkId"`
	Action BulkAction `json:"action"`
	Filter Filter     `json:"filter"`
	By     string     `json:"by"`
	// Status is running or done.
	Status  string `json:"status"`
	Matched int    `json:"matched"`
	Changed int    `json:"changed"`
	// Cursor is where the page being worked on begins ("" for the first).
	Cursor string `json:"cursor,omitempty"`
	// Intent is the songs of that page the action is changing, saved
	// before it changes them; Next is where the page after it begins.
	Intent    []string  `json:"intent,omitempty"`
	Next      string    `json:"next,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	Version   int64     `json:"version"`
}

// Bulk statuses.
const (
	BulkRunning = "running"
	BulkDone    = "done"
)

// BulkAnswer is the answer to a bulk request: a dry run's count and
// sample, or a confirmed action's id.
type BulkAnswer struct {
	// BulkID is the confirmed action's; empty for a dry run.
	BulkID  string
	Matched int
	// Sample is a dry run's first matches.
	Sample []generation.Generation
}

// Bounds of a bulk action: the most songs one may match (narrow the
// filter beyond), the songs a page of its job handles, the sample a dry
// run shows.
const (
	maxBulk    = 10000
	bulkPage   = 25
	bulkSample = 10
	// bulkParallel bounds the songs a page changes at once.
	bulkParallel = 8
)

// applies reports whether the action would change g, a song the filter
// matched, for a bulk action begun at start.
func (a BulkAction) applies(g generation.Generation, start time.Time) bool {
	if !g.CreatedAt.Before(start) {
		return false
	}
	switch a {
	case BulkCancel:
		return !g.Status.Terminal()
	case BulkRetry:
		return g.Status == generation.Failed && !g.UpdatedAt.After(start)
	}
	return false
}

func (r BulkRequest) validate() error {
	if r.Action != BulkCancel && r.Action != BulkRetry {
		return invalid("invalid_action", "action must be \"cancel\" or \"retry\"")
	}
	f := r.Filter
	if f.Status != "" && !knownStatus(f.Status) {
		return invalid("invalid_status", "status %q is not one of pending, processing, completed, failed, cancelled", f.Status)
	}
	if f.Tier != "" && !f.Tier.Valid() {
		return unknownTier(f.Tier)
	}
	if f.ErrorCode != "" && !generation.KnownErrorCode(f.ErrorCode) {
		return invalid("invalid_error_code", "error %q is not a failure code (openapi.yaml's ErrorCode)", f.ErrorCode)
	}
	if !f.CreatedAfter.IsZero() && !f.CreatedBefore.IsZero() && !f.CreatedAfter.Before(f.CreatedBefore) {
		return invalid("invalid_range", "createdAfter must be before createdBefore")
	}
	return nil
}

// StartBulk answers a bulk request: with DryRun, how many songs it would
// change and a sample of them; otherwise it records the action and queues
// its job, and answers its id and the count.
func (s *Operators) StartBulk(ctx context.Context, c identity.Caller, r BulkRequest) (BulkAnswer, error) {
	if err := s.mustAdmin(c); err != nil {
		return BulkAnswer{}, err
	}
	if err := r.validate(); err != nil {
		return BulkAnswer{}, err
	}
	start := s.now()
	var ans BulkAnswer
	cursor := ""
	for {
		p, err := s.store.ListAll(ctx, r.Filter, MaxPageSize, cursor)
		if err != nil {
			return BulkAnswer{}, fmt.Errorf("count the songs of a bulk action: %w", err)
		}
		for _, g := range p.Items {
			if !r.Action.applies(g, start) {
				continue
			}
			ans.Matched++
			if len(ans.Sample) < bulkSample {
				ans.Sample = append(ans.Sample, g)
			}
		}
		if ans.Matched > maxBulk {
			return BulkAnswer{}, invalid("too_many", "the filter matches more than %d songs; narrow it (tier, user, error, createdAfter, createdBefore)", maxBulk)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if r.DryRun {
		return ans, nil
	}
	b := Bulk{ID: newID(), Action: r.Action, Filter: r.Filter, By: c.UserID, Status: BulkRunning, Matched: ans.Matched,
		CreatedAt: start, UpdatedAt: start, Version: 1}
	if ans.Matched == 0 {
		b.Status = BulkDone
	}
	if err := s.store.CreateBulk(ctx, b); err != nil {
		return BulkAnswer{}, fmt.Errorf("record the bulk action: %w", err)
	}
	if b.Status == BulkRunning {
		if err := s.queue.Send(ctx, bulkJob(b), 0); err != nil {
			return BulkAnswer{}, fmt.Errorf("queue the bulk action: %w", err)
		}
	}
	s.audit(ctx, c.UserID, "bulk-"+string(r.Action)+"-start", "bulk "+b.ID+" "+describeFilter(r.Filter), fmt.Sprintf("%d matched", b.Matched))
	return BulkAnswer{BulkID: b.ID, Matched: b.Matched}, nil
}

// BulkStatus reports a bulk action.
func (s *Operators) BulkStatus(ctx context.Context, c identity.Caller, id string) (Bulk, error) {
	if err := s.mustAdmin(c); err != nil {
		return Bulk{}, err
	}
	if !validID(id) {
		return Bulk{}, &Error{Kind: KindNotFound, Code: "not_found", Message: fmt.Sprintf("no bulk action %q", id)}
	}
	b, err := s.store.Bulk(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Bulk{}, &Error{Kind: KindNotFound, Code: "not_found", Message: fmt.Sprintf("no bulk action %q", id)}
	}
	return b, err
}

// bulkJob is the job that works through b: on the highest tier's queue,
// so operators' actions do not wait behind the backlog they act on.
func bulkJob(b Bulk) Job {
	return Job{Kind: JobBulk, BulkID: b.ID, Tier: generation.Enterprise, EnqueuedAt: b.CreatedAt}
}

// bulk works through one page of a bulk action and queues the next. It
// first saves which songs of the page it is about to change (Intent), so
// that a run that dies midway is finished by the next run of the job: a
// song of the intent that carries the action's id was changed (and is
// counted), the others are tried again. So every song is changed once and
// counted once, whatever fails when.
func (w *Worker) bulk(ctx context.Context, job Job) error {
	b, err := w.store.Bulk(ctx, job.BulkID)
	if errors.Is(err, ErrNotFound) {
		w.log.WarnContext(ctx, "job for unknown bulk action dropped", "bulk", job.BulkID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read bulk action %s: %w", job.BulkID, err)
	}
	if b.Status == BulkDone {
		return nil
	}
	if b.Intent == nil {
		p, err := w.store.ListAll(ctx, b.Filter, bulkPage, b.Cursor)
		if err != nil {
			return fmt.Errorf("bulk action %s: list: %w", b.ID, err)
		}
		b.Intent, b.Next = []string{}, p.NextCursor
		for _, g := range p.Items {
			if b.Action.applies(g, b.CreatedAt) && g.BulkID != b.ID {
				b.Intent = append(b.Intent, g.ID)
			}
		}
		if b, err = w.store.SaveBulk(ctx, b); err != nil {
			if errors.Is(err, ErrConflict) {
				return nil // another run of this job saved first: it goes on
			}
			return fmt.Errorf("save bulk action %s: %w", b.ID, err)
		}
	}
	changed, err := w.bulkPage(ctx, b)
	if err != nil {
		// The message comes back, and the intent is finished then.
		return err
	}
	b.Changed += changed
	b.Cursor, b.Intent, b.Next = b.Next, nil, ""
	b.UpdatedAt = w.now()
	if b.Cursor == "" {
		b.Status = BulkDone
	}
	saved, err := w.store.SaveBulk(ctx, b)
	if errors.Is(err, ErrConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("save bulk action %s: %w", b.ID, err)
	}
	if saved.Status == BulkDone {
		w.audit(ctx, b.By, "bulk-"+string(b.Action), "bulk "+b.ID+" "+describeFilter(b.Filter), fmt.Sprintf("done: %d of %d changed", saved.Changed, saved.Matched))
		return nil
	}
	return w.send(ctx, bulkJob(saved), 0)
}

// bulkPage changes the songs of b's intent, a few at once, and returns how
// many of them this action changed, in this run or an earlier one.
func (w *Worker) bulkPage(ctx context.Context, b Bulk) (int, error) {
	var (
		mu      sync.Mutex
		changed int
		errs    []error
		wg      sync.WaitGroup
		slots   = make(chan struct{}, bulkParallel)
	)
	for _, id := range b.Intent {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			ok, err := w.bulkSong(ctx, b, id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("bulk action %s on %s: %w", b.ID, id, err))
			}
			if ok {
				changed++
			}
		})
	}
	wg.Wait()
	return changed, errors.Join(errs...)
}

// bulkSong changes song id by b, unless it has already, and reports
// whether b changed it.
func (w *Worker) bulkSong(ctx context.Context, b Bulk, id string) (bool, error) {
	g, err := w.store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil // deleted meanwhile
	}
	if err != nil {
		return false, err
	}
	if g.BulkID == b.ID {
		return true, nil // an earlier run changed it
	}
	if !b.Action.applies(g, b.CreatedAt) {
		return false, nil // it changed meanwhile (a song that completed)
	}
	return w.bulkOne(ctx, b, g)
}

// bulkOne applies b's action to g as the single-song routes do, and
// reports whether it changed g.
func (w *Worker) bulkOne(ctx context.Context, b Bulk, g generation.Generation) (bool, error) {
	var next generation.Generation
	var err error
	switch b.Action {
	case BulkCancel:
		next, err = w.update(ctx, g, func(g *generation.Generation) error {
			if g.Status.Terminal() || !g.CreatedAt.Before(b.CreatedAt) {
				return generation.ErrNoChange
			}
			if err := g.Cancel(w.now()); err != nil {
				return err
			}
			g.BulkID = b.ID
			return nil
		})
	case BulkRetry:
		next, err = w.update(ctx, g, func(g *generation.Generation) error {
			if g.Status != generation.Failed || g.UpdatedAt.After(b.CreatedAt) {
				return generation.ErrNoChange
			}
			if err := g.Revive(w.now()); err != nil {
				return err
			}
			g.Deadline = w.openDeadline(w.now())
			g.BulkID = b.ID
			return nil
		})
	}
	var te *generation.TransitionError
	switch {
	case errors.Is(err, generation.ErrNoChange), errors.As(err, &te), errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	switch b.Action {
	case BulkCancel:
		w.logStep(ctx, next, stepCancelled, "by", b.By, "bulk", b.ID)
	case BulkRetry:
		w.logStep(ctx, next, stepRevived, "by", b.By, "bulk", b.ID)
		if err := enqueueFirst(ctx, w.queue, next); err != nil {
			return true, err
		}
	}
	w.push.push(ctx, next)
	return true, nil
}

// describeFilter is f in the words of an audit line.
func describeFilter(f Filter) string {
	s := ""
	add := func(k, v string) {
		if v != "" {
			if s != "" {
				s += " "
			}
			s += k + "=" + strconv.Quote(v)
		}
	}
	add("status", string(f.Status))
	add("tier", string(f.Tier))
	add("user", f.UserID)
	add("error", f.ErrorCode)
	if !f.CreatedAfter.IsZero() {
		add("createdAfter", f.CreatedAfter.Format(time.RFC3339))
	}
	if !f.CreatedBefore.IsZero() {
		add("createdBefore", f.CreatedBefore.Format(time.RFC3339))
	}
	if s == "" {
		return "all songs"
	}
	return s
}
