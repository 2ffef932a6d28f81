package app

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/songqueue/songqueue/internal/auth"
	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/envconfig"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/logging"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/sqsqueue"
	"github.com/songqueue/songqueue/internal/throttle"
)

// Backend is where the application keeps its state.
type Backend string

const (
	// Memory keeps everything in the process: make dev's default.
	Memory Backend = "memory"
	// AWS is DynamoDB, SQS and the API Gateway management API: the
	// Lambdas, and the local stack against an emulator or an account.
	AWS Backend = "aws"
)

// Config is the application's configuration, the same in every Lambda and
// in the local stack. Each setting, its variable and its default are
// written here once (README, Configuration):
//
//	BACKEND                               memory or aws; aws when any AWS_ENDPOINT_URL* is set
//	RESOURCE_PREFIX                       prefix of the default names (default songqueue)
//	GENERATIONS_TABLE, CONNECTIONS_TABLE  table names (default <prefix>-generations, -connections)
//	QUEUE_URL_<TIER>, DLQ_URL_<TIER>      queue URLs per tier; when absent they are looked up by
//	                                      name (<prefix>-<tier>[-dlq]), or created on an emulator
//	QUEUE_VISIBILITY_TIMEOUT, QUEUE_MAX_RECEIVE_COUNT
//	                                      the queues' settings where this process makes the queues
//	WEBSOCKET_ENDPOINT                    management API of the WebSocket stage; empty: events are
//	                                      not pushed (the state is still stored)
//	SUNO_BASE_URL                         default https://api.sunoapi.org (the local stack: its fake)
//	SUNO_MEDIA_HOSTS                      hosts track URLs may point at (DefaultMediaHosts; the local
//	                                      stack adds its fake's)
//	SUNO_API_KEY_SECRET_ARN | SUNO_API_KEY_PARAMETER | SUNO_API_KEY
//	                                      the one Suno account's key
//	SUNO_API_KEYS, SUNO_API_KEY_SECRET_ARNS, SUNO_API_KEYS_SECRET_ARN
//	                                      several accounts: keys, secrets of one key each, one
//	                                      secret holding a JSON list of keys (not with the
//	                                      single account's secret or parameter)
//	CALLBACK_BASE_URL                     public base URL Suno calls back; empty: polling only
//	CALLBACK_SECRET_ARN | CALLBACK_SECRET the key that signs callback URLs
//	JWT_ISSUER, JWT_AUDIENCE, JWKS_URL, TIER_CLAIM, DEV_JWT_SECRET
//	                                      how tokens are verified (auth.Settings)
//	GENERATION_RATE_LIMIT, GENERATION_RATE_WINDOW, GENERATION_RATE_BURST
//	                                      the most Suno submissions in any window (10 per 1s), how
//	                                      many at once (3)
//	WS_MAX_CONNECTIONS_PER_USER           open WebSocket connections per user (10; 0 no limit)
//	WS_MESSAGE_RATE, WS_MESSAGE_BURST     client messages per second per connection (5, 20 at once),
//	                                      in every instance together
//	API_RATE_PER_USER, API_BURST_PER_USER requests per second per user on the HTTP API (5, 30 at once;
//	                                      0 no limit)
//	API_RATE_PER_IP, API_BURST_PER_IP     requests per second per source address, users and refused
//	                                      tokens together (20, 100 at once; 0 no limit)
//	CALLBACK_RATE_PER_IP, CALLBACK_BURST_PER_IP
//	                                      Suno callbacks per second per source address (30, 100)
//	QUOTA_OPEN_<TIER>, QUOTA_DAILY_<TIER> the most unfinished generations, and creates in 24 hours,
//	                                      per user (DefaultQuotas; 0 is no limit)
//	RATE_LIMIT_AGING_STEP, GENERATION_MAX_ATTEMPTS, GENERATION_BACKOFF_BASE,
//	GENERATION_POLL_INTERVAL, GENERATION_DEADLINE, CLAIM_LEASE
//	ADMIN_GROUP                           the token group of operators (admin)
//	PAUSE_RECHECK                         how often a paused tier's job looks again (10s)
//	LOG_LEVEL                             DEBUG, INFO (default), WARN, ERROR; AWS_LAMBDA_LOG_LEVEL wins
//	LOG_FORMAT                            json (the functions' default) or text (the local stack's)
//	METRICS_NAMESPACE                     CloudWatch namespace of the metrics (SongQueue)
//	MEDIA_BUCKET | MEDIA_DIR, MEDIA_BASE_URL, MEDIA_MAX_BYTES
//	                                      where the songs' copies are kept (an S3 bucket, or a
//	                                      directory locally) and served; no base URL: no copies
//	EVENT_BUS_NAME                        the EventBridge bus of the domain events (the publisher
//	                                      function's; empty: the log and EVENTS_WEBHOOK_URL)
//	EVENTS_WEBHOOK_URL                    where the local stack also posts each domain event
type Config struct {
	Backend Backend
	// Emulator is set when an AWS_ENDPOINT_URL variable points some AWS
	// service at an emulator: the tables and queues missing there are
	// created at start.
	Emulator  bool
	Names     awsinfra.Names
	QueueURLs map[generation.Tier]sqsqueue.URLs // nil: look them up, or create them on an emulator
	// QueueSettings are the tier queues' attributes where this process
	// makes the queues (an emulator), and what the memory queues use.
	QueueSettings sqsqueue.Settings
	// WorkerTimeout bounds one worker invocation (WORKER_TIMEOUT): the
	// worker function's Timeout in template.yaml, and the local stack's
	// stand-in for it. Check holds it below CLAIM_LEASE.
	WorkerTimeout time.Duration

	WebSocketEndpoint string
	SunoBaseURL       string // empty: sunoapi.org, or the local stack's fake
	SunoKey           SecretRef
	// SunoKeys name several Suno accounts (SUNO_API_KEYS, comma-separated
	// keys; in AWS SUNO_API_KEY_SECRET_ARNS, comma-separated secrets of
	// one key each, read when first needed), each with its own rate
	// window, breaker and credits. Empty, and no SunoKeysSecret: the one
	// account of SunoKey.
	SunoKeys []SecretRef
	// SunoKeysSecret is one Secrets Manager secret holding several
	// accounts' keys as a JSON list (SUNO_API_KEYS_SECRET_ARN), read when
	// the accounts are assembled (their number is in it), after SunoKeys.
	SunoKeysSecret  SecretRef
	CallbackBaseURL string
	CallbackSecret  SecretRef
	// Auth says how tokens are verified: JWT_ISSUER, JWT_AUDIENCE,
	// JWKS_URL, TIER_CLAIM, DEV_JWT_SECRET (auth.Settings).
	Auth auth.Settings

	// Requests are the HTTP API's limits per caller (DESIGN.md section
	// 16); the WebSocket's message limit is Pipeline's MessageRate.
	Requests RequestLimits

	// Pipeline is the service's retry policy, lease, polls and deadline;
	// its callback settings and clock are filled in by New.
	Pipeline  service.Config
	RateLimit ratelimit.Policy
	LogLevel  slog.Level
	// LogFormat is empty unless LOG_FORMAT sets it: each program has its
	// default (JSON lines in Lambda, text in the local stack).
	LogFormat        logging.Format
	MetricsNamespace string
	// Media is where the songs' copies go (DESIGN.md section 11).
	Media MediaConfig
	// Events is where the domain events go (DESIGN.md section 15).
	Events EventsConfig
}

