// Package localstack runs the whole system in one process: the HTTP API,
// the WebSocket endpoint (with API Gateway's @connections management
// routes), the page, queues with an emulated Lambda event source, the store
// and the fake Suno, wired to the same service the Lambdas run.
package localstack

import (
	"fmt"
	"os"
	"time"

	"github.com/songqueue/songqueue/internal/envconfig"
	"github.com/songqueue/songqueue/internal/service"
)

// Config is the stack's configuration, from the environment of DESIGN.md
// section 7 and a few knobs of our own.
type Config struct {
	Port           int           // PORT, default 3001; 0 picks a free port
	Host           string        // HOST, default 127.0.0.1
	JWTSecret      string        // JWT_SECRET; a fixed development secret by default
	TierClaim      string        // TIER_CLAIM, the token claim with the tier; default tier
	SunoBaseURL    string        // SUNO_BASE_URL; empty runs the fake in-process
	SunoAPIKey     string        // SUNO_API_KEY
	Concurrency    int           // GENERATION_CONCURRENCY, per tier, default 5
	service.Tuning               // rate limit, retries, polls: as the Lambdas read them
	Visibility     time.Duration // QUEUE_VISIBILITY_TIMEOUT, default 30s
	MaxReceives    int           // QUEUE_MAX_RECEIVE_COUNT, default 5
	BatchSize      int           // WORKER_BATCH_SIZE, default 1
	AWSEndpointURL string        // AWS_ENDPOINT_URL: use the AWS adapters there
	// Backend is "memory" or "aws" (BACKEND); it defaults to aws when
	// AWS_ENDPOINT_URL is set, so real credentials alone need BACKEND=aws.
	Backend        string
	ResourcePrefix string // RESOURCE_PREFIX for AWS names, default songqueue
	// Fake Suno timings, when it runs in-process (FAKE_SUNO_*_DELAY).
	FakeTextDelay, FakeFirstDelay, FakeCompleteDelay time.Duration
}

// DefaultConfig is the embedded default of make dev.
func DefaultConfig() Config {
	return Config{
		Port: 3001, Host: "127.0.0.1", Concurrency: 5, Tuning: service.DefaultTuning(),
		Visibility: 30 * time.Second, MaxReceives: 5, BatchSize: 1,
		ResourcePrefix:    "songqueue",
		Backend:           "memory",
		JWTSecret:         DevJWTSecret,
		FakeTextDelay:     2 * time.Second,
		FakeFirstDelay:    5 * time.Second,
		FakeCompleteDelay: 10 * time.Second,
	}
}

// FromEnv reads the configuration from getenv over the defaults.
func FromEnv(getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	r := envconfig.New(getenv)
	r.Int("PORT", &c.Port, 0)
	r.String("HOST", &c.Host)
	r.String("JWT_SECRET", &c.JWTSecret)
	r.String("TIER_CLAIM", &c.TierClaim)
	r.String("SUNO_BASE_URL", &c.SunoBaseURL)
	r.String("SUNO_API_KEY", &c.SunoAPIKey)
	r.Int("GENERATION_CONCURRENCY", &c.Concurrency, 1)
	c.Tuning.ReadEnv(r)
	r.Duration("QUEUE_VISIBILITY_TIMEOUT", &c.Visibility)
	r.Int("QUEUE_MAX_RECEIVE_COUNT", &c.MaxReceives, 1)
	r.Int("WORKER_BATCH_SIZE", &c.BatchSize, 1)
	r.String("AWS_ENDPOINT_URL", &c.AWSEndpointURL)
	r.String("RESOURCE_PREFIX", &c.ResourcePrefix)
	if c.AWSEndpointURL != "" {
		c.Backend = "aws"
	}
	r.String("BACKEND", &c.Backend)
	if c.Backend != "memory" && c.Backend != "aws" {
		r.Fail(fmt.Errorf("BACKEND=%q: want memory or aws", c.Backend))
	}
	r.Duration("FAKE_SUNO_TEXT_DELAY", &c.FakeTextDelay)
	r.Duration("FAKE_SUNO_FIRST_DELAY", &c.FakeFirstDelay)
	r.Duration("FAKE_SUNO_COMPLETE_DELAY", &c.FakeCompleteDelay)
	return c, r.Err()
}

// EnvOrDefault is FromEnv on the process environment.
func EnvOrDefault() (Config, error) { return FromEnv(os.Getenv) }

// DevJWTSecret signs the demo tokens of the local stack. It is public on
// purpose: tokens survive a restart, and nothing real is behind them.
const DevJWTSecret = "songqueue-local-development-only"
