// Package app is where the application is put together: one
// configuration (Config, read from the environment once, by the program
// that starts) and one assembly (New) of the service on its adapters, for
// the memory backend and for the AWS backend. The Lambda functions (their
// mains in functions/, their event adapters in internal/lambdaapp) and the
// local stack (internal/localstack) are thin drivers of what New returns.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/songqueue/songqueue/internal/apigw"
	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/dynamo"
	"github.com/songqueue/songqueue/internal/eventsource"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/logging"
	"github.com/songqueue/songqueue/internal/media"
	"github.com/songqueue/songqueue/internal/memory"
	"github.com/songqueue/songqueue/internal/metrics"
	"github.com/songqueue/songqueue/internal/s3media"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/sqsqueue"
	"github.com/songqueue/songqueue/internal/suno"
)

// Role is what a program does with the application; it decides what is
// wired (a function that never calls Suno gets no Suno client) and which
// secrets it may need.
type Role string

// The functions of template.yaml, and the local stack, which is all of them.
const (
	RoleAPI       Role = "api"       // the HTTP API but the callback
	RoleCallback  Role = "callback"  // POST /api/suno/callback
	RoleWebSocket Role = "websocket" // $connect, $disconnect, $default
	RoleWorker    Role = "worker"    // the tier queues' SQS events
	RoleSweeper   Role = "sweeper"   // the schedule that moves stuck generations on
	RoleLocal     Role = "local"     // every function in one process, on queues it consumes itself
)

func (r Role) valid() bool {
	switch r {
	case RoleAPI, RoleCallback, RoleWebSocket, RoleWorker, RoleSweeper, RoleLocal:
		return true
	}
	return false
}

// talksToSuno: the worker submits and polls, the sweeper asks about tasks
// past their deadline, the callback confirms what a callback says.
func (r Role) talksToSuno() bool {
	return r == RoleWorker || r == RoleSweeper || r == RoleCallback || r == RoleLocal
}

// keepsMedia: every role that finishes generations (and so decides to
// save their files) or deletes them.
func (r Role) keepsMedia() bool { return r != RoleWebSocket }

// buildsMediaURLs: the roles that copy files and so name the copies.
func (r Role) buildsMediaURLs() bool { return r == RoleWorker || r == RoleLocal }

// usesQueues: everything but the WebSocket routes sends jobs.
func (r Role) usesQueues() bool { return r != RoleWebSocket }

// signsCallbacks: the worker gives Suno the callback URL.
func (r Role) signsCallbacks() bool { return r == RoleWorker || r == RoleLocal }

// checksCallbacks: the callback function checks the URL Suno calls.
func (r Role) checksCallbacks() bool { return r == RoleCallback || r == RoleLocal }

// Options are what a program adds to the configuration.
type Options struct {
	// Secrets makes the secret reader; nil allows only plain values
	// (SUNO_API_KEY, CALLBACK_SECRET).
	Secrets func(aws.Config) SecretReader
	// Logger; default JSON lines on stdout at the configured level, which
	// Lambda sends to the function's log group.
	Logger *slog.Logger
	// Metrics; default EMF documents on stdout beside the logger's lines
	// (CloudWatch Logs extracts the metrics), or, when a Logger is given,
	// debug lines on it.
	Metrics metrics.Recorder
	// AWSConfig; default awsinfra.LoadAWSConfig, which resolves the
	// endpoints as the SDK does (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>).
	AWSConfig *aws.Config
	// Notifier replaces the API Gateway notifier: the local stack's own
	// WebSocket hub on the memory backend.
	Notifier service.Notifier
	// WrapSuno decorates the Suno client, for tests that watch its calls.
	WrapSuno func(service.Suno) service.Suno
	// WrapQueue decorates the queue the service sends to, for tests that
	// inject what SQS may do (a message delivered twice).
	WrapQueue func(service.Queue) service.Queue
	// WrapMedia decorates the media store, for tests that inject storage
	// failures and crashes.
	WrapMedia func(service.Media) service.Media
	// Now is the clock; default the wall clock.
	Now func() time.Time
}