// EventsConfig says where the domain events are published: an EventBridge
// bus (the publisher function's, or the local stack's when set), else the
// log and, when set, a webhook.
type EventsConfig struct {
	Bus        string // EVENT_BUS_NAME: a bus name or ARN
	WebhookURL string // EVENTS_WEBHOOK_URL: http(s), posted EventBridge's envelope
}

// RequestLimits bound each caller's requests to the HTTP API (package
// throttle; httpapi.Limits): per user, per source address, and per
// source address on Suno's callback route. Every instance of the API and
// callback functions takes from the same buckets (DynamoDB items).
type RequestLimits struct {
	User     throttle.Limit // API_RATE_PER_USER, API_BURST_PER_USER
	IP       throttle.Limit // API_RATE_PER_IP, API_BURST_PER_IP
	Callback throttle.Limit // CALLBACK_RATE_PER_IP, CALLBACK_BURST_PER_IP
}

// DefaultRequestLimits are generous for a person's page (a listing, the
// statistics, a status poll a second and a few creates at once fit within
// the burst and the rate many times over) and strict enough that one user
// takes at most a twentieth of the HTTP API's stage throttle (100 a
// second), and one address a fifth. Suno calls back up to three times a
// song, from few addresses: 30 a second is three callbacks a song at the
// default Suno rate (GENERATION_RATE_LIMIT, 10 a second), below the
// callback route's own throttle in template.yaml (50 a second), so one
// address flooding the route leaves room for Suno's.
func DefaultRequestLimits() RequestLimits {
	return RequestLimits{
		User:     throttle.Limit{Rate: 5, Burst: 30},
		IP:       throttle.Limit{Rate: 20, Burst: 100},
		Callback: throttle.Limit{Rate: 30, Burst: 100},
	}
}

