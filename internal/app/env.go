// Package app is where the application is put together: one
// configuration (Config, read from the environment once, by the program
// that starts), an Env (telemetry, the AWS configuration, the secrets) and
// one constructor per role, which gives the role exactly the ports it
// uses. The Lambda functions call the AWS constructors (roles.go) through
// internal/lambdaapp; the local stack (internal/devstack) builds its
// adapters, memory or AWS, and calls the same role assemblers.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/domainevents"
	"github.com/songqueue/songqueue/internal/logging"
	"github.com/songqueue/songqueue/internal/metrics"
	"github.com/songqueue/songqueue/internal/service"
)

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
	// WrapSuno decorates the Suno client, for tests that watch its calls.
	WrapSuno func(service.Suno) service.Suno
	// WrapQueue decorates the queue the roles send to, for tests that
	// inject what SQS may do (a message delivered twice).
	WrapQueue func(service.Queue) service.Queue
	// WrapMedia decorates the media store, for tests that inject storage
	// failures and crashes.
	WrapMedia func(service.Media) service.Media
	// WrapEvents decorates the EventBridge client the domain events are
	// put with, for tests that inject failed entries.
	WrapEvents func(domainevents.PutEventsAPI) domainevents.PutEventsAPI
	// Now is the clock; default the wall clock.
	Now func() time.Time
}

// Env is what every role is assembled in: its configuration, its
// telemetry, the AWS configuration (loaded when first needed) and the
// secrets (read when first needed).
type Env struct {
	Config  Config
	Log     *slog.Logger
	Metrics metrics.Recorder
	opt     Options
	aws     func() (aws.Config, error)
	now     func() time.Time

	secretsMu   sync.Mutex
	sunoRefs    []SecretRef // the accounts' keys, once known
	sunoSecrets map[int]*secret
	cbSecret    *secret
}

// NewEnv checks cfg (Config.Check) and makes the telemetry. It makes no
// request.
func NewEnv(ctx context.Context, cfg Config, opt Options) (*Env, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
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
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	e := &Env{Config: cfg, Log: log, Metrics: rec, opt: opt, now: now}
	e.aws = sync.OnceValues(func() (aws.Config, error) {
		if opt.AWSConfig != nil {
			return *opt.AWSConfig, nil
		}
		return awsinfra.LoadAWSConfig(ctx)
	})
	return e, nil
}

// Now is the environment's clock.
func (e *Env) Now() time.Time { return e.now() }

// AWS is the AWS configuration, for the local stack's stream reader.
func (e *Env) AWS() (aws.Config, error) { return e.aws() }

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

// Pipeline is the service's configuration in this environment.
func (e *Env) Pipeline() service.Config {
	p := e.Config.Pipeline
	p.Line = service.LinePolicy{Limit: e.Config.RateLimit, Accounts: e.sunoAccountCount()}
	p.Now = e.opt.Now
	p.Logger = e.Log
	p.Metrics = e.Metrics
	return p
}

func (e *Env) awsConfigOrEmpty() aws.Config {
	c, _ := e.aws() // the reader's calls fail with the same error
	return c
}

// sunoAccountRefs are the Suno accounts' keys, in order: SUNO_API_KEYS,
// SUNO_API_KEY_SECRET_ARNS, then the keys of the JSON list in
// SUNO_API_KEYS_SECRET_ARN, which is read now (how many accounts there are
// is in it, and the roles are assembled on the accounts); none of them:
// the one account of SUNO_API_KEY_SECRET_ARN, SUNO_API_KEY_PARAMETER or
// SUNO_API_KEY. Only the list's secret is read here: the others are read
// when first needed (sunoKey). A failed read is not kept.
func (e *Env) sunoAccountRefs(ctx context.Context) ([]SecretRef, error) {
	e.secretsMu.Lock()
	defer e.secretsMu.Unlock()
	if e.sunoRefs != nil {
		return e.sunoRefs, nil
	}
	c := e.Config
	refs := slices.Clone(c.SunoKeys)
	if arn := c.SunoKeysSecret.SecretARN; arn != "" {
		if e.opt.Secrets == nil {
			return nil, errors.New("configuration: SUNO_API_KEYS_SECRET_ARN is set but this function was built without a secret reader")
		}
		v, err := e.opt.Secrets(e.awsConfigOrEmpty()).SecretString(ctx, arn)
		if err != nil {
			return nil, fmt.Errorf("read SUNO_API_KEYS_SECRET_ARN from Secrets Manager (%s): %w", arn, err)
		}
		keys, err := parseKeyList(v)
		if err != nil {
			return nil, fmt.Errorf("configuration: SUNO_API_KEYS_SECRET_ARN (%s): %w", arn, err)
		}
		for i, k := range keys {
			refs = append(refs, SecretRef{Name: fmt.Sprintf("SUNO_API_KEYS_SECRET_ARN[%d]", i+1), Value: k})
		}
	}
	if len(refs) == 0 {
		refs = []SecretRef{c.SunoKey}
	}
	e.sunoRefs = refs
	return refs, nil
}

