// Package service is the application: it creates generations, runs the
// worker's stages, applies Suno's callbacks and pushes every change to the
// owner's connections. It talks to the outside only through the ports
// declared here, which the memory and AWS adapters implement.
package service

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/health"
	"github.com/songqueue/songqueue/internal/media"
	"github.com/songqueue/songqueue/internal/ratelimit"
)

// Errors every adapter reports in the same way.
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict means a conditional write lost: the item changed since it
	// was read, or already exists.
	ErrConflict = errors.New("conflict: item changed concurrently")
	// ErrGone means a WebSocket connection no longer exists.
	ErrGone = errors.New("connection gone")
	// ErrTooManyConnections means a user already has the most WebSocket
	// connections open that they may.
	ErrTooManyConnections = errors.New("too many connections")
	// ErrKeyDeleted means an idempotency key is still remembered but the
	// generation it created has been deleted: a retry with the key can
	// neither return that generation nor make another one.
	ErrKeyDeleted = errors.New("the generation of this idempotency key has been deleted")
)

// Store keeps generations, the user's history.
type Store interface {
	// Create stores g, which must be new. With a non-empty idempotency key,
	// a second Create by the same user with the same key stores nothing and
	// returns the first generation with created false, whatever the quota;
	// when that generation has since been deleted while the key is still
	// remembered, it stores nothing and returns ErrKeyDeleted. Otherwise the create must fit g's owner's quota, checked and counted
	// in the same atomic write: a create beyond it stores nothing and
	// returns a *QuotaError.
	Create(ctx context.Context, g generation.Generation, idempotencyKey string, quota Quota) (stored generation.Generation, created bool, err error)
	// Get returns the generation or ErrNotFound.
	Get(ctx context.Context, id string) (generation.Generation, error)
	// Save writes g if the stored version is still g.Version and returns g
	// with its new version; otherwise ErrConflict. from is the status g had
	// when read, so the adapter can keep its per-status counters exact.
	Save(ctx context.Context, g generation.Generation, from generation.Status) (generation.Generation, error)
	// ListByUser returns a user's generations, newest first, a page at a
	// time; cursor is opaque and empty for the first page.
	ListByUser(ctx context.Context, userID string, limit int, cursor string) (Page, error)
	// Counts returns how many generations are in each status, per tier.
	Counts(ctx context.Context) (map[generation.Tier]StatusCounts, error)
	LineReader
	QuotaReader
	BulkStore
	AuditLog
	// Delayed returns how many pending generations of each tier wait until
	// after now, held ones aside (generation.Delayed): a backoff or a rate
	// limit.
	Delayed(ctx context.Context, now time.Time) (map[generation.Tier]int64, error)
	// Held returns how many pending generations of each tier are held
	// (generation.Held): Suno unavailable, out of credits, a paused tier.
	Held(ctx context.Context) (map[generation.Tier]int64, error)
	// Delete removes g, which must be finished and still at g.Version;
	// otherwise ErrConflict (or ErrNotFound when it is gone).
	Delete(ctx context.Context, g generation.Generation) error
	// ListAll returns every user's generations that match f, newest first,
	// a page at a time, for operators.
	ListAll(ctx context.Context, f Filter, limit int, cursor string) (Page, error)
	// Overdue returns up to limit generations with work left
	// (generation.Open) whose deadline has passed, for the sweeper.
	Overdue(ctx context.Context, now time.Time, limit int) ([]generation.Generation, error)
}

// Filter narrows an operator's listing; zero fields match everything.
type Filter struct {
	Status generation.Status `json:"status,omitempty"`
	Tier   generation.Tier   `json:"tier,omitempty"`
	UserID string            `json:"userId,omitempty"`
	// ErrorCode is a failed generation's failure code (openapi's
	// ErrorCode).
	ErrorCode string `json:"error,omitempty"`
	// CreatedAfter and CreatedBefore bound when it was created
	// (exclusive).
	CreatedAfter  time.Time `json:"createdAfter,omitzero"`
	CreatedBefore time.Time `json:"createdBefore,omitzero"`
}

// Match reports whether g passes f.
func (f Filter) Match(g generation.Generation) bool {
	return (f.Status == "" || g.Status == f.Status) && (f.Tier == "" || g.Tier == f.Tier) && (f.UserID == "" || g.UserID == f.UserID) &&
		(f.ErrorCode == "" || g.ErrorCode == f.ErrorCode) &&
		(f.CreatedAfter.IsZero() || g.CreatedAt.After(f.CreatedAfter)) &&
		(f.CreatedBefore.IsZero() || g.CreatedAt.Before(f.CreatedBefore))
}