// MediaConfig says where the copies of the songs' files are kept and
// served: a directory on the memory backend, a bucket on the AWS one.
// Without a base URL nothing is copied.
type MediaConfig struct {
	Dir      string // MEDIA_DIR, default <temp>/songqueue-media
	Bucket   string // MEDIA_BUCKET, default <prefix>-media on an emulator
	BaseURL  string // MEDIA_BASE_URL: where users fetch them
	MaxBytes int64  // MEDIA_MAX_BYTES, the largest file copied (64 MiB)
}

// SecretRef says where a secret is: a Secrets Manager secret, an SSM
// parameter, or the value itself, tried in that order.
type SecretRef struct {
	Name      string // the environment variable family, for messages
	SecretARN string
	Parameter string
	Value     string
}

// Set reports whether the reference names anything.
func (r SecretRef) Set() bool { return r.SecretARN != "" || r.Parameter != "" || r.Value != "" }

// DefaultConfig is the configuration when the environment says nothing.
func DefaultConfig() Config {
	return Config{
		Backend:          Memory,
		Names:            awsinfra.DefaultNames(""),
		QueueSettings:    sqsqueue.DefaultSettings(),
		WorkerTimeout:    DefaultWorkerTimeout,
		Auth:             auth.DefaultSettings(),
		SunoKey:          SecretRef{Name: "SUNO_API_KEY"},
		SunoKeysSecret:   SecretRef{Name: "SUNO_API_KEYS"},
		CallbackSecret:   SecretRef{Name: "CALLBACK_SECRET"},
		Requests:         DefaultRequestLimits(),
		Pipeline:         withQuotas(service.DefaultConfig()),
		RateLimit:        ratelimit.DefaultPolicy(),
		LogLevel:         slog.LevelInfo,
		MetricsNamespace: DefaultMetricsNamespace,
		Media:            MediaConfig{Dir: filepath.Join(os.TempDir(), "songqueue-media"), MaxBytes: 64 << 20},
	}
}

// DefaultMetricsNamespace is the metrics' CloudWatch namespace unless
// METRICS_NAMESPACE says otherwise; the template gives each stack its own.
const DefaultMetricsNamespace = "SongQueue"

// FromEnv reads the configuration through getenv (os.Getenv when nil) over
// the defaults, and every problem at once.
func FromEnv(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := DefaultConfig()
	r := envconfig.New(getenv)
	c.Read(r, getenv)
	return c, r.Err()
}