// sunoAccountCount is how many Suno accounts there are, for a place in
// line's estimate: the accounts once known (sunoAccountRefs; every role
// asks for them before its pipeline), else those named without a read.
func (e *Env) sunoAccountCount() int {
	e.secretsMu.Lock()
	defer e.secretsMu.Unlock()
	if e.sunoRefs != nil {
		return len(e.sunoRefs)
	}
	return max(1, len(e.Config.SunoKeys))
}

// parseKeyList reads the value of the secret in SUNO_API_KEYS_SECRET_ARN:
// a JSON list of keys, one account each (["key-1","key-2"]), or one key as
// plain text. Its errors never quote the value.
func parseKeyList(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return nil, errors.New("the secret is empty")
	case v[0] == '{':
		return nil, errors.New(`the secret holds a JSON object; store a JSON list of keys (["key-1","key-2"]), or one key as plain text`)
	case v[0] != '[':
		if strings.Contains(v, ",") {
			return nil, errors.New(`the secret is plain text with a comma; store several keys as a JSON list (["key-1","key-2"])`)
		}
		return []string{v}, nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		// The decoder's message may quote a character of the value.
		if se := (*json.SyntaxError)(nil); errors.As(err, &se) {
			return nil, fmt.Errorf(`the secret is not a JSON list of keys (["key-1","key-2"]): invalid JSON at byte %d`, se.Offset)
		}
		return nil, errors.New(`the secret is not a JSON list of keys (["key-1","key-2"])`)
	}
	if len(raw) == 0 {
		return nil, errors.New("the secret's list holds no key")
	}
	keys := make([]string, 0, len(raw))
	for i, r := range raw {
		var k string
		if err := json.Unmarshal(r, &k); err != nil {
			return nil, fmt.Errorf("element %d of the secret's list is not a string", i+1)
		}
		if k = strings.TrimSpace(k); k == "" {
			return nil, fmt.Errorf("element %d of the secret's list is empty", i+1)
		}
		if j := slices.Index(keys, k); j >= 0 {
			return nil, fmt.Errorf("elements %d and %d of the secret's list are the same key: two accounts on one key would go over its Suno window", j+1, i+1)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// sunoKey is the API key of Suno account i (ref, of sunoAccountRefs),
// read when first needed.
func (e *Env) sunoKey(i int, ref SecretRef) (func(context.Context) (string, error), error) {
	if !ref.Set() {
		return func(context.Context) (string, error) { return "", nil }, nil
	}
	e.secretsMu.Lock()
	defer e.secretsMu.Unlock()
	if e.sunoSecrets == nil {
		e.sunoSecrets = map[int]*secret{}
	}
	s := e.sunoSecrets[i]
	if s == nil {
		var err error
		if s, err = newSecret(ref, e.opt.Secrets, e.awsConfigOrEmpty, 1, true); err != nil {
			return nil, err
		}
		e.sunoSecrets[i] = s
	}
	return s.Get, nil
}

// callbackKey is the key that signs and checks callback URLs; prefetch
// starts reading it now, in the background, for the role whose every
// invocation needs it (the cold start does not wait for it, and the first
// invocation finds it read or in flight; a failed read is retried, and
// reported, by the first use).
func (e *Env) callbackKey(prefetch bool) (service.Key, error) {
	if !e.Config.CallbackSecret.Set() {
		return nil, errors.New("configuration: CALLBACK_SECRET_ARN or CALLBACK_SECRET is required to sign and check Suno's callback URLs")
	}
	e.secretsMu.Lock()
	defer e.secretsMu.Unlock()
	if e.cbSecret == nil {
		s, err := newSecret(e.Config.CallbackSecret, e.opt.Secrets, e.awsConfigOrEmpty, minCallbackSecret, false)
		if err != nil {
			return nil, err
		}
		e.cbSecret = s
		if prefetch {
			go func() { _, _ = s.Get(context.Background()) }()
		}
	}
	return func(ctx context.Context) ([]byte, error) {
		v, err := e.cbSecret.Get(ctx)
		return []byte(v), err
	}, nil
}

// signer is the callback signer of a role that gives Suno callback URLs
// (sign) or checks them (!sign).
func (e *Env) signer(sign, prefetch bool) (service.CallbackSigner, error) {
	if sign && e.Config.CallbackBaseURL == "" {
		return service.CallbackSigner{}, nil // polling only
	}
	key, err := e.callbackKey(prefetch)
	if err != nil {
		return service.CallbackSigner{}, err
	}
	s := service.CallbackSigner{Key: key}
	if sign {
		s.BaseURL = e.Config.CallbackBaseURL
	}
	return s, nil
}

// wrapQueue applies Options.WrapQueue.
func (e *Env) wrapQueue(q service.Queue) service.Queue {
	if e.opt.WrapQueue != nil {
		return e.opt.WrapQueue(q)
	}
	return q
}

// wrapMedia applies Options.WrapMedia.
func (e *Env) wrapMedia(m service.Media) service.Media {
	if m != nil && e.opt.WrapMedia != nil {
		return e.opt.WrapMedia(m)
	}
	return m
}
