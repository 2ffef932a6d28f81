package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/songqueue/songqueue/internal/apispec"
	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/awstest"
	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// fastConfig is the embedded default with every wait shortened, so the
// whole lifecycle takes milliseconds.
func fastConfig() devstack.Config {
	c := devstack.DefaultConfig()
	c.Port = 0
	c.Pipeline.Retry.BackoffBase = 40 * time.Millisecond
	c.Pipeline.PollInterval = 100 * time.Millisecond
	c.Pipeline.Deadline = 10 * time.Second
	// Longer than any step under a loaded CI machine, so a slow step is not
	// mistaken for a dead worker and redelivered.
	// Worker timeout < claim lease < visibility timeout, as Config.Check
	// requires.
	c.QueueSettings.VisibilityTimeout = 7 * time.Second
	c.Pipeline.ClaimLease = 6 * time.Second
	c.WorkerTimeout = 5 * time.Second
	c.RateLimit.Rate = 1000
	c.Pipeline.Quotas = nil // the quota scenarios set their own
	// So does the scenario of the limits per caller (limits_test.go).
	c.Requests = app.RequestLimits{}
	c.Pipeline.Health.Verdict = 100 * time.Millisecond
	c.FakeTextDelay, c.FakeFirstDelay, c.FakeCompleteDelay = 20*time.Millisecond, 60*time.Millisecond, 120*time.Millisecond
	return c
}

// backend is where a scenario's stack keeps its state.
type backend struct {
	name  string
	setup func(t *testing.T, c *devstack.Config, o *devstack.Options)
}

var backends = []backend{
	{"memory", func(*testing.T, *devstack.Config, *devstack.Options) {}},
	// The AWS adapters on the emulator (moto, or AWS_ENDPOINT_URL), each
	// scenario with tables and queues of its own.
	{"aws", func(t *testing.T, c *devstack.Config, o *devstack.Options) {
		awsCfg := awstest.Config(t)
		c.Backend, c.Emulator = app.AWS, true
		c.Names = awstest.UniqueNames(t)
		o.AWSConfig = &awsCfg
	}},
}

// config is the stack's configuration and options on backend b.
func (b backend) config(t *testing.T, opt devstack.Options) (devstack.Config, devstack.Options) {
	cfg := fastConfig()
	cfg.Media.Dir = t.TempDir()
	b.setup(t, &cfg, &opt)
	return cfg, opt
}

var scenarios = map[string]func(t *testing.T, b backend){
	"FullLifecycle":                       scenarioFullLifecycle,
	"TransientFailuresAreRetried":         scenarioTransientFailuresAreRetriedWithBackoff,
	"PermanentErrorFailsAtOnce":           scenarioPermanentErrorFailsAtOnce,
	"RetriesExhausted":                    scenarioRetriesExhausted,
	"CancelRunningJob":                    scenarioCancelRunningJob,
	"CancelQueuedJob":                     scenarioCancelQueuedJob,
	"UsersSeeOnlyTheirOwn":                scenarioUsersSeeOnlyTheirOwnGenerations,
	"CompletionByPolling":                 scenarioCompletionByPollingWhenNoCallbackComes,
	"DuplicateDeliveryDoesNotSubmitTwice": scenarioDuplicateDeliveryDoesNotSubmitTwice,
	"SyncAfterReconnect":                  scenarioSyncReportsStateAfterReconnect,
	"PageAndDemoUsers":                    scenarioServesThePageAndDemoUsers,
	"ShutdownFinishesJobInFlight":         scenarioShutdownFinishesTheJobInFlight,
	"SweeperRecoversDeadWorkersClaim":     scenarioSweeperRecoversAClaimLeftByADeadWorker,
	"Quotas":                              scenarioQuotas,
	"ForgedCallbackChangesNothing":        scenarioForgedCallbackChangesNothing,
	"WebSocketLimits":                     scenarioWebSocketLimits,
	"StatsCountGenerations":               scenarioStatsCountGenerationsExactly,
	"AdminRetriesAFailedGeneration":       scenarioAdminRetriesAFailedGeneration,
	"PausedTierSubmitsNothing":            scenarioPausedTierSubmitsNothingUntilResumed,
	"AdminRoutesAreForAdmins":             scenarioAdminRoutesAreForAdminsOnly,
	"OwnersDeleteFinishedGenerations":     scenarioOwnersDeleteFinishedGenerations,
	"DeadLettersListedAndRedriven":        scenarioDeadLettersAreListedAndRedriven,
	"SongsPlayFromOwnStorage":             scenarioCompletedSongsPlayFromOwnStorage,
	"CrashBetweenCopyAndCompletion":       scenarioCrashBetweenCopyAndCompletion,
	"FailedCopyCompletesWithSunoURLs":     scenarioFailedCopyCompletesWithSunoURLs,
	"ForeignMediaHostIsNotFetched":        scenarioForeignMediaHostIsNotFetched,
	"BulkRetryOfFailedSongs":              scenarioBulkRetryOfFailedSongs,
	"BulkCancelOfOneUsersQueue":           scenarioBulkCancelOfOneUsersQueue,
}

// TestEndToEnd drives the local stack over real HTTP and WebSocket, on
// each backend.
func TestEndToEnd(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for name, run := range scenarios {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					run(t, b)
				})
			}
		})
	}
}

func TestMain(m *testing.M) { awstest.Main(m) }

// TestTierPriority measures how tokens are shared between tiers, which the
// load of thirty other scenarios at once on two cores blurs: it runs alone,
// before the parallel ones, one backend after the other.
func TestTierPriority(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { scenarioHigherTiersOvertakeABacklogWithoutStarvingIt(t, b) })
	}
}