// Read sets c from the variables that are set, reporting bad values to r;
// a program with settings of its own (the local stack) reads those with
// the same r, so one error lists everything wrong.
func (c *Config) Read(r *envconfig.Reader, getenv func(string) string) {
	c.Emulator = awsinfra.EmulatorConfigured(getenv)
	if c.Emulator {
		c.Backend = AWS
	}
	r.String("BACKEND", (*string)(&c.Backend))
	if c.Backend != Memory && c.Backend != AWS {
		r.Fail(fmt.Errorf("BACKEND=%q: want memory or aws", c.Backend))
	}

	prefix := c.Names.Prefix
	r.String("RESOURCE_PREFIX", &prefix)
	c.Names = awsinfra.DefaultNames(prefix)
	r.String("GENERATIONS_TABLE", &c.Names.Generations)
	r.String("CONNECTIONS_TABLE", &c.Names.Connections)
	c.QueueURLs = queueURLs(r, getenv)
	r.Duration("QUEUE_VISIBILITY_TIMEOUT", &c.QueueSettings.VisibilityTimeout)
	r.Int("QUEUE_MAX_RECEIVE_COUNT", &c.QueueSettings.MaxReceiveCount, 1)

	r.String("WEBSOCKET_ENDPOINT", &c.WebSocketEndpoint)
	c.WebSocketEndpoint = strings.TrimRight(c.WebSocketEndpoint, "/")
	r.String("SUNO_BASE_URL", &c.SunoBaseURL)
	var hosts string
	r.String("SUNO_MEDIA_HOSTS", &hosts)
	if hosts != "" {
		c.Pipeline.MediaHosts = nil
		for _, h := range strings.Split(hosts, ",") {
			if h = strings.TrimSpace(h); h != "" {
				c.Pipeline.MediaHosts = append(c.Pipeline.MediaHosts, h)
			}
		}
	}
	c.SunoKey = SecretRef{Name: "SUNO_API_KEY", SecretARN: getenv("SUNO_API_KEY_SECRET_ARN"), Parameter: getenv("SUNO_API_KEY_PARAMETER"), Value: getenv("SUNO_API_KEY")}
	c.SunoKeys = nil
	for i, v := range splitList(getenv("SUNO_API_KEYS")) {
		c.SunoKeys = append(c.SunoKeys, SecretRef{Name: fmt.Sprintf("SUNO_API_KEYS[%d]", i+1), Value: v})
	}
	for i, arn := range splitList(getenv("SUNO_API_KEY_SECRET_ARNS")) {
		c.SunoKeys = append(c.SunoKeys, SecretRef{Name: fmt.Sprintf("SUNO_API_KEY_SECRET_ARNS[%d]", i+1), SecretARN: arn})
	}
	c.SunoKeysSecret = SecretRef{Name: "SUNO_API_KEYS", SecretARN: strings.TrimSpace(getenv("SUNO_API_KEYS_SECRET_ARN"))}
	r.String("CALLBACK_BASE_URL", &c.CallbackBaseURL)
	c.CallbackBaseURL = strings.TrimRight(c.CallbackBaseURL, "/")
	c.CallbackSecret = SecretRef{Name: "CALLBACK_SECRET", SecretARN: getenv("CALLBACK_SECRET_ARN"), Value: getenv("CALLBACK_SECRET")}
	c.Auth.Read(r)

	r.PositiveFloat("GENERATION_RATE_LIMIT", &c.RateLimit.Rate)
	r.Duration("GENERATION_RATE_WINDOW", &c.RateLimit.Window)
	r.Int("GENERATION_RATE_BURST", &c.RateLimit.Burst, 1)
	r.Duration("RATE_LIMIT_AGING_STEP", &c.RateLimit.AgingStep)
	r.Int("GENERATION_MAX_ATTEMPTS", &c.Pipeline.Retry.MaxAttempts, 1)
	r.Duration("GENERATION_BACKOFF_BASE", &c.Pipeline.Retry.BackoffBase)
	r.Duration("GENERATION_POLL_INTERVAL", &c.Pipeline.PollInterval)
	r.Duration("GENERATION_DEADLINE", &c.Pipeline.Deadline)
	r.Duration("CLAIM_LEASE", &c.Pipeline.ClaimLease)
	r.Duration("WORKER_TIMEOUT", &c.WorkerTimeout)
	r.Int("WS_MAX_CONNECTIONS_PER_USER", &c.Pipeline.MaxConnectionsPerUser, 0)
	r.PositiveFloat("WS_MESSAGE_RATE", &c.Pipeline.MessageRate)
	r.Int("WS_MESSAGE_BURST", &c.Pipeline.MessageBurst, 1)
	r.NonNegativeFloat("API_RATE_PER_USER", &c.Requests.User.Rate)
	r.Int("API_BURST_PER_USER", &c.Requests.User.Burst, 1)
	r.NonNegativeFloat("API_RATE_PER_IP", &c.Requests.IP.Rate)
	r.Int("API_BURST_PER_IP", &c.Requests.IP.Burst, 1)
	r.NonNegativeFloat("CALLBACK_RATE_PER_IP", &c.Requests.Callback.Rate)
	r.Int("CALLBACK_BURST_PER_IP", &c.Requests.Callback.Burst, 1)
	quotas := maps.Clone(c.Pipeline.Quotas)
	if quotas == nil {
		quotas = map[generation.Tier]service.Quota{}
	}
	for _, t := range generation.Tiers {
		q := quotas[t]
		r.Int("QUOTA_OPEN_"+string(t), &q.Open, 0)
		r.Int("QUOTA_DAILY_"+string(t), &q.Daily, 0)
		quotas[t] = q
	}
	c.Pipeline.Quotas = quotas

	r.Duration("GENERATION_MAX_WAIT", &c.Pipeline.MaxWait)
	r.Duration("ARCHIVE_DEADLINE", &c.Pipeline.ArchiveDeadline)
	r.Duration("HOLD_RECHECK", &c.Pipeline.HoldRecheck)
	r.Int("SUNO_CREDIT_RESERVE", &c.Pipeline.CreditReserve, 0)
	r.Duration("SUNO_CREDIT_CHECK", &c.Pipeline.CreditCheck)
	r.Duration("SUNO_BREAKER_WINDOW", &c.Pipeline.Health.Window)
	r.Int("SUNO_BREAKER_THRESHOLD", &c.Pipeline.Health.Threshold, 1)
	r.Duration("SUNO_BREAKER_VERDICT", &c.Pipeline.Health.Verdict)
	r.Duration("SUNO_PROBE_INTERVAL", &c.Pipeline.Health.ProbeFirst)
	r.Duration("SUNO_PROBE_MAX_INTERVAL", &c.Pipeline.Health.ProbeMax)
	r.String("ADMIN_GROUP", &c.Pipeline.AdminGroup)
	r.Duration("PAUSE_RECHECK", &c.Pipeline.PauseRecheck)
	r.String("METRICS_NAMESPACE", &c.MetricsNamespace)
	r.String("MEDIA_DIR", &c.Media.Dir)
	r.String("MEDIA_BUCKET", &c.Media.Bucket)
	r.String("MEDIA_BASE_URL", &c.Media.BaseURL)
	c.Media.BaseURL = strings.TrimRight(c.Media.BaseURL, "/")
	maxBytes := int(c.Media.MaxBytes)
	r.Int("MEDIA_MAX_BYTES", &maxBytes, 1)
	c.Media.MaxBytes = int64(maxBytes)
	r.String("EVENT_BUS_NAME", &c.Events.Bus)
	r.String("EVENTS_WEBHOOK_URL", &c.Events.WebhookURL)
	if f, err := logging.ParseFormat(getenv("LOG_FORMAT"), ""); err != nil {
		r.Fail(fmt.Errorf("LOG_FORMAT: %w", err))
	} else {
		c.LogFormat = f
	}

	level, err := logging.LevelFromEnv(getenv)
	if err != nil {
		r.Fail(err)
	}
	c.LogLevel = level
	if err := c.Check(); err != nil {
		r.Fail(err)
	}
}