// BulkStore keeps operators' bulk actions (bulk.go).
type BulkStore interface {
	// CreateBulk stores b, which must be new (ErrConflict otherwise).
	CreateBulk(ctx context.Context, b Bulk) error
	// Bulk returns the bulk action or ErrNotFound.
	Bulk(ctx context.Context, id string) (Bulk, error)
	// SaveBulk writes b if the stored version is still b.Version and
	// returns it with its new version; otherwise ErrConflict.
	SaveBulk(ctx context.Context, b Bulk) (Bulk, error)
}

// AuditLog keeps what operators did, newest first.
type AuditLog interface {
	RecordAudit(ctx context.Context, e AuditEntry) error
	// RecentAudit returns up to limit entries, newest first.
	RecentAudit(ctx context.Context, limit int) ([]AuditEntry, error)
}

// AuditEntry is one operator action: who did what to what, and how it
// went.
type AuditEntry struct {
	At       time.Time `json:"at"`
	Operator string    `json:"operator"`
	Action   string    `json:"action"`
	Target   string    `json:"target"`
	Outcome  string    `json:"outcome"`
}

// Controls hold what operators switch: which tiers are paused. Every
// worker reads them, so a pause holds across workers and restarts.
type Controls interface {
	PauseReader
	SetPaused(ctx context.Context, tier generation.Tier, paused bool) error
}

// DeadLetters are the queues' dead-letter queues, for operators.
type DeadLetters interface {
	// DeadCount reports how many messages each tier's dead-letter queue
	// holds.
	DeadCounter
	// DeadLetters returns up to limit messages of tier's dead-letter queue
	// without taking them out of it.
	DeadLetters(ctx context.Context, tier generation.Tier, limit int) ([]DeadLetter, error)
	// Redrive moves every dead letter of tier back to its queue and
	// returns how many moved.
	Redrive(ctx context.Context, tier generation.Tier) (int, error)
}

// DeadLetter is one message of a dead-letter queue.
type DeadLetter struct {
	MessageID    string
	Body         []byte
	ReceiveCount int
}

// Page is one page of a listing.
type Page struct {
	Items      []generation.Generation
	NextCursor string
}

// StatusCounts counts generations by status.
type StatusCounts map[generation.Status]int64

// QuotaReader reads what counts against a user's quota, for the user to
// see: the state Create checks a quota against.
type QuotaReader interface {
	// QuotaState returns userID's quota state as Create reads it (strongly
	// consistent: a create or an end just answered is in it); the zero
	// state for a user who never created anything. Held slots that have
	// ended and creates that have left the window may be in it: Quota.Use
	// leaves them out, as Quota.Admit does.
	QuotaState(ctx context.Context, userID string) (QuotaState, error)
}

// QuotaState is a user's quota as a store keeps it: Open unfinished
// generations holding a slot, the release times of the slots Held by songs
// cancelled while Suno was making them, and the recent Creates, oldest
// first (kept only while the user's tier has a daily quota).
type QuotaState struct {
	Open    int
	Held    []time.Time
	Creates []time.Time
}

// LineReader reads each tier's line: what a place in line is computed
// from, without looking at the line itself.
type LineReader interface {
	// Line returns each tier's line counts, exact as the status counts.
	Line(ctx context.Context) (map[generation.Tier]LineCounts, error)
}

// LineCounts is a tier's line: how many of its generations are pending,
// and how many have ever entered the line as pending (created, or sent
// back to wait by a retry or a hold).
type LineCounts struct {
	Pending int64
	Entered int64
}

// Connections is the registry of open WebSocket connections.
type Connections interface {
	// PutConnection registers c (again, if its id is registered). With a
	// limit above zero it registers it only while c's user has fewer than
	// limit other live (not expired) connections, checked and written
	// atomically, so concurrent connects cannot exceed it; otherwise it
	// returns ErrTooManyConnections and registers nothing.
	PutConnection(ctx context.Context, c Connection, limit int) error
	DeleteConnection(ctx context.Context, id string) error
	UserConnections(ctx context.Context, userID string) ([]Connection, error)
	// ConnectedUsers returns up to limit users with a connection open (not
	// expired), each once, in no particular order.
	ConnectedUsers(ctx context.Context, limit int) ([]string, error)
}

// Connection is one open WebSocket of a user.
type Connection struct {
	ID          string          `json:"connectionId"`
	UserID      string          `json:"userId"`
	Tier        generation.Tier `json:"tier"`
	ConnectedAt time.Time       `json:"connectedAt"`
	// ExpiresAt lets the store forget connections whose disconnect was
	// never seen; API Gateway closes any connection after two hours.
	ExpiresAt time.Time `json:"expiresAt"`
}

// Queue sends jobs to the queue of their tier.
type Queue interface {
	// Send enqueues job, visible after delay. Adapters whose queues cap the
	// delay deliver early; the worker re-defers a job before its NotBefore.
	Send(ctx context.Context, job Job, delay time.Duration) error
}

