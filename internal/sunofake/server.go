// Package sunofake is a fake of the sunoapi.org v1 API for tests and the
// local stack. It speaks the same contract as the real service (see package
// suno): tasks progress PENDING → TEXT_SUCCESS → FIRST_SUCCESS → SUCCESS on
// a configurable schedule, callbacks are posted at each stage, and prompt
// directives ([fake:…], see Directives) inject failures for one task.
//
// # Bad days
//
// The fake can also have a bad day, switched from outside while it runs:
//
//   - Trouble modes (Mode, SetTrouble) answer every API call (submit,
//     record-info, credit) as an outage would: "maintenance" (body code
//     455), "credits" (submissions get body code 429, the credit endpoint
//     answers 0), "key_refused" (HTTP 401, body code 401), "http_503" (a
//     load balancer's HTML 503), "drop" (the connection is closed with no
//     answer), "slow" (answers after the slow delay), and "ok". A mode may
//     be set for a time, after which it reverts to "ok" by itself, and for
//     every key or for one.
//   - Accounts: every accepted API key (Config.APIKey, APIKeys) has a
//     credit balance (Config.Credits, unlimited by default), spent by each
//     accepted submission (Config.CreditsPerSubmission, 1 by default) and
//     read at GET /api/v1/generate/credit ({"code":200,"msg":"success",
//     "data":<balance>}); a submission it cannot cover gets body code 429
//     "insufficient credits". With Config.RateLimit, each key may make at
//     most RateLimit submissions in any RateWindow (sliding, counted on
//     arrival); beyond, body code 430.
//   - Counters per key (Accepted, Refused, TooFrequent,
//     InsufficientCredits, AcceptedAt, FullestWindow), per mode
//     (TroubleRequests), and all of it at once (State).
//
// The zero Config has none of it: no key check, unlimited credits, no rate
// window, no trouble.
//
// # Control routes
//
// These answer only clients on this machine (RemoteAddr in 127.0.0.0/8 or
// ::1); anyone else gets 403. Each answers the State as JSON; an error is
// HTTP 400 with {"error":"…"}.
//
//	POST /_fake/trouble  {"mode":"maintenance","for":"30s","key":"…"}
//	    sets a trouble mode (TroubleRequest): "for" (optional) makes it
//	    revert to "ok" by itself, "key" (optional) limits it to one key,
//	    "delay" (optional) sets the slow delay. {"mode":"ok"} without a
//	    key ends every trouble.
//	POST /_fake/credits  {"key":"…","credits":1000} or {"key":"…","add":500}
//	    sets (-1: unlimited) or tops up a balance (CreditsRequest); no key:
//	    every account.
//	GET  /_fake/state[?arrivals=1]
//	    the trouble, each key's trouble, credits and counters, and with
//	    arrivals=1 the arrival times of the accepted submissions.
//
// For example, against cmd/fakesuno:
//
//	curl -s -X POST localhost:3002/_fake/trouble -d '{"mode":"maintenance","for":"1m"}'
//
// In the local stack (make dev) the fake is mounted under /suno, so the
// routes are /suno/_fake/….
package sunofake

// Where things live:
//
//	server.go      Server, Config, New, Close, routing and the counters
//	handlers.go    the generate, record-info and credit handlers, validation
//	trouble.go     the trouble modes and how they answer
//	accounts.go    keys, the API key check, credits, rate windows, per-key counters, State
//	control.go     the /_fake/ control routes
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
	// APIKeys are more keys the fake accepts, besides APIKey. Every key is
	// an account with its own credits, rate window and trouble. With
	// neither, there is no key check.
	APIKeys []string
	// Credits is the balance each account starts with. 0 (the zero
	// Config) and negative values mean unlimited, unless LimitCredits is
	// set: then Credits is a balance even at 0, for accounts that start
	// empty.
	Credits      int
	LimitCredits bool
	// CreditsPerSubmission is what an accepted submission costs; 0 means
	// DefaultCreditsPerSubmission (1, so a balance counts submissions).
	// A submission the balance cannot cover is answered with code 429.
	CreditsPerSubmission int
	// RateLimit, when > 0, is the most submissions one key may make in
	// any RateWindow (0: DefaultRateWindow), counted on arrival; beyond it
	// the fake answers code 430. 0 means no window.
	RateLimit  int
	RateWindow time.Duration
	// SlowDelay is how long ModeSlow holds each call; 0 means
	// DefaultSlowDelay.
	SlowDelay time.Duration
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

	keys []string // accepted API keys; none: no key check

	mu           sync.Mutex
	closed       bool
	seq          int
	submissions  int
	byPrompt     map[string]int
	limited      map[string]int
	tasks        map[string]*task
	accounts     map[string]*account
	startBalance int     // what an account made later starts with
	trouble      trouble // the whole service's
	troubleCount map[Mode]int
	slowDelay    time.Duration
}

// New returns a fake configured by cfg.
func New(cfg Config) *Server {
	if cfg.CallbackTimeout <= 0 {
		cfg.CallbackTimeout = defaultCallbackTimeout
	}
	cfg.FirstDelay = max(cfg.FirstDelay, cfg.TextDelay)
	cfg.CompleteDelay = max(cfg.CompleteDelay, cfg.FirstDelay)
	if cfg.CreditsPerSubmission <= 0 {
		cfg.CreditsPerSubmission = DefaultCreditsPerSubmission
	}
	if cfg.RateWindow <= 0 {
		cfg.RateWindow = DefaultRateWindow
	}
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = DefaultSlowDelay
	}
	s := &Server{
		cfg:          cfg,
		log:          cfg.Logger,
		hc:           cfg.HTTPClient,
		byPrompt:     make(map[string]int),
		limited:      make(map[string]int),
		tasks:        make(map[string]*task),
		accounts:     make(map[string]*account),
		startBalance: Unlimited,
		troubleCount: make(map[Mode]int),
		slowDelay:    cfg.SlowDelay,
	}
	if cfg.Credits > 0 || (cfg.LimitCredits && cfg.Credits == 0) {
		s.startBalance = cfg.Credits
	}
	for _, k := range append([]string{cfg.APIKey}, cfg.APIKeys...) {
		if k != "" && s.accounts[k] == nil {
			s.keys = append(s.keys, k)
			s.accounts[k] = &account{balance: s.startBalance}
		}
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
	s.mux.HandleFunc("POST /api/v1/generate", s.api(true, s.handleGenerate))
	s.mux.HandleFunc("GET /api/v1/generate/record-info", s.api(false, s.handleRecordInfo))
	s.mux.HandleFunc("GET /api/v1/generate/credit", s.api(false, s.handleCredit))
	s.mux.HandleFunc("POST /_fake/trouble", s.control(s.handleSetTrouble))
	s.mux.HandleFunc("POST /_fake/credits", s.control(s.handleSetCredits))
	s.mux.HandleFunc("GET /_fake/state", s.control(s.handleState))
	s.mux.HandleFunc("/_fake/", s.control(http.NotFound))
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