func startStack(t *testing.T, b backend, mutate func(*devstack.Config), opt devstack.Options) *devstack.Stack {
	t.Helper()
	cfg, opt := b.config(t, opt)
	if mutate != nil {
		mutate(&cfg)
	}
	// Only a test that listens to the events has the table's stream read.
	opt.NoEventStream = cfg.Events.WebhookURL == ""
	s, err := devstack.Start(context.Background(), cfg, opt)
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

type client struct {
	t     *testing.T
	stack *devstack.Stack
	token string
}

func user(t *testing.T, s *devstack.Stack, id string, tier generation.Tier) client {
	tok, err := s.Tokens.Mint(id, tier, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return client{t, s, tok}
}

func (c client) do(method, path string, body any, header ...string) (int, map[string]any) {
	c.t.Helper()
	code, out, err := c.try(method, path, body, header...)
	if err != nil {
		c.t.Fatal(err)
	}
	return code, out
}

// try is do for goroutines other than the test's, which must not call
// t.Fatal.
func (c client) try(method, path string, body any, header ...string) (int, map[string]any, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, c.stack.URL+path, rd)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusNoContent && len(raw) == 0 {
		return resp.StatusCode, out, nil
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return 0, nil, fmt.Errorf("%s %s: answer is not a JSON object: %q", method, path, raw)
	}
	return resp.StatusCode, out, nil
}

// apiSpec is openapi.yaml: every exchange of the tests' clients is held
// to it.
var apiSpec = sync.OnceValues(func() (*apispec.Spec, error) { return apispec.Load(apispec.Path()) })

// http is a client whose every API request and response is checked
// against openapi.yaml; a mismatch fails the test.
func (c client) http() *http.Client {
	spec, err := apiSpec()
	if err != nil {
		c.t.Errorf("openapi.yaml: %v", err)
		return http.DefaultClient
	}
	return &http.Client{Transport: spec.Transport(func(err error) { c.t.Errorf("%v", err) }, nil)}
}

func (c client) create(prompt string) string {
	c.t.Helper()
	id, err := c.tryCreate(prompt)
	if err != nil {
		c.t.Fatal(err)
	}
	return id
}

func (c client) tryCreate(prompt string) (string, error) {
	code, body, err := c.try("POST", "/api/generation/create", map[string]any{"prompt": prompt})
	if err != nil {
		return "", err
	}
	if code != http.StatusAccepted {
		return "", fmt.Errorf("create: %d %v", code, body)
	}
	return body["generationId"].(string), nil
}

func (c client) status(id string) map[string]any {
	c.t.Helper()
	code, body := c.do("GET", "/api/generation/status/"+id, nil)
	if code != http.StatusOK {
		c.t.Fatalf("status %s: %d %v", id, code, body)
	}
	return body
}

// event is a server message as a client receives it.
type event struct {
	Event string         `json:"event"`
	Data  map[string]any `json:"data"`
	At    time.Time      `json:"-"`
}

func (e event) id() string     { s, _ := e.Data["generationId"].(string); return s }
func (e event) progress() int  { f, _ := e.Data["progress"].(float64); return int(f) }
func (e event) status() string { s, _ := e.Data["status"].(string); return s }
func (e event) String() string { return fmt.Sprintf("%s %d %s", e.Event, e.progress(), e.status()) }

// socket records every event a connection receives.
type socket struct {
	conn *websocket.Conn
	mu   sync.Mutex
	evs  []event
	more chan struct{}
}

func (c client) dial() *socket {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, c.stack.WSURL+"?token="+c.token, nil)
	if err != nil {
		c.t.Fatalf("dial websocket: %v", err)
	}
	s := &socket{conn: conn, more: make(chan struct{}, 1)}
	go func() {
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			var ev event
			if json.Unmarshal(data, &ev) == nil {
				ev.At = time.Now()
				s.mu.Lock()
				s.evs = append(s.evs, ev)
				s.mu.Unlock()
				select {
				case s.more <- struct{}{}:
				default:
				}
			}
		}
	}()
	c.t.Cleanup(func() { conn.Close(websocket.StatusNormalClosure, "") })
	// A ping round trip proves the connection is registered before the
	// test creates anything.
	s.send(c.t, `{"action":"ping"}`)
	s.wait(c.t, "pong", func(e event) bool { return e.Event == "pong" }, 5*time.Second)
	return s
}

func (s *socket) send(t *testing.T, msg string) {
	t.Helper()
	if err := s.conn.Write(context.Background(), websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("send %s: %v", msg, err)
	}
}

func (s *socket) events(id string) []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []event
	for _, e := range s.evs {
		if id == "" || e.id() == id {
			out = append(out, e)
		}
	}
	return out
}

// wait blocks until an event matching ok arrives, and returns it.
func (s *socket) wait(t *testing.T, what string, ok func(event) bool, timeout time.Duration) event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		for _, e := range s.events("") {
			if ok(e) {
				return e
			}
		}
		select {
		case <-s.more:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got %v", what, s.events(""))
		}
	}
}

func (s *socket) waitFinal(t *testing.T, id string, timeout time.Duration) event {
	t.Helper()
	return s.wait(t, "the end of "+id, func(e event) bool {
		return e.id() == id && (e.Event == service.EventComplete || e.Event == service.EventError || e.Event == service.EventCancelled)
	}, timeout)
}

func count(evs []event, name string) int {
	n := 0
	for _, e := range evs {
		if e.Event == name {
			n++
		}
	}
	return n
}

// quiet gives late callbacks and polls a chance to misbehave.
func quiet() { time.Sleep(400 * time.Millisecond) }
