package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/auth"
	"github.com/songqueue/songqueue/internal/batch"
	"github.com/songqueue/songqueue/internal/cors"
	"github.com/songqueue/songqueue/internal/eventsource"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/httpapi"
	"github.com/songqueue/songqueue/internal/lambdaapp"
	"github.com/songqueue/songqueue/internal/logging"
	"github.com/songqueue/songqueue/internal/memory"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/sunofake"
)

// Options are what a caller of Start may add to the configuration.
type Options struct {
	// Options are the environment's, as every function's: the logger
	// (default JSON lines), the metrics (default debug lines on the
	// logger), the clock, the AWS configuration (for tests that pick
	// their emulator) and the decorators tests use.
	app.Options
	// Page serves the web page at /; nil serves a placeholder.
	Page http.Handler
	// FakeSuno adjusts the in-process fake's configuration.
	FakeSuno func(*sunofake.Config)
	// NoEventStream leaves the generations table's stream unread on the
	// AWS backend, for tests that do not listen to the domain events: a
	// reader polls the emulator every second, and dozens of test stacks'
	// readers slowed a shared moto enough to fail their timing.
	NoEventStream bool
}

// Stack is a running local system.
type Stack struct {
	Config Config
	URL    string // http://host:port
	WSURL  string // ws://host:port/ws
	// Roles are every function's role, on the stack's adapters.
	Roles *service.Roles
	// Generations is the store and Queue the tier queues the roles use,
	// on either backend, for tests that look inside or inject.
	Generations service.Store
	Queue       service.Queue
	Fake        *sunofake.Server // nil when SUNO_BASE_URL points elsewhere
	// Store and MemoryQueues are the memory backend's adapters (nil on
	// the AWS backend).
	Store        *memory.Store
	MemoryQueues *memory.Queues
	Tokens       auth.HS256
	// AllowedOrigins are the origins whose pages may call the API and open
	// the WebSocket: the stack's own page's and Config.CORSOrigins.
	AllowedOrigins []string

	server   *http.Server
	draining atomic.Bool
	workers  sync.WaitGroup
	stop     context.CancelFunc
	// events publishes the domain events (events.go) until stopEvents,
	// which Shutdown calls once the workers are done.
	events     sync.WaitGroup
	stopEvents context.CancelFunc
	log        *slog.Logger
	// crash is the broken-worker rehearsal (crash.go).
	crash workerCrash
}

// DemoUser is a ready-made user of one tier.
type DemoUser struct {
	UserID string          `json:"userId"`
	Tier   generation.Tier `json:"tier"`
	Token  string          `json:"token"`
	Groups []string        `json:"groups,omitempty"`
}

