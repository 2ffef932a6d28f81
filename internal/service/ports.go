// Package service is the application: it creates generations, runs the
// worker's stages, applies Suno's callbacks and pushes every change to the
// owner's connections. It talks to the outside only through the ports
// declared here, which the memory and AWS adapters implement.
package service

import (
	"context"
	"errors"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// Errors every adapter reports in the same way.
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict means a conditional write lost: the item changed since it
	// was read, or already exists.
	ErrConflict = errors.New("conflict: item changed concurrently")
	// ErrGone means a WebSocket connection no longer exists.
	ErrGone = errors.New("connection gone")
)

// Store keeps generations, the user's history.
type Store interface {
	// Create stores g, which must be new. With a non-empty idempotency key,
	// a second Create by the same user with the same key stores nothing and
	// returns the first generation with created false, whatever the quota.
	// Otherwise the create must fit g's owner's quota, checked and counted
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
	// Overdue returns up to limit generations that are not terminal and
	// whose deadline has passed, for the sweeper.
	Overdue(ctx context.Context, now time.Time, limit int) ([]generation.Generation, error)
}

// Page is one page of a listing.
type Page struct {
	Items      []generation.Generation
	NextCursor string
}

// StatusCounts counts generations by status.
type StatusCounts map[generation.Status]int64

// Connections is the registry of open WebSocket connections.
type Connections interface {
	PutConnection(ctx context.Context, c Connection) error
	DeleteConnection(ctx context.Context, id string) error
	UserConnections(ctx context.Context, userID string) ([]Connection, error)
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
	// Depth reports the messages in each tier's queue.
	Depth(ctx context.Context) (map[generation.Tier]QueueDepth, error)
}

// QueueDepth is what a queue holds.
type QueueDepth struct {
	Waiting  int64 `json:"waiting"`  // visible, ready to be received
	InFlight int64 `json:"inFlight"` // received, not yet deleted
	Delayed  int64 `json:"delayed"`  // not yet visible
	Dead     int64 `json:"dead"`     // in the dead-letter queue
}

// JobKind tells the worker what a message asks for.
type JobKind string

const (
	// JobGenerate submits an attempt of a generation to Suno.
	JobGenerate JobKind = "generate"
	// JobPoll asks Suno how a submitted task is doing.
	JobPoll JobKind = "poll"
)

// Job is the body of a queue message.
type Job struct {
	Kind         JobKind         `json:"kind"`
	GenerationID string          `json:"generationId"`
	Tier         generation.Tier `json:"tier"`
	// UserID is the generation's owner: the message group of an SQS fair
	// queue, so one user's backlog does not hold up the tier's other users.
	UserID string `json:"userId,omitempty"`
	// Attempt is the attempt a generate job starts; a stale duplicate of an
	// earlier attempt is recognised by it and dropped.
	Attempt int `json:"attempt,omitempty"`
	// TaskID is the Suno task a poll job asks about.
	TaskID string `json:"taskId,omitempty"`
	// Polls counts the polls of that task so far.
	Polls int `json:"polls,omitempty"`
	// EnqueuedAt is when the job first entered the queue; the rate limiter
	// promotes jobs that have waited long, so no tier starves.
	EnqueuedAt time.Time `json:"enqueuedAt"`
	// NotBefore is when the job may run, for delays longer than a queue
	// supports.
	NotBefore time.Time `json:"notBefore,omitzero"`
}

// Notifier delivers a message to one WebSocket connection.
type Notifier interface {
	// Post returns ErrGone when the connection no longer exists.
	Post(ctx context.Context, connectionID string, payload []byte) error
}

// RateLimiter hands out the global Suno submission tokens.
type RateLimiter interface {
	// Take takes a token for a job of tier that has been waiting for
	// waited. When none is free to that tier it returns false and how long
	// to wait before asking again.
	Take(ctx context.Context, tier generation.Tier, waited time.Duration) (ok bool, retryAfter time.Duration, err error)
}

// Suno is the music-generation API.
type Suno interface {
	// Submit starts a task making req; the service reports on it to
	// callbackURL when that is not empty. Errors classify themselves
	// (generation.Classify).
	Submit(ctx context.Context, req generation.Request, callbackURL string) (taskID string, err error)
	// Record says how the task is doing.
	Record(ctx context.Context, taskID string) (generation.TaskReport, error)
}