// DefaultWorkerTimeout is the worker function's Timeout in template.yaml.
const DefaultWorkerTimeout = 30 * time.Second

// Check enforces the rules between settings that the pipeline's safety
// rests on, naming the setting to change. Every program runs it at start
// (FromEnv, NewEnv), so a configuration that would lose or double work
// never runs.
//
//   - WORKER_TIMEOUT < CLAIM_LEASE: a claim must outlive the invocation
//     holding it, or a redelivered copy of a job that is still running
//     takes the attempt over.
//   - CLAIM_LEASE < QUEUE_VISIBILITY_TIMEOUT: a job's message must stay
//     hidden while its claim holds, or the queue redelivers it to a worker
//     that can only wait for the lease.
//   - 1 <= GENERATION_RATE_BURST <= GENERATION_RATE_LIMIT: a burst larger
//     than the limit would let a window hold more than Suno allows.
//   - GENERATION_DEADLINE >= GENERATION_POLL_INTERVAL: an attempt must
//     live to its first poll.
//   - Each request limit (API_RATE_PER_USER, API_RATE_PER_IP,
//     CALLBACK_RATE_PER_IP) is 0 (none) or a finite rate of at most
//     throttle.MaxRate with a burst of at least 1.
//   - The one Suno account's secret or parameter (SUNO_API_KEY_SECRET_ARN,
//     SUNO_API_KEY_PARAMETER) is not set beside a list of accounts
//     (SUNO_API_KEYS, SUNO_API_KEY_SECRET_ARNS, SUNO_API_KEYS_SECRET_ARN):
//     the list would silently leave that key unused.
//   - EVENTS_WEBHOOK_URL, when set, is an http or https URL.
func (c Config) Check() error {
	var errs []error
	p := c.Pipeline
	lease := p.ClaimLease
	if lease <= 0 {
		lease = service.DefaultConfig().ClaimLease
	}
	if c.WorkerTimeout > 0 && c.WorkerTimeout >= lease {
		errs = append(errs, fmt.Errorf("WORKER_TIMEOUT=%s must be shorter than CLAIM_LEASE=%s: raise CLAIM_LEASE or lower WORKER_TIMEOUT", c.WorkerTimeout, lease))
	}
	if vt := c.QueueSettings.VisibilityTimeout; vt > 0 && lease >= vt {
		errs = append(errs, fmt.Errorf("CLAIM_LEASE=%s must be shorter than QUEUE_VISIBILITY_TIMEOUT=%s: raise the visibility timeout (template.yaml's queues too) or lower CLAIM_LEASE", lease, vt))
	}
	if c.RateLimit.Burst < 0 {
		errs = append(errs, fmt.Errorf("GENERATION_RATE_BURST=%d: at least 1", c.RateLimit.Burst))
	}
	if c.RateLimit.Burst > 0 && float64(c.RateLimit.Burst) > c.RateLimit.Rate {
		errs = append(errs, fmt.Errorf("GENERATION_RATE_BURST=%d: at most GENERATION_RATE_LIMIT (%v), or the window would hold more than the limit", c.RateLimit.Burst, c.RateLimit.Rate))
	}
	if p.Deadline > 0 && p.PollInterval > 0 && p.Deadline < p.PollInterval {
		errs = append(errs, fmt.Errorf("GENERATION_DEADLINE=%s is shorter than GENERATION_POLL_INTERVAL=%s: an attempt would end before its first poll; raise the deadline", p.Deadline, p.PollInterval))
	}
	for _, l := range []struct {
		limit       throttle.Limit
		rate, burst string
	}{
		{c.Requests.User, "API_RATE_PER_USER", "API_BURST_PER_USER"},
		{c.Requests.IP, "API_RATE_PER_IP", "API_BURST_PER_IP"},
		{c.Requests.Callback, "CALLBACK_RATE_PER_IP", "CALLBACK_BURST_PER_IP"},
	} {
		if err := l.limit.Check(l.rate, l.burst); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.checkSunoKeys(); err != nil {
		errs = append(errs, err)
	}
	if u := c.Events.WebhookURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("EVENTS_WEBHOOK_URL=%q: want an http or https URL", u))
		}
	}
	return errors.Join(errs...)
}