// Start runs the stack until Shutdown.
func Start(ctx context.Context, cfg Config, opt Options) (*Stack, error) {
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := checkExposure(cfg); err != nil {
		return nil, err
	}
	local, err := parseTrusted(cfg.TrustedClients)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("listen on %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	base := "http://" + ln.Addr().String()
	s := &Stack{Config: cfg, URL: base, WSURL: "ws://" + ln.Addr().String() + "/ws", log: log}
	s.Tokens = auth.HS256{Secret: []byte(cfg.JWTSecret), TierClaim: cfg.Auth.TierClaim}

	// This process is API Gateway too: Suno calls back here, and on the
	// AWS backend the notifier posts to the @connections routes here.
	mux := http.NewServeMux()
	if cfg.SunoBaseURL == "" {
		fc := sunofake.DefaultConfig()
		fc.APIKey = cfg.SunoKey.Value
		for _, k := range cfg.SunoKeys {
			fc.APIKeys = append(fc.APIKeys, k.Value) // each its own account
		}
		fc.TextDelay, fc.FirstDelay, fc.CompleteDelay = cfg.FakeTextDelay, cfg.FakeFirstDelay, cfg.FakeCompleteDelay
		if cfg.FakeCredits >= 0 {
			fc.Credits, fc.LimitCredits = cfg.FakeCredits, true
		}
		fc.Logger = log.With("component", "fake-suno")
		if opt.FakeSuno != nil {
			opt.FakeSuno(&fc)
		}
		s.Fake = sunofake.New(fc)
		mux.Handle("/suno/", local.only(http.StripPrefix("/suno", s.Fake)))
		mux.Handle("GET /fake-audio/", local.only(s.Fake))
		mux.Handle("GET /fake-image/", local.only(s.Fake))
		cfg.SunoBaseURL = base + "/suno"
	}
	// A fake's tracks are served where the fake is: the in-process one, or
	// one on this machine (cmd/fakesuno). A remote Suno's are not.
	if u, err := url.Parse(cfg.SunoBaseURL); err == nil && loopback(u.Hostname()) {
		cfg.Pipeline.MediaHosts = append(slices.Clone(cfg.Pipeline.MediaHosts), u.Host)
	}
	if cfg.CallbackBaseURL == "" {
		cfg.CallbackBaseURL = base
	}
	if cfg.Media.BaseURL == "" {
		cfg.Media.BaseURL = base + "/media" // served below, from MEDIA_DIR or the bucket
	}
	if !cfg.CallbackSecret.Set() {
		// A key of its own, new at every start: nothing else signs with it,
		// and callbacks to URLs of an earlier run are refused (the poll
		// jobs finish those songs).
		cfg.CallbackSecret.Value = randomKey()
	}
	hub := memory.NewHub()
	appOpt := opt.Options
	appOpt.Logger = log
	if cfg.Backend == app.AWS && cfg.WebSocketEndpoint == "" {
		cfg.WebSocketEndpoint = base
	}
	fail := func(err error) (*Stack, error) {
		ln.Close()
		if s.Fake != nil {
			s.Fake.Close()
		}
		return nil, err
	}
	env, err := app.NewEnv(ctx, cfg.Config, appOpt)
	if err != nil {
		return fail(err)
	}
	b, err := s.backend(ctx, env, hub)
	if err != nil {
		return fail(err)
	}
	roles, err := app.Local(env, b.ports, b.limiter)
	if err != nil {
		return fail(err)
	}
	s.Config, s.Roles, s.Generations, s.Queue = cfg, roles, b.ports.Store, b.ports.Queue

	// API Gateway's CORS answers before any function sees the request. It
	// allows the stack's own page and the configured origins.
	s.AllowedOrigins = ownOrigins(cfg.Host, ln.Addr().(*net.TCPAddr).Port)
	for _, o := range cfg.CORSOrigins {
		if !slices.Contains(s.AllowedOrigins, o) {
			s.AllowedOrigins = append(s.AllowedOrigins, o)
		}
	}
	policy := cors.Default(s.AllowedOrigins)
	rt := &realtime{svc: roles.Realtime, verifier: s.Tokens, hub: hub, cors: policy, log: log}
	// The limits per caller, as the API and callback functions apply them
	// (the stack's clients mostly share one address: loopback).
	routes := httpapi.Routes{Songs: roles.API, Operators: roles.Operators, Callbacks: roles.Callbacks, Limits: lambdaapp.RequestLimits(env, b.ports.Buckets)}
	mux.Handle("/api/", policy.Handler(withRequestID(s.unlessDraining(httpapi.New(routes, httpapi.BearerAuth{Verifier: s.Tokens}, log)))))
	// The developer's routes have no CORS: no page of another site may
	// read a demo token (local.only).
	mux.Handle("/api/dev/users", local.only(http.HandlerFunc(s.serveDemoUsers)))
	mux.Handle("/api/dev/token", local.only(http.HandlerFunc(s.serveDemoToken)))
	mux.Handle("POST /api/dev/crash-worker", local.only(http.HandlerFunc(s.serveCrashWorker)))
	mux.HandleFunc("GET /ws", rt.serveWS)
	if b.media != nil {
		mux.Handle("/media/", http.StripPrefix("/media", b.media))
	}
	mux.Handle("/@connections/{id}", local.only(http.HandlerFunc(rt.serveConnections)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	if opt.Page != nil {
		mux.Handle("/", opt.Page)
	} else {
		mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte("<!doctype html><title>songqueue</title><h1>songqueue local stack</h1><p>API at /api, WebSocket at /ws.</p>"))
		})
	}

	// Timeouts, so slow or idle clients cannot hold connections open; the
	// WebSocket handler lifts them for its own connections.
	s.server = &http.Server{
		Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute,
	}
	go func() {
		if err := s.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	}()

	workCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	for _, tier := range generation.Tiers {
		s.workers.Go(func() {
			eventsource.Run(workCtx, b.source, tier, eventsource.Options{
				MaxConcurrency: cfg.Concurrency, BatchSize: cfg.BatchSize,
				Wait: time.Second, Timeout: cfg.WorkerTimeout, Logger: log,
			}, func(ctx context.Context, r batch.Record) error {
				if err := s.crash.err(tier, time.Now()); err != nil {
					return err // before the worker runs: as a crash would
				}
				// The message id stands in for the Lambda request id.
				return roles.Worker.Handle(logging.WithRequestID(ctx, "msg-"+r.ID), r)
			})
		})
	}
	s.workers.Go(func() { s.runSweeper(workCtx, lambdaapp.SweepHandler(env, roles.Sweeper)) })
	eventsCtx, stopEvents := context.WithCancel(context.WithoutCancel(ctx))
	s.stopEvents = stopEvents
	if err := s.startEvents(eventsCtx, env, opt.NoEventStream); err != nil {
		log.Error("domain events are not published", "err", err)
	}
	return s, nil
}