// Application is the service on its adapters, with what its drivers need.
type Application struct {
	Role    Role
	Config  Config
	Service *service.Service
	Log     *slog.Logger
	// Source is the tier queues as a consumer reads them: what the local
	// stack's emulated event source polls. Lambda's own event source
	// mapping reads them in AWS.
	Source eventsource.Source
	// Store and Queues are the memory adapters on the memory backend (nil
	// on the AWS backend), for a look inside.
	Store  *memory.Store
	Queues *memory.Queues
	// Media serves the songs' copies where MEDIA_BASE_URL points (the
	// local stack mounts it at /media/); nil when nothing is copied.
	Media http.Handler
}

// Telemetry returns a logger and a metrics recorder writing to w in
// format: JSON log lines with EMF documents between them (what Lambda
// sends to CloudWatch Logs, and the local stack prints with
// LOG_FORMAT=json), or text lines with the metrics at debug level.
func Telemetry(w io.Writer, format logging.Format, level slog.Level, namespace string, now func() time.Time) (*slog.Logger, metrics.Recorder) {
	w = logging.SyncWriter(w)
	log := logging.New(w, format, level)
	if format == logging.JSON {
		return log, metrics.NewEMF(w, namespace, now)
	}
	return log, metrics.NewLog(log)
}

// New assembles the application of role from cfg. It runs once per cold
// start, in a function's init phase: the AWS clients are made here and
// reused by every invocation, and nothing here waits on the network but
// what the role cannot start without (looking up queue URLs that the
// environment does not give, creating the tables and queues of the local
// stack on an emulator). Secrets are read in the background or when first
// needed.
func New(ctx context.Context, role Role, cfg Config, opt Options) (*Application, error) {
	if !role.valid() {
		return nil, fmt.Errorf("unknown role %q", role)
	}
	log, rec := opt.Logger, opt.Metrics
	if log == nil {
		format := cfg.LogFormat
		if format == "" {
			format = logging.JSON
		}
		log, rec = Telemetry(os.Stdout, format, cfg.LogLevel, cfg.MetricsNamespace, opt.Now)
	}
	if rec == nil {
		rec = metrics.NewLog(log)
	}
	a := &Application{Role: role, Config: cfg, Log: log}
	awsConfig := sync.OnceValues(func() (aws.Config, error) {
		if opt.AWSConfig != nil {
			return *opt.AWSConfig, nil
		}
		return awsinfra.LoadAWSConfig(ctx)
	})

	keys, err := newSecrets(role, cfg, opt, awsConfig)
	if err != nil {
		return nil, err
	}
	deps := service.Deps{
		Queue:    unavailableQueue{role},
		Suno:     unavailableSuno{role},
		Notifier: opt.Notifier,
	}
	switch cfg.Backend {
	case Memory:
		if err := a.memoryBackend(cfg, opt, &deps); err != nil {
			return nil, err
		}
	case AWS:
		awsCfg, err := awsConfig()
		if err != nil {
			return nil, err
		}
		if err := a.awsBackend(ctx, awsCfg, cfg, opt, &deps); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown backend %q", cfg.Backend)
	}
	if deps.Notifier == nil {
		deps.Notifier = discardNotifier{log}
	}
	if deps.Media != nil && opt.WrapMedia != nil {
		deps.Media = opt.WrapMedia(deps.Media)
	}
	if deps.Media != nil {
		deps.Fetcher = media.Fetcher{Client: &http.Client{Timeout: 2 * time.Minute}, MaxBytes: cfg.Media.MaxBytes}
	}
	if opt.WrapQueue != nil && role.usesQueues() {
		deps.Queue = opt.WrapQueue(deps.Queue)
	}
	if role.talksToSuno() {
		base := cfg.SunoBaseURL
		if base == "" {
			base = suno.DefaultBaseURL
			if !cfg.SunoKey.Set() {
				log.Warn("no Suno API key configured; sunoapi.org will refuse the calls", "set", "SUNO_API_KEY_SECRET_ARN, SUNO_API_KEY_PARAMETER or SUNO_API_KEY")
			}
		}
		var client service.Suno = suno.NewClientWithKey(base, keys.sunoKey, nil)
		if opt.WrapSuno != nil {
			client = opt.WrapSuno(client)
		}
		deps.Suno = client
	}

	pipeline := cfg.Pipeline
	pipeline.CallbackBaseURL = ""
	if role.signsCallbacks() {
		pipeline.CallbackBaseURL = cfg.CallbackBaseURL
	}
	pipeline.CallbackKey = keys.callbackKey
	pipeline.Now = opt.Now
	pipeline.Logger = log
	pipeline.Metrics = rec
	a.Service = service.New(deps, pipeline)
	return a, nil
}

