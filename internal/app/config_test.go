package app

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFromEnvDefaults(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Names.Generations != "songqueue-generations" || c.Names.Connections != "songqueue-connections" || c.Names.Prefix != "songqueue" {
		t.Errorf("names = %+v", c.Names)
	}
	if c.QueueURLs != nil {
		t.Errorf("queue URLs = %v, want nil (looked up by name)", c.QueueURLs)
	}
	p := c.Pipeline
	if c.Backend != Memory || c.SunoBaseURL != "" || c.Auth.TierClaim != "tier" || c.RateLimit.Rate != 10 || p.Retry.MaxAttempts != 3 ||
		p.Retry.BackoffBase != 2*time.Second || p.PollInterval != 20*time.Second || p.Deadline != 10*time.Minute ||
		p.ClaimLease != 2*time.Minute || c.LogLevel != slog.LevelInfo || c.QueueSettings.VisibilityTimeout != 180*time.Second {
		t.Errorf("defaults = %+v", c)
	}
	if c.SunoKey.Set() || c.CallbackSecret.Set() {
		t.Errorf("secrets set by default: %+v %+v", c.SunoKey, c.CallbackSecret)
	}
}

func TestFromEnvFromTemplateEnvironment(t *testing.T) {
	m := map[string]string{
		"GENERATIONS_TABLE": "stack-generations", "CONNECTIONS_TABLE": "stack-connections", "RESOURCE_PREFIX": "stack",
		"WEBSOCKET_ENDPOINT": "https://abc.execute-api.eu-west-1.amazonaws.com/prod/",
		"SUNO_BASE_URL":      "https://suno.example", "SUNO_API_KEY_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:suno",
		"CALLBACK_BASE_URL": "https://api.example/", "CALLBACK_SECRET_ARN": "arn:cb",
		"TIER_CLAIM": "custom:tier", "GENERATION_RATE_LIMIT": "2.5", "GENERATION_MAX_ATTEMPTS": "5",
		"GENERATION_BACKOFF_BASE": "1s", "GENERATION_POLL_INTERVAL": "15s", "GENERATION_DEADLINE": "5m",
		"CLAIM_LEASE": "3m", "QUEUE_VISIBILITY_TIMEOUT": "4m", "RATE_LIMIT_AGING_STEP": "10s", "AWS_LAMBDA_LOG_LEVEL": "DEBUG", "LOG_LEVEL": "ERROR",
	}
	for _, tier := range generation.Tiers {
		m["QUEUE_URL_"+string(tier)] = "https://sqs/q-" + string(tier)
		m["DLQ_URL_"+string(tier)] = "https://sqs/d-" + string(tier)
	}
	c, err := FromEnv(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if c.Names.Generations != "stack-generations" || c.Names.Connections != "stack-connections" {
		t.Errorf("names = %+v", c.Names)
	}
	if got := c.QueueURLs[generation.Pro]; got.Queue != "https://sqs/q-PRO" || got.DeadLetter != "https://sqs/d-PRO" {
		t.Errorf("PRO URLs = %+v", got)
	}
	if c.WebSocketEndpoint != "https://abc.execute-api.eu-west-1.amazonaws.com/prod" || c.CallbackBaseURL != "https://api.example" {
		t.Errorf("trailing slashes kept: %q %q", c.WebSocketEndpoint, c.CallbackBaseURL)
	}
	if c.SunoKey.SecretARN == "" || c.CallbackSecret.SecretARN != "arn:cb" || c.Auth.TierClaim != "custom:tier" {
		t.Errorf("secrets/claim = %+v %+v %q", c.SunoKey, c.CallbackSecret, c.Auth.TierClaim)
	}
	p := c.Pipeline
	if c.RateLimit.Rate != 2.5 || p.Retry.MaxAttempts != 5 || p.Retry.BackoffBase != time.Second || p.PollInterval != 15*time.Second ||
		p.Deadline != 5*time.Minute || p.ClaimLease != 3*time.Minute || c.RateLimit.AgingStep != 10*time.Second {
		t.Errorf("tuning = %+v", c)
	}
	if c.LogLevel != slog.LevelDebug {
		t.Errorf("level = %v; Lambda's AWS_LAMBDA_LOG_LEVEL must win", c.LogLevel)
	}
}

func TestFromEnvRefusesNonsense(t *testing.T) {
	cases := map[string]map[string]string{
		"some queues":   {"QUEUE_URL_FREE": "https://sqs/free"},
		"rate":          {"GENERATION_RATE_LIMIT": "fast"},
		"zero rate":     {"GENERATION_RATE_LIMIT": "0"},
		"attempts":      {"GENERATION_MAX_ATTEMPTS": "0"},
		"duration":      {"GENERATION_DEADLINE": "10"},
		"negative":      {"CLAIM_LEASE": "-1s"},
		"log level":     {"LOG_LEVEL": "LOUD"},
		"lambda levels": {"AWS_LAMBDA_LOG_LEVEL": "VERBOSE"},
		"backend":       {"BACKEND": "redis"},
	}
	for name, m := range cases {
		if _, err := FromEnv(env(m)); err == nil {
			t.Errorf("%s: accepted %v", name, m)
		}
	}
	_, err := FromEnv(env(map[string]string{"QUEUE_URL_FREE": "x", "GENERATION_DEADLINE": "soon"}))
	if err == nil || !strings.Contains(err.Error(), "QUEUE_URL_ENTERPRISE") || !strings.Contains(err.Error(), "GENERATION_DEADLINE") {
		t.Errorf("every problem should be reported at once: %v", err)
	}
	for _, lvl := range []string{"TRACE", "FATAL", "warn", "Info"} {
		if _, err := FromEnv(env(map[string]string{"AWS_LAMBDA_LOG_LEVEL": lvl})); err != nil {
			t.Errorf("level %s: %v", lvl, err)
		}
	}
}

// TestEmulatorEndpointsSelectTheAWSBackend: any of the SDK's endpoint
// variables, the shared one or a service's own, means an emulator.
func TestEmulatorEndpointsSelectTheAWSBackend(t *testing.T) {
	for _, m := range []map[string]string{
		{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"},
		{"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:5000", "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:4566"},
		{"AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:4566"},
	} {
		c, err := FromEnv(env(m))
		if err != nil || c.Backend != AWS || !c.Emulator {
			t.Errorf("%v: backend %s, emulator %v, %v", m, c.Backend, c.Emulator, err)
		}
	}
	c, _ := FromEnv(env(map[string]string{"AWS_ENDPOINT_URL": "http://x", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}))
	if c.Emulator || c.Backend != Memory {
		t.Errorf("ignored endpoints still select the emulator: %+v", c)
	}
	c, _ = FromEnv(env(map[string]string{"BACKEND": "aws"}))
	if c.Emulator || c.Backend != AWS {
		t.Errorf("BACKEND=aws alone (real AWS): %+v", c)
	}
}

// TestRequestLimits: the limits per caller (DESIGN.md section 16) come
// from the environment over generous defaults; 0 turns one off; nonsense
// is refused at start, naming the variable.
func TestRequestLimits(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Requests != DefaultRequestLimits() || c.Requests.User.Off() || c.Requests.IP.Off() || c.Requests.Callback.Off() {
		t.Errorf("defaults = %+v", c.Requests)
	}
	// One user cannot take the stage's 100 a second, one address neither.
	if c.Requests.User.Rate >= 100 || c.Requests.IP.Rate >= 100 || c.Requests.User.Rate < 1 {
		t.Errorf("defaults %+v: want a user's rate at least 1 and below the stage's 100 a second", c.Requests)
	}
	c, err = FromEnv(env(map[string]string{
		"API_RATE_PER_USER": "2.5", "API_BURST_PER_USER": "7", "API_RATE_PER_IP": "0",
		"CALLBACK_RATE_PER_IP": "40", "CALLBACK_BURST_PER_IP": "80",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Requests.User.Rate != 2.5 || c.Requests.User.Burst != 7 || !c.Requests.IP.Off() ||
		c.Requests.Callback.Rate != 40 || c.Requests.Callback.Burst != 80 {
		t.Errorf("read %+v", c.Requests)
	}
	for name, m := range map[string]map[string]string{
		"API_RATE_PER_USER":     {"API_RATE_PER_USER": "-1"},
		"API_RATE_PER_IP":       {"API_RATE_PER_IP": "NaN"},
		"CALLBACK_RATE_PER_IP":  {"CALLBACK_RATE_PER_IP": "5e6"},
		"API_BURST_PER_USER":    {"API_BURST_PER_USER": "0"},
		"CALLBACK_BURST_PER_IP": {"CALLBACK_BURST_PER_IP": "many"},
	} {
		if _, err := FromEnv(env(m)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: %v; want an error naming %s", m, err, name)
		}
	}
	c = DefaultConfig()
	c.Requests.IP.Burst = 0
	if err := c.Check(); err == nil || !strings.Contains(err.Error(), "API_BURST_PER_IP") {
		t.Errorf("a rate without a burst: %v", err)
	}
}

// TestTheRulesBetweenSettings: the crash design rests on worker timeout <
// claim lease < visibility timeout, and a burst within the limit; a
// configuration that breaks one is refused at start, naming the settings
// and the fix.
func TestTheRulesBetweenSettings(t *testing.T) {
	for name, c := range map[string]struct {
		vars map[string]string
		want []string
	}{
		"worker outlives its lease":  {map[string]string{"WORKER_TIMEOUT": "2m", "CLAIM_LEASE": "90s"}, []string{"WORKER_TIMEOUT=2m0s", "CLAIM_LEASE=1m30s", "raise CLAIM_LEASE"}},
		"lease outlives the message": {map[string]string{"CLAIM_LEASE": "200s", "QUEUE_VISIBILITY_TIMEOUT": "180s"}, []string{"CLAIM_LEASE=3m20s", "QUEUE_VISIBILITY_TIMEOUT=3m0s", "raise the visibility timeout"}},
		"burst above the limit":      {map[string]string{"GENERATION_RATE_LIMIT": "5", "GENERATION_RATE_BURST": "6"}, []string{"GENERATION_RATE_BURST=6", "at most GENERATION_RATE_LIMIT"}},
	} {
		_, err := FromEnv(env(c.vars))
		if err == nil {
			t.Errorf("%s: %v accepted", name, c.vars)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", name, err, w)
			}
		}
	}
	if _, err := FromEnv(env(map[string]string{"WORKER_TIMEOUT": "60s", "CLAIM_LEASE": "90s", "QUEUE_VISIBILITY_TIMEOUT": "180s"})); err != nil {
		t.Errorf("60s < 90s < 180s refused: %v", err)
	}
}
