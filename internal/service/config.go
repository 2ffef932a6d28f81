package service

import (
	"context"
	"log/slog"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/health"
	"github.com/songqueue/songqueue/internal/metrics"
)

// Config tunes the pipeline. Zero values take the defaults of DESIGN.md.
type Config struct {
	Retry generation.RetryPolicy
	// ClaimLease is how long a claim blocks a redelivered copy of the same
	// job; it should exceed the worker's timeout.
	ClaimLease time.Duration
	// PollInterval is the wait before the first poll of a submitted task.
	// Later polls wait twice as long each time, up to four times it:
	// callbacks normally finish the task, and the polls are a safety net
	// whose cost should not grow with Suno's latency.
	PollInterval time.Duration
	// MaxInlineWait is the longest rate-limit wait a worker sits out in
	// place rather than by re-queueing the job; SQS delays come in whole
	// seconds, so re-queueing turns a 100 ms wait into a second.
	MaxInlineWait time.Duration
	// Deadline is how long Suno may take with one attempt before it counts
	// as a transient failure.
	Deadline time.Duration
	// Archive: the stack keeps its own copies of the songs' files
	// (DESIGN.md section 11). The roles that touch the copies are then
	// given the ports for them; without it generations complete with
	// Suno's URLs.
	Archive bool
	// MediaHosts are the hosts Suno serves audio and images from; track
	// URLs elsewhere are refused. Empty accepts none, so a task with tracks
	// cannot complete: configure it (SUNO_MEDIA_HOSTS).
	MediaHosts []string
	// Quotas bound each tier's users (DESIGN.md section 9); a tier absent
	// has none.
	Quotas map[generation.Tier]Quota
	// RecentWindow is how far back sync reports finished generations.
	RecentWindow time.Duration
	// MaxConnectionsPerUser bounds a user's open WebSocket connections
	// (WS_MAX_CONNECTIONS_PER_USER; 0 is no limit).
	MaxConnectionsPerUser int
	// MessageRate and MessageBurst bound the messages one connection may
	// send, per second and at once.
	MessageRate  float64
	MessageBurst int
	// PushTimeout bounds one push to one connection; a user's connections
	// are pushed to at once.
	PushTimeout time.Duration
	// ConnectionTTL bounds a connection record whose disconnect is missed.
	ConnectionTTL time.Duration
	// AdminGroup is the group whose members may use the operator routes
	// (ADMIN_GROUP, default admin).
	AdminGroup string
	// PauseRecheck is how long a job of a paused tier waits in its queue
	// before it looks again: the longest a resume takes to show.
	PauseRecheck time.Duration
	// ArchiveAttempts bounds the tries of one copy of a generation's files
	// before it completes with Suno's URLs; ArchiveRetry is when the
	// sweeper tries such a generation again; ArchiveDeadline is how long a
	// copy may take before the sweeper queues it again.
	ArchiveAttempts int
	ArchiveRetry    time.Duration
	ArchiveDeadline time.Duration
	// Health tunes the Suno breakers (package health).
	Health health.Policy
	// MaxWait bounds how long a song may be held (Suno unavailable, out
	// of credits, its tier paused) before it fails with max_wait_exceeded
	// (GENERATION_MAX_WAIT).
	MaxWait time.Duration
	// HoldRecheck is the longest a held job waits before it looks again;
	// it comes back sooner when the breaker's probe is due.
	HoldRecheck time.Duration
	// CreditReserve: below this many credits only paid tiers' songs are
	// submitted, so the last credits go to paying users
	// (SUNO_CREDIT_RESERVE; 0 turns the reserve off). CreditCheck is how
	// stale a credit reading may be before a held FREE song reads again.
	CreditReserve int
	CreditCheck   time.Duration
	// Line is what a pending song's place in line is computed with.
	Line LinePolicy
	// Metrics receives the application metrics (created, submitted, ...).
	Metrics metrics.Recorder
	Now     func() time.Time
	Logger  *slog.Logger
}

// DefaultConfig is DESIGN.md's pipeline: 3 attempts from 2 s, a first
// poll after 20 s, 10 minutes for Suno to finish an attempt.
func DefaultConfig() Config {
	return Config{
		Retry:                 generation.DefaultRetryPolicy(),
		ClaimLease:            2 * time.Minute,
		PollInterval:          20 * time.Second,
		MaxInlineWait:         time.Second,
		Deadline:              10 * time.Minute,
		RecentWindow:          time.Hour,
		ConnectionTTL:         2*time.Hour + 5*time.Minute,
		MaxConnectionsPerUser: 10,
		MessageRate:           5, MessageBurst: 20,
		PushTimeout:     3 * time.Second,
		AdminGroup:      "admin",
		PauseRecheck:    10 * time.Second,
		ArchiveAttempts: 4, ArchiveRetry: time.Hour, ArchiveDeadline: 10 * time.Minute,
		Health:      health.DefaultPolicy(),
		MaxWait:     6 * time.Hour,
		HoldRecheck: 15 * time.Second,
		CreditCheck: time.Minute,
	}
}

func (c Config) withDefaults() Config {
	def := DefaultConfig()
	if c.Retry.MaxAttempts <= 0 {
		c.Retry.MaxAttempts = def.Retry.MaxAttempts
	}
	if c.Retry.BackoffBase <= 0 {
		c.Retry.BackoffBase = def.Retry.BackoffBase
	}
	if c.ClaimLease <= 0 {
		c.ClaimLease = def.ClaimLease
	}
	if c.PollInterval <= 0 {
		c.PollInterval = def.PollInterval
	}
	if c.MaxInlineWait <= 0 {
		c.MaxInlineWait = def.MaxInlineWait
	}
	if c.Deadline <= 0 {
		c.Deadline = def.Deadline
	}
	if c.RecentWindow <= 0 {
		c.RecentWindow = def.RecentWindow
	}
	if c.ConnectionTTL <= 0 {
		c.ConnectionTTL = def.ConnectionTTL
	}
	if c.MessageRate <= 0 {
		c.MessageRate, c.MessageBurst = def.MessageRate, def.MessageBurst
	}
	if c.PushTimeout <= 0 {
		c.PushTimeout = def.PushTimeout
	}
	if c.AdminGroup == "" {
		c.AdminGroup = def.AdminGroup
	}
	if c.PauseRecheck <= 0 {
		c.PauseRecheck = def.PauseRecheck
	}
	if c.ArchiveAttempts <= 0 {
		c.ArchiveAttempts = def.ArchiveAttempts
	}
	if c.ArchiveRetry <= 0 {
		c.ArchiveRetry = def.ArchiveRetry
	}
	if c.ArchiveDeadline <= 0 {
		c.ArchiveDeadline = def.ArchiveDeadline
	}
	c.Health = c.Health.WithDefaults()
	if c.MaxWait <= 0 {
		c.MaxWait = def.MaxWait
	}
	if c.HoldRecheck <= 0 {
		c.HoldRecheck = def.HoldRecheck
	}
	if c.CreditCheck <= 0 {
		c.CreditCheck = def.CreditCheck
	}
	if c.Metrics == nil {
		c.Metrics = metrics.Discard
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Key is a secret the service reads when it first needs it.
type Key func(ctx context.Context) ([]byte, error)

// StaticKey is a key known from the start.
func StaticKey(k []byte) Key {
	return func(context.Context) ([]byte, error) { return k, nil }
}