// runSweeper invokes the sweeper function's handler on its schedule, as
// EventBridge does in AWS, until ctx ends.
func (s *Stack) runSweeper(ctx context.Context, sweep func(context.Context, events.EventBridgeEvent) (service.SweepReport, error)) {
	t := time.NewTicker(s.Config.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		invocation, cancel := context.WithTimeout(logging.WithRequestID(ctx, "sweep-"+newRequestID()), s.Config.SweeperTimeout)
		if _, err := sweep(invocation, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"}); err != nil {
			s.log.Error("sweeper invocation failed", "err", err)
		}
		cancel()
	}
}

// unlessDraining refuses new API requests once shutdown has begun, while
// the server stays up for what the jobs in flight still need: the
// in-process fake Suno and its callbacks.
func (s *Stack) unlessDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() && r.URL.Path != "/api/suno/callback" {
			w.Header().Set("Retry-After", "5")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":"shutting_down","message":"the server is shutting down; retry shortly"}}` + "\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Shutdown stops accepting API requests, lets the workers finish the jobs
// they hold, then stops the server and the fake Suno.
func (s *Stack) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.stop()
	done := make(chan struct{})
	go func() { s.workers.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("workers still busy: %w", ctx.Err())
	}
	// The workers' last writes are in the outbox: publish them, then stop.
	s.stopEvents()
	published := make(chan struct{})
	go func() { s.events.Wait(); close(published) }()
	select {
	case <-published:
	case <-ctx.Done():
	}
	err = errors.Join(err, s.server.Shutdown(ctx))
	if s.Fake != nil {
		s.Fake.Close()
	}
	return err
}

// DemoUsers mints a token for a demo user of each tier, and for an
// operator (an ENTERPRISE user in the admin group).
func (s *Stack) DemoUsers() ([]DemoUser, error) {
	var out []DemoUser
	for _, t := range generation.Tiers {
		id := "demo-" + strings.ToLower(string(t))
		tok, err := s.Tokens.Mint(id, t, 30*24*time.Hour)
		if err != nil {
			return nil, err
		}
		out = append(out, DemoUser{UserID: id, Tier: t, Token: tok})
	}
	admin := DemoUser{UserID: "demo-admin", Tier: generation.Enterprise, Groups: []string{s.Roles.Operators.AdminGroup()}}
	tok, err := s.Tokens.Mint(admin.UserID, admin.Tier, 30*24*time.Hour, admin.Groups...)
	if err != nil {
		return nil, err
	}
	admin.Token = tok
	return append(out, admin), nil
}

// withRequestID gives each API request an id, as API Gateway does: in
// every log line of the request and in the apigw-requestid header.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := newRequestID()
		w.Header().Set("Apigw-Requestid", id)
		next.ServeHTTP(w, r.WithContext(logging.WithRequestID(r.Context(), id)))
	})
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Stack) serveDemoUsers(w http.ResponseWriter, _ *http.Request) {
	users, err := s.DemoUsers()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"users": users})
}

// serveDemoToken answers a demo user's token as plain text, for shells:
// TOKEN=$(curl -s localhost:3001/api/dev/token?tier=PRO); ?user=demo-admin
// for the operator.
func (s *Stack) serveDemoToken(w http.ResponseWriter, r *http.Request) {
	users, err := s.DemoUsers()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	tier, id := string(generation.TierNamed(r.URL.Query().Get("tier"))), r.URL.Query().Get("user")
	if tier == "" && id == "" {
		tier = string(generation.Pro)
	}
	if id == "" && !generation.Tier(tier).Valid() {
		// As every route that takes a tier: 400, not 404.
		http.Error(w, fmt.Sprintf("unknown_tier: tier %q is not one of ENTERPRISE, PREMIUM, PRO, FREE (or ask for ?user=demo-admin)", tier), http.StatusBadRequest)
		return
	}
	for _, u := range users {
		if (id != "" && u.UserID == id) || (id == "" && string(u.Tier) == tier && len(u.Groups) == 0) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = fmt.Fprintln(w, u.Token)
			return
		}
	}
	http.Error(w, "no such demo user: ask for ?tier=ENTERPRISE|PREMIUM|PRO|FREE or ?user=demo-admin", http.StatusNotFound)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{"event":"error"}`)
	}
	return b
}

func randomKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
