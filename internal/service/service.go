package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
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
	// CallbackBaseURL is the public base URL Suno calls back; empty means
	// no callbacks, polling only.
	CallbackBaseURL string
	// CallbackKey signs callback URLs so that only Suno, which was given
	// the URL, can report on a generation. It is read when first needed,
	// so a function whose secret lives in Secrets Manager starts without
	// waiting for it.
	CallbackKey Key
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
	if c.Metrics == nil {
		c.Metrics = metrics.Discard
	}
	if c.CallbackKey == nil {
		c.CallbackKey = func(context.Context) ([]byte, error) {
			return nil, errors.New("no callback signing key is configured")
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Deps are the adapters the service runs on.
type Deps struct {
	Store       Store
	Connections Connections
	Queue       Queue
	Notifier    Notifier
	Limiter     RateLimiter
	Suno        Suno
	// Controls are the operators' switches; DeadLetters the dead-letter
	// queues (nil where nobody administers them: the worker needs only
	// Controls, the API both).
	Controls    Controls
	DeadLetters DeadLetters
	// Media and Fetcher copy the songs' files into the stack's storage;
	// without them generations complete with Suno's URLs.
	Media   Media
	Fetcher Fetcher
}

// Service is the application. It is safe for concurrent use.
type Service struct {
	Deps
	cfg      Config
	log      *slog.Logger
	messages *messageLimiter
	pushing  keyedMutex
	served   servedUsers
}

// New returns a service on deps.
func New(deps Deps, cfg Config) *Service {
	cfg = cfg.withDefaults()
	return &Service{Deps: deps, cfg: cfg, log: cfg.Logger, messages: newMessageLimiter(cfg.MessageRate, cfg.MessageBurst)}
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// newID returns a random UUID (version 4).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Key is a secret the service reads when it first needs it.
type Key func(ctx context.Context) ([]byte, error)

// StaticKey is a key known from the start.
func StaticKey(k []byte) Key {
	return func(context.Context) ([]byte, error) { return k, nil }
}

// CallbackSignature is the signature that proves a callback URL was issued
// for generation id.
func (s *Service) CallbackSignature(ctx context.Context, id string) (string, error) {
	key, err := s.cfg.CallbackKey(ctx)
	if err != nil {
		return "", fmt.Errorf("callback signing key: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil))[:32], nil
}

func (s *Service) callbackURL(ctx context.Context, id string) (string, error) {
	if s.cfg.CallbackBaseURL == "" {
		return "", nil
	}
	sig, err := s.CallbackSignature(ctx, id)
	if err != nil {
		return "", err
	}
	q := url.Values{"g": {id}, "sig": {sig}}
	return s.cfg.CallbackBaseURL + "/api/suno/callback?" + q.Encode(), nil
}

// update applies change to g and saves it, re-reading and re-applying when
// another writer got there first. It returns the stored generation, or
// generation.ErrNoChange when there was nothing to do.
func (s *Service) update(ctx context.Context, g generation.Generation, change func(*generation.Generation) error) (generation.Generation, error) {
	const attempts = 5
	for i := 0; ; i++ {
		from := g.Status
		next := g
		next.Tracks = append([]generation.Track(nil), g.Tracks...)
		if err := change(&next); err != nil {
			return g, err
		}
		saved, err := s.Store.Save(ctx, next, from)
		if err == nil {
			return saved, nil
		}
		if !errors.Is(err, ErrConflict) || i == attempts-1 {
			return g, fmt.Errorf("save generation %s: %w", g.ID, err)
		}
		if g, err = s.Store.Get(ctx, g.ID); err != nil {
			return g, fmt.Errorf("reload generation %s: %w", g.ID, err)
		}
	}
}