func (a *Application) memoryBackend(cfg Config, opt Options, deps *service.Deps) error {
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	a.Store = memory.NewStore(memory.WithClock(now))
	deps.Store, deps.Connections, deps.Controls = a.Store, a.Store, a.Store
	deps.Limiter = memory.NewLimiter(cfg.RateLimit, now)
	if a.Role.keepsMedia() && cfg.Media.BaseURL != "" {
		dir, err := media.OpenDir(cfg.Media.Dir, cfg.Media.BaseURL)
		if err != nil {
			return err
		}
		deps.Media, a.Media = dir, dir
	}
	if a.Role.usesQueues() {
		a.Queues = memory.NewQueues(memory.QueueConfig{VisibilityTimeout: cfg.Queues.VisibilityTimeout, MaxReceiveCount: cfg.Queues.MaxReceiveCount, Now: now})
		deps.Queue, deps.DeadLetters, a.Source = a.Queues, a.Queues, a.Queues
	}
	return nil
}

// awsBackend wires DynamoDB, SQS and the API Gateway management API. The
// local stack on an emulator first creates the tables and queues missing
// there, each where its own service's endpoint points.
func (a *Application) awsBackend(ctx context.Context, awsCfg aws.Config, cfg Config, opt Options, deps *service.Deps) error {
	clients := awsinfra.NewClients(awsCfg)
	if a.Role == RoleLocal && cfg.Emulator {
		res, err := awsinfra.Ensure(ctx, clients, cfg.Names, cfg.Queues)
		if err != nil {
			return fmt.Errorf("create the tables and queues on the emulator: %w", err)
		}
		if cfg.QueueURLs == nil {
			cfg.QueueURLs = res.Queues
		}
	}
	store := dynamo.NewStore(clients.DynamoDB, cfg.Names.Generations, cfg.Names.Connections, dynamo.Options{Now: opt.Now})
	deps.Store, deps.Connections, deps.Controls = store, store, store
	deps.Limiter = dynamo.NewLimiter(clients.DynamoDB, cfg.Names.Generations, "suno", cfg.RateLimit, opt.Now)
	if a.Role.usesQueues() {
		urls := cfg.QueueURLs
		if urls == nil {
			var err error
			if urls, err = sqsqueue.Resolve(ctx, clients.SQS, cfg.Names.Prefix); err != nil {
				return fmt.Errorf("queue URLs (set QUEUE_URL_<TIER> to skip the lookup, or deploy the stack first): %w", err)
			}
		}
		queues := sqsqueue.New(clients.SQS, urls)
		deps.Queue, deps.DeadLetters, a.Source = queues, queues, queues
	}
	// Only the roles that build the copies' URLs need MEDIA_BASE_URL: the
	// worker and the local stack. The others delete copies (the API) or
	// only hand the copy over to the worker (callback, sweeper), so the
	// bucket alone turns copies on there; the template then need not give
	// them the distribution's domain, which would be a dependency cycle.
	if a.Role.keepsMedia() && (cfg.Media.BaseURL != "" || (cfg.Media.Bucket != "" && !a.Role.buildsMediaURLs())) {
		bucket := cfg.Media.Bucket
		if bucket == "" && cfg.Emulator && awsinfra.Emulated(os.Getenv, "S3") {
			bucket = cfg.Names.Media
		}
		if bucket != "" {
			a.Config.Media.Bucket = bucket
			store := s3media.New(clients.S3, bucket, cfg.Media.BaseURL)
			deps.Media, a.Media = store, store
		} else {
			a.Log.Warn("no MEDIA_BUCKET (nor an emulated S3): songs keep Suno's URLs, which expire after about 15 days")
		}
	}
	if deps.Notifier == nil && cfg.WebSocketEndpoint != "" {
		deps.Notifier = apigw.New(awsCfg, cfg.WebSocketEndpoint)
	}
	return nil
}

