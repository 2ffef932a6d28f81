// Package lambdaapp is what the Lambda functions in functions/ share: the
// service built from the environment variables template.yaml sets, on the
// AWS adapters, and the adapters from Lambda's events (API Gateway HTTP and
// WebSocket, SQS, the schedule) to the service. Each function's main only
// picks its role and its handler.
package lambdaapp

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/envconfig"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/sqsqueue"
)

// DefaultSunoBaseURL is sunoapi.org's API.
const DefaultSunoBaseURL = "https://api.sunoapi.org"

// Config is a function's configuration, read from its environment.
//
//	GENERATIONS_TABLE, CONNECTIONS_TABLE  table names (default <RESOURCE_PREFIX>-generations, -connections)
//	RESOURCE_PREFIX                       prefix of the default names (default songqueue)
//	QUEUE_URL_<TIER>, DLQ_URL_<TIER>      queue URLs per tier (ENTERPRISE, PREMIUM, PRO, FREE);
//	                                      when absent they are looked up by name (<prefix>-<tier>[-dlq])
//	WEBSOCKET_ENDPOINT                    management API of the WebSocket stage, https://{api}.execute-api.{region}.amazonaws.com/{stage};
//	                                      empty: events are not pushed (the state is still stored)
//	SUNO_BASE_URL                         default https://api.sunoapi.org
//	SUNO_API_KEY_SECRET_ARN | SUNO_API_KEY_PARAMETER | SUNO_API_KEY
//	                                      the Suno key: a Secrets Manager secret, an SSM parameter
//	                                      (SecureString), or the value itself
//	CALLBACK_BASE_URL                     public base URL Suno calls back (the HTTP API's); empty: polling only
//	CALLBACK_SECRET_ARN | CALLBACK_SECRET the key that signs callback URLs
//	TIER_CLAIM                            the token claim with the tier (default tier)
//	DEV_JWT_SECRET                        sam local only: with no JWT authorizer in front (sam local
//	                                      start-api), accept HS256 bearer tokens signed with it, as make dev mints
//	GENERATION_RATE_LIMIT, RATE_LIMIT_AGING_STEP, GENERATION_MAX_ATTEMPTS, GENERATION_BACKOFF_BASE,
//	GENERATION_POLL_INTERVAL, GENERATION_DEADLINE, CLAIM_LEASE
//	                                      as in the local stack (README); CLAIM_LEASE default 2m
//	LOG_LEVEL                             DEBUG, INFO (default), WARN, ERROR; AWS_LAMBDA_LOG_LEVEL,
//	                                      set by Lambda's logging configuration, wins
type Config struct {
	Names             awsinfra.Names
	QueueURLs         map[generation.Tier]sqsqueue.URLs // nil: look them up by name
	WebSocketEndpoint string
	SunoBaseURL       string
	SunoKey           SecretRef
	CallbackBaseURL   string
	CallbackSecret    SecretRef
	TierClaim         string
	DevJWTSecret      string
	service.Tuning
	ClaimLease time.Duration
	LogLevel   slog.Level
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

// ParseConfig reads the configuration through getenv.
func ParseConfig(getenv func(string) string) (Config, error) {
	r := envconfig.New(getenv)
	c := Config{
		SunoBaseURL: DefaultSunoBaseURL, TierClaim: "tier",
		Tuning: service.DefaultTuning(), ClaimLease: 2 * time.Minute,
	}

	c.Names = awsinfra.DefaultNames(getenv("RESOURCE_PREFIX"))
	r.String("GENERATIONS_TABLE", &c.Names.Generations)
	r.String("CONNECTIONS_TABLE", &c.Names.Connections)

	urls := map[generation.Tier]sqsqueue.URLs{}
	var missing []string
	for _, t := range generation.Tiers {
		u := sqsqueue.URLs{Queue: getenv("QUEUE_URL_" + string(t)), DeadLetter: getenv("DLQ_URL_" + string(t))}
		if u.Queue == "" {
			missing = append(missing, "QUEUE_URL_"+string(t))
		}
		urls[t] = u
	}
	switch len(missing) {
	case 0:
		c.QueueURLs = urls
	case len(generation.Tiers):
		// none given: looked up by name
	default:
		r.Fail(fmt.Errorf("%s missing: give every tier's queue URL or none", strings.Join(missing, ", ")))
	}

	r.String("WEBSOCKET_ENDPOINT", &c.WebSocketEndpoint)
	c.WebSocketEndpoint = strings.TrimRight(c.WebSocketEndpoint, "/")
	r.String("SUNO_BASE_URL", &c.SunoBaseURL)
	c.SunoKey = SecretRef{Name: "SUNO_API_KEY", SecretARN: getenv("SUNO_API_KEY_SECRET_ARN"), Parameter: getenv("SUNO_API_KEY_PARAMETER"), Value: getenv("SUNO_API_KEY")}
	r.String("CALLBACK_BASE_URL", &c.CallbackBaseURL)
	c.CallbackBaseURL = strings.TrimRight(c.CallbackBaseURL, "/")
	c.CallbackSecret = SecretRef{Name: "CALLBACK_SECRET", SecretARN: getenv("CALLBACK_SECRET_ARN"), Value: getenv("CALLBACK_SECRET")}
	r.String("TIER_CLAIM", &c.TierClaim)
	c.DevJWTSecret = getenv("DEV_JWT_SECRET")

	c.Tuning.ReadEnv(r)
	r.Duration("CLAIM_LEASE", &c.ClaimLease)

	level := getenv("AWS_LAMBDA_LOG_LEVEL")
	if level == "" {
		level = getenv("LOG_LEVEL")
	}
	if level != "" {
		if err := c.LogLevel.UnmarshalText([]byte(normalizeLevel(level))); err != nil {
			r.Fail(fmt.Errorf("log level %q: want DEBUG, INFO, WARN or ERROR", level))
		}
	}
	return c, r.Err()
}

// normalizeLevel maps Lambda's level names (TRACE, DEBUG, INFO, WARN,
// ERROR, FATAL) onto slog's.
func normalizeLevel(s string) string {
	switch strings.ToUpper(s) {
	case "TRACE":
		return "DEBUG"
	case "FATAL":
		return "ERROR"
	}
	return s
}
