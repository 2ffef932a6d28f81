package lambdaapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/songqueue/songqueue/internal/apigw"
	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/dynamo"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/sqsqueue"
	"github.com/songqueue/songqueue/internal/suno"
)

// Role is what a function does; it decides which secrets the function
// reads at its cold start and what it must be configured with.
type Role string

// The functions of template.yaml.
const (
	RoleAPI       Role = "api"       // the HTTP API but the callback
	RoleCallback  Role = "callback"  // POST /api/suno/callback
	RoleWebSocket Role = "websocket" // $connect, $disconnect, $default
	RoleWorker    Role = "worker"    // the tier queues' SQS events
	RoleSweeper   Role = "sweeper"   // the schedule that moves stuck generations on
)

func (r Role) valid() bool {
	switch r {
	case RoleAPI, RoleCallback, RoleWebSocket, RoleWorker, RoleSweeper:
		return true
	}
	return false
}

// talksToSuno: the worker submits and polls, the sweeper asks about tasks
// past their deadline.
func (r Role) talksToSuno() bool { return r == RoleWorker || r == RoleSweeper }

// usesQueues: everything but the WebSocket routes sends jobs.
func (r Role) usesQueues() bool { return r != RoleWebSocket }

// SecretReader reads secrets from AWS; package awssecrets implements it.
// It is injected so that the functions that read no secret do not carry
// the Secrets Manager and SSM clients (about 1.5 MB of binary).
type SecretReader interface {
	// SecretString returns a Secrets Manager secret's string value.
	SecretString(ctx context.Context, secretID string) (string, error)
	// Parameter returns an SSM parameter's value, decrypted.
	Parameter(ctx context.Context, name string) (string, error)
}

// Options are what a function's main may add.
type Options struct {
	// Secrets makes the secret reader; nil allows only plain values
	// (SUNO_API_KEY, CALLBACK_SECRET).
	Secrets func(aws.Config) SecretReader
	// Getenv reads the environment; default os.Getenv.
	Getenv func(string) string
	// Logger; default JSON lines on stdout, which Lambda sends to the
	// function's log group, at the configured level.
	Logger *slog.Logger
	// AWSConfig; default awsinfra.LoadAWSConfig, which honours
	// AWS_ENDPOINT_URL (LocalStack, moto).
	AWSConfig *aws.Config
	// Now is the clock; default the wall clock.
	Now func() time.Time
}

// App is a function's service with its configuration.
type App struct {
	Role    Role
	Config  Config
	Service *service.Service
	Log     *slog.Logger
}

// NewLogger returns the JSON logger the functions use.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// FromEnv builds the service of a function in role from its environment.
// It runs once per cold start, in the function's init phase: the secrets
// the role needs are read here, once, and the AWS clients are made here and
// reused by every invocation.
func FromEnv(ctx context.Context, role Role, opt Options) (*App, error) {
	if !role.valid() {
		return nil, fmt.Errorf("unknown function role %q", role)
	}
	getenv := opt.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg, err := ParseConfig(getenv)
	if err != nil {
		return nil, err
	}
	log := opt.Logger
	if log == nil {
		log = NewLogger(os.Stdout, cfg.LogLevel)
	}
	var awsCfg aws.Config
	if opt.AWSConfig != nil {
		awsCfg = *opt.AWSConfig
	} else if awsCfg, err = awsinfra.LoadAWSConfig(ctx, ""); err != nil {
		return nil, err
	}
	clients := awsinfra.NewClients(awsCfg)

	secrets, err := readSecrets(ctx, role, cfg, opt, awsCfg)
	if err != nil {
		return nil, err
	}

	store := dynamo.NewStore(clients.DynamoDB, cfg.Names.Generations, cfg.Names.Connections, dynamo.Options{Now: opt.Now})
	deps := service.Deps{
		Store:       store,
		Connections: store,
		Queue:       unavailableQueue{role},
		Notifier:    discardNotifier{log},
		Limiter:     dynamo.NewLimiter(clients.DynamoDB, cfg.Names.Generations, "suno", cfg.RatePolicy(), opt.Now),
		Suno:        unavailableSuno{role},
	}
	if role.usesQueues() {
		urls := cfg.QueueURLs
		if urls == nil {
			if urls, err = sqsqueue.Resolve(ctx, clients.SQS, cfg.Names.Prefix); err != nil {
				return nil, fmt.Errorf("queue URLs (set QUEUE_URL_<TIER> to skip the lookup): %w", err)
			}
		}
		deps.Queue = sqsqueue.New(clients.SQS, urls)
	}
	if cfg.WebSocketEndpoint != "" {
		deps.Notifier = apigw.New(awsCfg, cfg.WebSocketEndpoint)
	}
	if role.talksToSuno() {
		if secrets.sunoKey == "" && cfg.SunoBaseURL == DefaultSunoBaseURL {
			log.Warn("no Suno API key configured; sunoapi.org will refuse the calls", "set", "SUNO_API_KEY_SECRET_ARN, SUNO_API_KEY_PARAMETER or SUNO_API_KEY")
		}
		deps.Suno = suno.NewClient(cfg.SunoBaseURL, secrets.sunoKey, nil)
	}
	callbackBase := ""
	if role == RoleWorker {
		callbackBase = cfg.CallbackBaseURL
	}
	svc := service.New(deps, cfg.Apply(service.Config{
		ClaimLease:      cfg.ClaimLease,
		CallbackBaseURL: callbackBase,
		CallbackSecret:  []byte(secrets.callbackSecret),
		Now:             opt.Now,
		Logger:          log,
	}))
	return &App{Role: role, Config: cfg, Service: svc, Log: log}, nil
}

