package lambdatest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/golang-jwt/jwt/v5"

	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/awstest"
	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/dynamo"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/sqsqueue"
	"github.com/songqueue/songqueue/internal/sunofake"
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range buildDirs {
		os.RemoveAll(d)
	}
	awstest.Stop()
	os.Exit(code)
}

// packages are every function's main package and the hello-world baseline.
func packages() []string {
	pkgs := []string{HelloPackage}
	for dir := range Functions {
		pkgs = append(pkgs, "./functions/"+dir)
	}
	return pkgs
}

var (
	buildMu   sync.Mutex
	buildDirs = map[string]string{}
	built     = map[string]map[string]string{}
)

// binaries builds every function for goarch once per test binary.
func binaries(tb testing.TB, goarch string) map[string]string {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bins, ok := built[goarch]; ok {
		return bins
	}
	root := repoRoot(tb)
	dir, err := os.MkdirTemp("", "songqueue-lambda-"+goarch+"-")
	if err != nil {
		tb.Fatal(err)
	}
	buildDirs[goarch] = dir
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bins, err := Build(ctx, root, dir, goarch, packages()...)
	if err != nil {
		tb.Fatal(err)
	}
	built[goarch] = bins
	return bins
}

func repoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := awstest.RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

// requireRIE skips unless LAMBDA_RIE names the emulator: make test-lambda
// and make bench-lambda build it and run these apart from the other
// packages' tests, whose timing-sensitive cases they would otherwise load.
// `LAMBDA_RIE=build go test ./internal/lambdatest` builds it here.
func requireRIE(tb testing.TB) {
	tb.Helper()
	if os.Getenv("LAMBDA_RIE") == "" {
		tb.Skip("runs the functions under the Lambda Runtime Interface Emulator: make test-lambda (or LAMBDA_RIE=build go test ./internal/lambdatest)")
	}
}