// The queues' defaults, which every queue adapter takes and template.yaml
// declares: a received message stays hidden for DefaultVisibilityTimeout
// (Lambda's guidance: six times the worker's timeout, 30 s), and moves to
// the dead-letter queue after DefaultMaxReceiveCount receives.
const (
	DefaultVisibilityTimeout = 180 * time.Second
	DefaultMaxReceiveCount   = 5
)

// QueueDepth is what a tier's queues hold, as the queue adapters report it
// (their Depth) to the tests that check their semantics. The service counts
// generations, not messages, and reads only the dead letters
// (DeadLetters.DeadCount).
type QueueDepth struct {
	Waiting  int64 `json:"waiting"`  // visible, ready to be received
	InFlight int64 `json:"inFlight"` // received, not yet deleted
	Delayed  int64 `json:"delayed"`  // not yet visible
	Dead     int64 `json:"dead"`     // in the dead-letter queue
}

// Media is the stack's own storage of the songs' files (DESIGN.md section
// 11): an S3 bucket in AWS, a directory locally.
type Media interface {
	// Put stores size bytes of contentType from body at key; the same key
	// stored twice holds the last copy.
	Put(ctx context.Context, key, contentType string, body io.Reader, size int64) error
	// URL is where users fetch key.
	URL(key string) string
	// Delete removes every file under prefix.
	Delete(ctx context.Context, prefix string) error
}

// Fetcher downloads a file of kind from Suno's media hosts to a
// temporary file (media.Fetcher).
type Fetcher interface {
	Fetch(ctx context.Context, url string, kind media.Kind) (*media.File, error)
}

// Notifier delivers a message to one WebSocket connection.
type Notifier interface {
	// Post returns ErrGone when the connection no longer exists.
	Post(ctx context.Context, connectionID string, payload []byte) error
	// Close ends a connection whose token has expired; ErrGone when it no
	// longer exists. A notifier that cannot close connections (none is
	// configured) forgets it, and the client learns at its next message.
	Close(ctx context.Context, connectionID string) error
}

// RateLimiter hands out a Suno account's submission tokens.
type RateLimiter interface {
	// Take takes a token for the job that asks (package ratelimit's
	// policy). When none is free to it the grant is not OK and says how
	// long to wait before asking again.
	Take(ctx context.Context, a ratelimit.Ask) (Grant, error)
}

// Grant is the answer to Take. A token comes with the account's breaker
// as the same write read it (BreakerKnown), so the happy path learns that
// Suno is healthy at no extra cost.
type Grant struct {
	OK           bool
	RetryAfter   time.Duration
	Breaker      health.Breaker
	BreakerKnown bool
}

// Breakers keep a Suno account's breaker (package health), shared by every
// worker: beside the rate limiter's state, in the same item.
type Breakers interface {
	// Breaker reads the account's breaker; the zero value when none was
	// ever written.
	Breaker(ctx context.Context) (health.Breaker, error)
	// UpdateBreaker applies change to the stored breaker atomically,
	// applying it again when another worker wrote first; a change that
	// returns generation.ErrNoChange writes nothing.
	UpdateBreaker(ctx context.Context, change func(*health.Breaker) error) (health.Breaker, error)
}

// Account is one Suno account's shared state: its rate window and its
// breaker.
type Account interface {
	RateLimiter
	Breakers
	WindowReader
}

// WindowReader reads how much of an account's rate window is in use, for
// operators.
type WindowReader interface {
	Usage(ctx context.Context) (WindowUsage, error)
}

// WindowUsage is an account's rate window: at most Limit submissions in
// any Window, Used of them in the one that ends now.
type WindowUsage struct {
	Limit  int
	Window time.Duration
	Used   int
}

// Suno is the music-generation API: the worker submits and asks.
type Suno interface {
	// Submit starts a task making req; the service reports on it to
	// callbackURL when that is not empty. Errors classify themselves
	// (generation.Classify).
	Submit(ctx context.Context, req generation.Request, callbackURL string) (taskID string, err error)
	TaskReader
	CreditReader
}

// CreditReader reads the account's remaining credits: the breaker's probe,
// and the sweeper's schedule.
type CreditReader interface {
	Credits(ctx context.Context) (int, error)
}

// TaskReader asks Suno how a task is doing: what the callback and the
// sweeper need of Suno.
type TaskReader interface {
	Task(ctx context.Context, taskID string) (generation.TaskReport, error)
}

// PauseReader says which tiers operators have paused: what the worker and
// the sweeper need of Controls.
type PauseReader interface {
	Paused(ctx context.Context) (map[generation.Tier]bool, error)
}

// DeadCounter counts each tier's dead letters: what the statistics need of
// DeadLetters.
type DeadCounter interface {
	DeadCount(ctx context.Context) (map[generation.Tier]int64, error)
}

// MediaRemover deletes a generation's copies: what the API needs of Media.
type MediaRemover interface {
	Delete(ctx context.Context, prefix string) error
}