// Must returns app, or ends the process when err is set: Lambda reports the
// failed init and tries a fresh one on the next invocation.
func Must(app *App, err error) *App {
	if err != nil {
		NewLogger(os.Stderr, slog.LevelError).Error("function init failed", "err", err)
		os.Exit(1)
	}
	return app
}

type secretValues struct {
	sunoKey        string
	callbackSecret string
}

// minCallbackSecret is the least length of a callback signing key.
const minCallbackSecret = 16

// readSecrets reads, concurrently, the secrets role needs and only those.
func readSecrets(ctx context.Context, role Role, cfg Config, opt Options, awsCfg aws.Config) (secretValues, error) {
	var out secretValues
	needCallback := role == RoleCallback || (role == RoleWorker && cfg.CallbackBaseURL != "")
	if needCallback && !cfg.CallbackSecret.Set() {
		return out, errors.New("configuration: CALLBACK_SECRET_ARN or CALLBACK_SECRET is required to sign and check Suno's callback URLs")
	}
	var reader SecretReader
	if opt.Secrets != nil {
		reader = opt.Secrets(awsCfg)
	}
	var wg sync.WaitGroup
	var sunoErr, cbErr error
	if role.talksToSuno() && cfg.SunoKey.Set() {
		wg.Go(func() { out.sunoKey, sunoErr = resolveSecret(ctx, reader, cfg.SunoKey) })
	}
	if needCallback {
		wg.Go(func() { out.callbackSecret, cbErr = resolveSecret(ctx, reader, cfg.CallbackSecret) })
	}
	wg.Wait()
	if err := errors.Join(sunoErr, cbErr); err != nil {
		return out, err
	}
	if needCallback && len(out.callbackSecret) < minCallbackSecret {
		return out, fmt.Errorf("configuration: the callback secret is %d characters long; use at least %d", len(out.callbackSecret), minCallbackSecret)
	}
	return out, nil
}

func resolveSecret(ctx context.Context, r SecretReader, ref SecretRef) (string, error) {
	var v string
	var err error
	switch {
	case ref.SecretARN != "":
		if r == nil {
			return "", fmt.Errorf("%s_SECRET_ARN is set but this function was built without a secret reader", ref.Name)
		}
		v, err = r.SecretString(ctx, ref.SecretARN)
		if err != nil {
			return "", fmt.Errorf("read %s from Secrets Manager (%s): %w", ref.Name, ref.SecretARN, err)
		}
	case ref.Parameter != "":
		if r == nil {
			return "", fmt.Errorf("%s_PARAMETER is set but this function was built without a secret reader", ref.Name)
		}
		v, err = r.Parameter(ctx, ref.Parameter)
		if err != nil {
			return "", fmt.Errorf("read %s from SSM (%s): %w", ref.Name, ref.Parameter, err)
		}
	default:
		v = ref.Value
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", fmt.Errorf("%s is empty", ref.Name)
	}
	return v, nil
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

func (u unavailableSuno) Submit(context.Context, suno.GenerateRequest) (string, error) {
	return "", fmt.Errorf("the %s function is not wired to Suno", u.role)
}

func (u unavailableSuno) Record(context.Context, string) (suno.Task, error) {
	return suno.Task{}, fmt.Errorf("the %s function is not wired to Suno", u.role)
}

// unavailableQueue is the queue port of a function that sends no job.
type unavailableQueue struct{ role Role }

func (u unavailableQueue) Send(context.Context, service.Job, time.Duration) error {
	return fmt.Errorf("the %s function is not wired to the queues", u.role)
}

func (u unavailableQueue) Depth(context.Context) (map[generation.Tier]service.QueueDepth, error) {
	return nil, fmt.Errorf("the %s function is not wired to the queues", u.role)
}
