// Package sunofake is a fake of the sunoapi.org v1 API for tests and the
// local stack. It speaks the same contract as the real service (see package
// suno): tasks progress PENDING → TEXT_SUCCESS → FIRST_SUCCESS → SUCCESS on
// a configurable schedule, callbacks are posted at each stage, and prompt
// directives ([fake:…], see Directives) inject failures for one task.
package sunofake

// Where things live:
//
//	server.go      Server, Config, New, Close, routing and the counters
//	handlers.go    the generate and record-info handlers, validation, the API key check
//	schedule.go    tasks: their state machine over time and the callbacks they send
//	wire.go        the JSON the fake answers and posts: envelope, record-info, callbacks
//	media.go       the audio and cover image handlers and what they serve
//	directives.go  the [fake:…] prompt directives

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Config tunes a fake server. The zero value is usable: no key check, every
// stage reached at once, no random failures.
type Config struct {
	// APIKey, when set, must come as "Authorization: Bearer <APIKey>".
	APIKey string
	// TextDelay, FirstDelay and CompleteDelay are the times from submission
	// to TEXT_SUCCESS, FIRST_SUCCESS and SUCCESS. Each is raised to at least
	// the one before it.
	TextDelay, FirstDelay, CompleteDelay time.Duration
	// FailRate is the probability (0..1) that an otherwise valid submission
	// fails with a transient server error.
	FailRate float64
	// DuplicateCallbacks posts every callback twice, as a caller that
	// retries would, so that tests see duplicate callbacks handled.
	DuplicateCallbacks bool
	// CallbackTimeout bounds one callback POST; 0 means 15 s, the timeout
	// sunoapi.org documents for its own callbacks.
	CallbackTimeout time.Duration
	// HTTPClient sends the callbacks; nil means a plain http.Client.
	HTTPClient *http.Client
	// Logger receives what the fake does; nil discards it.
	Logger *slog.Logger
}

// DefaultConfig returns delays that make a pleasant demo: lyrics after 2 s,
// a streamable first track after 5 s, everything after 10 s.
func DefaultConfig() Config {
	return Config{
		TextDelay:       2 * time.Second,
		FirstDelay:      5 * time.Second,
		CompleteDelay:   10 * time.Second,
		CallbackTimeout: defaultCallbackTimeout,
		Logger:          slog.Default(),
	}
}

const (
	defaultCallbackTimeout = 15 * time.Second
	maxRequestBody         = 1 << 20
	tracksPerTask          = 2 // sunoapi.org: "each request returns exactly 2 songs"
)

// Server is the fake. It implements http.Handler; Close stops the callbacks
// it still has to send.
type Server struct {
	cfg      Config
	log      *slog.Logger
	hc       *http.Client
	mux      *http.ServeMux
	instance string // tells task ids of different runs apart

	// ctx is cancelled by Close and stops every callback goroutine,
	// including a POST in flight; wg counts those goroutines.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	closed      bool
	seq         int
	submissions int
	byPrompt    map[string]int
	limited     map[string]int
	tasks       map[string]*task
}

// New returns a fake configured by cfg.
func New(cfg Config) *Server {
	if cfg.CallbackTimeout <= 0 {
		cfg.CallbackTimeout = defaultCallbackTimeout
	}
	cfg.FirstDelay = max(cfg.FirstDelay, cfg.TextDelay)
	cfg.CompleteDelay = max(cfg.CompleteDelay, cfg.FirstDelay)
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		hc:       cfg.HTTPClient,
		byPrompt: make(map[string]int),
		limited:  make(map[string]int),
		tasks:    make(map[string]*task),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.hc == nil {
		s.hc = &http.Client{}
	}
	var b [2]byte
	crand.Read(b[:])
	s.instance = hex.EncodeToString(b[:])
	s.ctx, s.cancel = context.WithCancel(context.Background())

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /api/v1/generate", s.handleGenerate)
	s.mux.HandleFunc("GET /api/v1/generate/record-info", s.handleRecordInfo)
	s.mux.HandleFunc("GET /fake-audio/", s.handleAudio)
	s.mux.HandleFunc("GET /fake-image/", s.handleImage)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close stops every pending callback, cancels those in flight and waits for
// their goroutines to end. Later submissions are refused. It is safe to call
// more than once.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// Submissions returns how many submit calls the fake received, accepted or
// not.
func (s *Server) Submissions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.submissions
}

// SubmissionsFor returns how many submit calls carried exactly this prompt,
// accepted or not (requests refused before their body was read, such as
// unauthenticated ones, are not counted).
func (s *Server) SubmissionsFor(prompt string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byPrompt[prompt]
}

// RateLimitedFor returns how many submissions of this prompt the fake
// turned away with a rate limit ([fake:ratelimit=N]): the ones that are
// not attempts.
func (s *Server) RateLimitedFor(prompt string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited[prompt]
}

// Tasks returns how many tasks the fake accepted.
func (s *Server) Tasks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tasks)
}