// queueURLs reads every tier's queue URLs, or none.
func queueURLs(r *envconfig.Reader, getenv func(string) string) map[generation.Tier]sqsqueue.URLs {
	urls := map[generation.Tier]sqsqueue.URLs{}
	var missing []string
	for _, t := range generation.Tiers {
		u := sqsqueue.URLs{Queue: strings.TrimSpace(getenv("QUEUE_URL_" + string(t))), DeadLetter: strings.TrimSpace(getenv("DLQ_URL_" + string(t)))}
		if u.Queue == "" {
			missing = append(missing, "QUEUE_URL_"+string(t))
		}
		urls[t] = u
	}
	switch len(missing) {
	case 0:
		return urls
	case len(generation.Tiers):
		return nil // none given: looked up by name
	default:
		r.Fail(fmt.Errorf("%s missing: give every tier's queue URL or none", strings.Join(missing, ", ")))
		return nil
	}
}

// DefaultQuotas are DESIGN.md's (section 9): the most unfinished
// generations and the most creates in 24 hours per user of each tier; 0
// is no limit.
func DefaultQuotas() map[generation.Tier]service.Quota {
	return map[generation.Tier]service.Quota{
		generation.Free:       {Open: 3, Daily: 20},
		generation.Pro:        {Open: 10, Daily: 200},
		generation.Premium:    {Open: 25, Daily: 1000},
		generation.Enterprise: {Open: 100},
	}
}

