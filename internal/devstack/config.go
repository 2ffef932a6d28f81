// Package devstack runs the whole system in one process: every function
// of template.yaml on the application that package app assembles. The
// HTTP API and Suno's callback, the WebSocket endpoint with its
// authorizer and API Gateway's @connections management routes, the worker
// on queues with an emulated Lambda event source, the sweeper on its
// schedule, the page, and the fake Suno.
package devstack

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/cors"
	"github.com/songqueue/songqueue/internal/envconfig"
)

// Config is the stack's configuration: the application's, read from the
// same variables as the Lambdas (app.Config), and the settings of the
// process that stands in for API Gateway, Lambda and EventBridge.
type Config struct {
	app.Config
	Port int // PORT, default 3001; 0 picks a free port
	// Host is the address listened on (HOST, default 127.0.0.1). Any
	// address beyond this machine needs an explicit JWT_SECRET and
	// SUNO_API_KEY.
	Host string
	// TrustedClients are networks, beside this machine, that may use the
	// demo tokens, the in-process fake Suno and the @connections routes
	// (TRUSTED_CLIENTS, CIDRs; e.g. Docker's bridge for sam local).
	TrustedClients string
	// CORSOrigins are the origins, beside the stack's own page's
	// (http://localhost:PORT and http://127.0.0.1:PORT), whose pages may
	// call the API and open the WebSocket (CORS_ALLOW_ORIGINS,
	// comma-separated, e.g. http://localhost:5173; "*" for any), as the
	// HTTP API's CorsConfiguration in template.yaml (package cors). The
	// developer's routes (/api/dev/*, @connections) allow none.
	CORSOrigins []string
	JWTSecret   string // JWT_SECRET; a fixed development secret by default
	// Concurrency is each tier's most worker invocations at once
	// (GENERATION_CONCURRENCY, default 5), as the event source mappings'
	// MaximumConcurrency in AWS.
	Concurrency int
	BatchSize   int // WORKER_BATCH_SIZE, default 1
	// SweepInterval is how often the sweeper runs (SWEEP_INTERVAL), as its
	// schedule in template.yaml; SweeperTimeout bounds one run, as its
	// Timeout.
	SweepInterval, SweeperTimeout time.Duration
	// Fake Suno timings, when it runs in-process (FAKE_SUNO_*_DELAY).
	FakeTextDelay, FakeFirstDelay, FakeCompleteDelay time.Duration
	// FakeCredits is the in-process fake's credit balance, one spent per
	// accepted submission (FAKE_SUNO_CREDITS; negative: unlimited).
	FakeCredits int
}

// DefaultConfig is the embedded default of make dev.
func DefaultConfig() Config {
	return Config{
		Config: app.DefaultConfig(),
		Port:   3001, Host: "127.0.0.1", JWTSecret: DevJWTSecret,
		Concurrency: 5, BatchSize: 1,
		SweepInterval: 2 * time.Minute, SweeperTimeout: time.Minute,
		FakeTextDelay:     2 * time.Second,
		FakeFirstDelay:    5 * time.Second,
		FakeCompleteDelay: 10 * time.Second,
		FakeCredits:       -1,
	}
}

// FromEnv reads the configuration from getenv over the defaults.
func FromEnv(getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	r := envconfig.New(getenv)
	c.Config.Read(r, getenv)
	r.Int("PORT", &c.Port, 0)
	r.String("HOST", &c.Host)
	r.String("TRUSTED_CLIENTS", &c.TrustedClients)
	if v := getenv("CORS_ALLOW_ORIGINS"); v != "" {
		c.CORSOrigins = cors.ParseOrigins(v)
	}
	if _, err := parseTrusted(c.TrustedClients); err != nil {
		r.Fail(err)
	}
	r.String("JWT_SECRET", &c.JWTSecret)
	r.Int("GENERATION_CONCURRENCY", &c.Concurrency, 1)
	r.Int("WORKER_BATCH_SIZE", &c.BatchSize, 1)
	r.Duration("SWEEP_INTERVAL", &c.SweepInterval)
	r.Duration("SWEEPER_TIMEOUT", &c.SweeperTimeout)
	r.Duration("FAKE_SUNO_TEXT_DELAY", &c.FakeTextDelay)
	r.Duration("FAKE_SUNO_FIRST_DELAY", &c.FakeFirstDelay)
	r.Duration("FAKE_SUNO_COMPLETE_DELAY", &c.FakeCompleteDelay)
	if v := getenv("FAKE_SUNO_CREDITS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			r.Fail(fmt.Errorf("FAKE_SUNO_CREDITS=%q: want a whole number of credits (negative: unlimited)", v))
		}
		c.FakeCredits = n
	}
	return c, r.Err()
}

// EnvOrDefault is FromEnv on the process environment.
func EnvOrDefault() (Config, error) { return FromEnv(os.Getenv) }

// DevJWTSecret signs the demo tokens of the local stack. It is public on
// purpose: tokens survive a restart, and nothing real is behind them.
const DevJWTSecret = "songqueue-local-development-only"