// secrets are the keys of a role, each read when first needed.
type secrets struct {
	sunoKey     func(context.Context) (string, error)
	callbackKey service.Key
}

func newSecrets(role Role, cfg Config, opt Options, awsConfig func() (aws.Config, error)) (secrets, error) {
	cfgOf := func() aws.Config {
		c, _ := awsConfig() // the reader's calls fail with the same error
		return c
	}
	out := secrets{
		sunoKey: func(context.Context) (string, error) { return "", nil },
		callbackKey: func(context.Context) ([]byte, error) {
			return nil, fmt.Errorf("the %s function signs no callback URLs: %w", role, errNoSecret)
		},
	}
	// What nearly every invocation of the role needs is fetched from init
	// on, in the background: the cold start does not wait for it, and the
	// first invocation finds it read or in flight. A failed fetch is
	// retried, and reported, by the first use.
	prefetch := func(s *secret) { go func() { _, _ = s.Get(context.Background()) }() }
	if role.talksToSuno() && cfg.SunoKey.Set() {
		s, err := newSecret(cfg.SunoKey, opt.Secrets, cfgOf, 1)
		if err != nil {
			return out, err
		}
		out.sunoKey = s.Get
	}
	needCallback := role.checksCallbacks() || (role.signsCallbacks() && cfg.CallbackBaseURL != "")
	if needCallback {
		if !cfg.CallbackSecret.Set() {
			return out, errors.New("configuration: CALLBACK_SECRET_ARN or CALLBACK_SECRET is required to sign and check Suno's callback URLs")
		}
		s, err := newSecret(cfg.CallbackSecret, opt.Secrets, cfgOf, minCallbackSecret)
		if err != nil {
			return out, err
		}
		if role == RoleCallback {
			prefetch(s)
		}
		out.callbackKey = func(ctx context.Context) ([]byte, error) {
			v, err := s.Get(ctx)
			return []byte(v), err
		}
	}
	return out, nil
}

// discardNotifier stands in when no WebSocket endpoint is configured (sam
// local, a stack without the WebSocket API): the state is stored and GET
// status serves it; only the push is skipped.
type discardNotifier struct{ log *slog.Logger }

func (d discardNotifier) Post(ctx context.Context, connectionID string, _ []byte) error {
	d.log.DebugContext(ctx, "no WEBSOCKET_ENDPOINT; event not pushed", "connection", connectionID)
	return nil
}

// unavailableSuno is the Suno port of a function that never calls Suno; a
// call would be a wiring bug, and says so.
type unavailableSuno struct{ role Role }

func (u unavailableSuno) Submit(context.Context, generation.Request, string) (string, error) {
	return "", fmt.Errorf("the %s function is not wired to Suno", u.role)
}

func (u unavailableSuno) Record(context.Context, string) (generation.TaskReport, error) {
	return generation.TaskReport{}, fmt.Errorf("the %s function is not wired to Suno", u.role)
}

// unavailableQueue is the queue port of a function that sends no job.
type unavailableQueue struct{ role Role }

func (u unavailableQueue) Send(context.Context, service.Job, time.Duration) error {
	return fmt.Errorf("the %s function is not wired to the queues", u.role)
}