func rie(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := RIE(ctx, repoRoot(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// fixture is everything the functions run against: moto (tables, queues,
// secrets, an SSM parameter), the fake Suno, an emulated WebSocket
// management API, an OIDC issuer with a JWKS, and a small API Gateway that
// turns the fake Suno's callbacks into HTTP API events for the callback
// function.
type fixture struct {
	root     string
	rie      string
	bins     map[string]string
	endpoint string
	cfg      aws.Config
	clients  awsinfra.Clients
	res      awsinfra.Resources
	store    *dynamo.Store

	suno           *sunofake.Server
	sunoURL        string
	sunoKey        string
	sunoSecretARN  string
	sunoParameter  string
	callbackSecret string
	callbackARN    string

	// eventBus is the domain events' bus on moto; eventsQueue gets
	// every event of it (a rule on source songqueue).
	eventBus, eventsQueue string

	mgmt      *awstest.ManagementAPI
	issuer    *issuer
	bridgeURL string
	callbacks atomic.Int64 // callbacks the bridge delivered

	mu    sync.Mutex
	funcs map[string]*Function // by name, started on demand
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	f := &fixture{root: repoRoot(tb), funcs: map[string]*Function{}}
	f.endpoint = awstest.Endpoint(tb)
	f.cfg = awstest.Config(tb)
	f.clients, f.res = awstest.Setup(tb, f.cfg, sqsqueue.Settings{VisibilityTimeout: 30 * time.Second})
	f.store = dynamo.NewStore(f.clients.DynamoDB, f.res.Names.Generations, f.res.Names.Connections, dynamo.Options{})
	f.rie = rie(tb)
	f.bins = binaries(tb, runtime.GOARCH)

	ctx := context.Background()
	f.sunoKey = "suno-key-" + randomHex(4)
	f.callbackSecret = randomHex(24)
	sm := secretsmanager.NewFromConfig(f.cfg)
	for _, s := range []struct {
		name, value string
		arn         *string
	}{{"songqueue-test-suno-" + randomHex(4), f.sunoKey, &f.sunoSecretARN}, {"songqueue-test-callback-" + randomHex(4), f.callbackSecret, &f.callbackARN}} {
		out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(s.name), SecretString: aws.String(s.value)})
		if err != nil {
			tb.Fatalf("create secret: %v", err)
		}
		*s.arn = aws.ToString(out.ARN)
		tb.Cleanup(func() {
			_, _ = sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: out.ARN, ForceDeleteWithoutRecovery: aws.Bool(true)})
		})
	}
	ps := ssm.NewFromConfig(f.cfg)
	f.sunoParameter = "/songqueue/test/suno-" + randomHex(4)
	if _, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(f.sunoParameter), Value: aws.String(f.sunoKey), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		tb.Fatalf("put parameter: %v", err)
	}
	tb.Cleanup(func() {
		_, _ = ps.DeleteParameter(context.Background(), &ssm.DeleteParameterInput{Name: aws.String(f.sunoParameter)})
	})

	// The fake checks the key: a submission that passes proves the worker
	// read it from Secrets Manager.
	f.suno = sunofake.New(sunofake.Config{APIKey: f.sunoKey, FirstDelay: 200 * time.Millisecond, CompleteDelay: time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	sunoSrv := httptest.NewServer(f.suno)
	tb.Cleanup(func() { f.suno.Close(); sunoSrv.Close() })
	f.sunoURL = sunoSrv.URL

	f.eventBus, f.eventsQueue = eventBusToQueue(tb, f.cfg)

	f.mgmt = awstest.NewManagementAPI(tb)
	f.issuer = newIssuer(tb)

	bridge := httptest.NewServer(f.apiGateway("callback"))
	tb.Cleanup(bridge.Close)
	f.bridgeURL = bridge.URL
	tb.Cleanup(f.stopAll)
	return f
}

// env is the environment template.yaml gives function name, pointed at the
// fixture instead of AWS.
func (f *fixture) env(name string) map[string]string {
	e := BaseEnv(name)
	set := func(kv ...string) {
		for i := 0; i < len(kv); i += 2 {
			e[kv[i]] = kv[i+1]
		}
	}
	common := func() {
		set("AWS_ENDPOINT_URL", f.endpoint,
			"GENERATIONS_TABLE", f.res.Names.Generations, "CONNECTIONS_TABLE", f.res.Names.Connections,
			"WEBSOCKET_ENDPOINT", f.mgmt.Endpoint(), "TIER_CLAIM", "tier", "GENERATION_RATE_LIMIT", "50", "METRICS_NAMESPACE", "SongQueue/test",
			"SUNO_MEDIA_HOSTS", strings.TrimPrefix(f.sunoURL, "http://"))
		for _, t := range generation.Tiers {
			set("QUEUE_URL_"+string(t), f.res.Queues[t].Queue)
		}
	}
	switch name {
	case "api":
		common()
		for _, t := range generation.Tiers {
			set("DLQ_URL_"+string(t), f.res.Queues[t].DeadLetter)
		}
	case "callback":
		common()
		set("CALLBACK_SECRET_ARN", f.callbackARN, "SUNO_BASE_URL", f.sunoURL, "SUNO_API_KEY_SECRET_ARN", f.sunoSecretARN)
	case "websocket":
		common()
	case "worker":
		common()
		set("SUNO_BASE_URL", f.sunoURL, "SUNO_API_KEY_SECRET_ARN", f.sunoSecretARN,
			"CALLBACK_BASE_URL", f.bridgeURL, "CALLBACK_SECRET_ARN", f.callbackARN,
			"GENERATION_POLL_INTERVAL", "10m")
	case "sweeper":
		common()
		set("SUNO_BASE_URL", f.sunoURL, "SUNO_API_KEY_PARAMETER", f.sunoParameter)
	case "publisher":
		common()
		set("EVENT_BUS_NAME", f.eventBus)
	case "wsauthorizer":
		set("JWT_ISSUER", f.issuer.url(), "JWT_AUDIENCE", "songqueue-web", "TIER_CLAIM", "tier")
	case "wsauthorizer-dev":
		set("DEV_JWT_SECRET", devstack.DevJWTSecret, "TIER_CLAIM", "tier")
	}
	return e
}

// binary is the binary that runs as function name.
func (f *fixture) binary(name string) string {
	switch name {
	case "wsauthorizer-dev":
		return f.bins["wsauthorizer"]
	case "hello":
		return f.bins["hello"]
	}
	return f.bins[name]
}

// start starts the named functions, concurrently, each under its emulator.
func (f *fixture) start(tb testing.TB, names ...string) {
	tb.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, name := range names {
		wg.Go(func() {
			fn, err := Start(f.rie, f.binary(name), name, f.env(name))
			if err != nil {
				errs[i] = err
				return
			}
			f.mu.Lock()
			f.funcs[name] = fn
			f.mu.Unlock()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			tb.Fatal(err)
		}
	}
}

func (f *fixture) fn(name string) *Function {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.funcs[name]
}

func (f *fixture) stopAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fn := range f.funcs {
		fn.Stop()
	}
}

// apiGateway is a small stand-in for API Gateway's HTTP API in front of
// function name: each request becomes a payload 2.0 event, and the
// function's answer becomes the HTTP response.
func (f *fixture) apiGateway(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn := f.fn(name)
		if fn == nil {
			http.Error(w, `{"message":"Service Unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		headers := map[string]string{}
		for k, v := range r.Header {
			headers[strings.ToLower(k)] = strings.Join(v, ",")
		}
		query := map[string]string{}
		for k, v := range r.URL.Query() {
			query[k] = strings.Join(v, ",")
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		ev := events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: r.Method + " " + r.URL.Path, RawPath: r.URL.Path, RawQueryString: r.URL.RawQuery,
			Headers: headers, QueryStringParameters: query, Body: string(body),
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				RouteKey: r.Method + " " + r.URL.Path, Stage: "$default", RequestID: randomHex(8), DomainName: r.Host,
				TimeEpoch: time.Now().UnixMilli(),
				HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: host, UserAgent: r.UserAgent()},
			},
		}
		payload, _ := json.Marshal(ev)
		status, out, err := fn.Invoke(r.Context(), payload)
		var res events.APIGatewayV2HTTPResponse
		if err != nil || status != http.StatusOK || json.Unmarshal(out, &res) != nil || res.StatusCode == 0 {
			http.Error(w, `{"message":"Internal Server Error"}`, http.StatusInternalServerError)
			return
		}
		if name == "callback" {
			f.callbacks.Add(1)
		}
		for k, v := range res.Headers {
			w.Header().Set(k, v)
		}
		for _, c := range res.Cookies {
			w.Header().Add("Set-Cookie", c)
		}
		b := []byte(res.Body)
		if res.IsBase64Encoded {
			b, _ = base64.StdEncoding.DecodeString(res.Body)
		}
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(b)
	})
}

// issuer is an OIDC issuer on loopback with one RS256 key, as a Cognito
// user pool publishes it.
type issuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
}

func newIssuer(tb testing.TB) *issuer {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	is := &issuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": is.url(), "jwks_uri": is.url() + "/.well-known/jwks.json"})
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	is.srv = httptest.NewServer(mux)
	tb.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) url() string { return is.srv.URL }

// token signs claims over the issuer's defaults with key (the issuer's own
// when nil).
func (is *issuer) token(tb testing.TB, key *rsa.PrivateKey, claims jwt.MapClaims) string {
	tb.Helper()
	now := time.Now()
	c := jwt.MapClaims{"iss": is.url(), "aud": "songqueue-web", "sub": "demo-premium", "tier": "PREMIUM",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "token_use": "id"}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	if key == nil {
		key = is.key
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sample reads events/<name>.
func (f *fixture) sample(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(f.root, "events", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// patched is the sample with edit applied to it as a JSON object.
func (f *fixture) patched(tb testing.TB, name string, edit func(m map[string]any)) []byte {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(f.sample(tb, name), &m); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// eventBusToQueue makes an EventBridge bus on moto whose every songqueue
// event a rule sends to a new SQS queue, and returns both.
func eventBusToQueue(tb testing.TB, cfg aws.Config) (bus, queueURL string) {
	tb.Helper()
	ctx := context.Background()
	eb, sq := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	bus = "songqueue-test-events-" + randomHex(4)
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		tb.Fatalf("create event bus: %v", err)
	}
	tb.Cleanup(func() {
		_, _ = eb.DeleteEventBus(context.Background(), &eventbridge.DeleteEventBusInput{Name: aws.String(bus)})
	})
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(bus)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _, _ = sq.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl}) })
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("all-" + bus), EventBusName: aws.String(bus), EventPattern: aws.String(`{"source": ["songqueue"]}`)}); err != nil {
		tb.Fatalf("put rule: %v", err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("all-" + bus), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}}}); err != nil {
		tb.Fatalf("put targets: %v", err)
	}
	return bus, aws.ToString(q.QueueUrl)
}

// obj walks m down keys, creating objects on the way.
func obj(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	return m
}