// DefaultMediaHosts are where sunoapi.org's tracks are served from.
func DefaultMediaHosts() []string {
	return []string{"musicfile.api.box", "tempfile.aiquickdraw.com", "cdn1.suno.ai", "cdn2.suno.ai", "audiopipe.suno.ai"}
}

func withQuotas(c service.Config) service.Config {
	c.Quotas = DefaultQuotas()
	c.MediaHosts = DefaultMediaHosts()
	return c
}

// splitList splits a comma-separated list, dropping empty entries.
func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// checkSunoKeys refuses the one account's secret or parameter beside a
// list of accounts: one of the two would be ignored. (The plain
// SUNO_API_KEY may stay beside a list: the local stack's fake and its
// exposure check ask for it.)
func (c Config) checkSunoKeys() error {
	var single string
	switch {
	case c.SunoKey.SecretARN != "":
		single = "SUNO_API_KEY_SECRET_ARN"
	case c.SunoKey.Parameter != "":
		single = "SUNO_API_KEY_PARAMETER"
	default:
		return nil
	}
	var lists []string
	for _, r := range c.SunoKeys {
		name := "SUNO_API_KEYS"
		if r.SecretARN != "" {
			name = "SUNO_API_KEY_SECRET_ARNS"
		}
		if !slices.Contains(lists, name) {
			lists = append(lists, name)
		}
	}
	if c.SunoKeysSecret.Set() {
		lists = append(lists, "SUNO_API_KEYS_SECRET_ARN")
	}
	if len(lists) == 0 {
		return nil
	}
	return fmt.Errorf("%s names one Suno account and %s several: name every account in the list (the first one's key first, to keep its rate window and breaker) and unset %s", single, strings.Join(lists, " and "), single)
}
