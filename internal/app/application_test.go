package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// fakeSecrets counts what it is asked.
type fakeSecrets struct {
	mu      sync.Mutex
	secrets map[string]string
	params  map[string]string
	asked   []string
}

func (f *fakeSecrets) SecretString(_ context.Context, id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, "secret:"+id)
	if v, ok := f.secrets[id]; ok {
		return v, nil
	}
	return "", errors.New("ResourceNotFoundException")
}

func (f *fakeSecrets) snapshot() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.asked...)
}

func (f *fakeSecrets) Parameter(_ context.Context, name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, "parameter:"+name)
	if v, ok := f.params[name]; ok {
		return v, nil
	}
	return "", errors.New("ParameterNotFound")
}

// baseEnv gives every queue URL, so New makes no AWS request.
func baseEnv() map[string]string {
	m := map[string]string{}
	for _, t := range generation.Tiers {
		m["QUEUE_URL_"+string(t)] = "https://sqs.example/" + string(t)
	}
	return m
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// role is one function's assembly, as far as these tests look at it.
type role string

const (
	roleAPI       role = "api"
	roleCallback  role = "callback"
	roleWebSocket role = "websocket"
	roleWorker    role = "worker"
	roleSweeper   role = "sweeper"
)

func (r role) talksToSuno() bool { return r == roleWorker || r == roleSweeper || r == roleCallback }

// assembled is what a test sees of a role: the Suno client it was given
// (nil when none), and how it signs (worker) or checks (callback)
// callback URLs.
type assembled struct {
	env  *Env
	suno service.Suno
	sign func(ctx context.Context, id string) (string, error)
	// callbackBase is the base URL of the callback URLs the role gives Suno.
	callbackBase string
}

// fromEnv is what a function's init does, on an AWS configuration that
// reaches nothing.
func fromEnv(t *testing.T, r role, m map[string]string, f *fakeSecrets) (*assembled, error) {
	t.Helper()
	cfg, err := FromEnv(env(m))
	if err != nil {
		return nil, err
	}
	cfg.Backend = AWS
	awsCfg := aws.Config{Region: "us-east-1"}
	out := &assembled{}
	opt := Options{Logger: discardLog(), AWSConfig: &awsCfg, WrapSuno: func(s service.Suno) service.Suno { out.suno = s; return s }}
	if f != nil {
		opt.Secrets = func(aws.Config) SecretReader { return f }
	}
	e, err := NewEnv(context.Background(), cfg, opt)
	if err != nil {
		return nil, err
	}
	out.env = e
	ctx := context.Background()
	switch r {
	case roleAPI:
		_, err = API(ctx, e)
	case roleCallback:
		var c *service.Callbacks
		if c, err = Callback(ctx, e); err == nil {
			out.sign = func(ctx context.Context, id string) (string, error) { return c.Signature(ctx, id, 1) }
		}
	case roleWebSocket:
		_, err = WebSocket(ctx, e)
	case roleWorker:
		if _, err = Worker(ctx, e); err == nil {
			s, _ := e.signer(true, false)
			out.sign = func(ctx context.Context, id string) (string, error) {
				return s.Signature(ctx, id, 1, time.Now().Add(time.Hour))
			}
			out.callbackBase = s.BaseURL
		}
	case roleSweeper:
		_, err = Sweeper(ctx, e)
	default:
		err = errors.New("unknown role " + string(r))
	}
	return out, err
}

// keyServer is Suno as far as the API key is concerned.
type keyServer struct {
	*httptest.Server
	mu   sync.Mutex
	last string
}

func newKeyServer(t *testing.T) *keyServer {
	k := &keyServer{}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.last = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		k.mu.Unlock()
		io.WriteString(w, `{"code":200,"msg":"success","data":{"taskId":"t"}}`)
	}))
	t.Cleanup(k.Close)
	return k
}

// keySent submits through the application's Suno client and returns the
// API key it sent.
func (k *keyServer) keySent(t *testing.T, a *assembled) string {
	t.Helper()
	if _, err := a.suno.Submit(context.Background(), generation.Request{Prompt: "x"}, ""); err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.last
}

// TestSecretsAreReadWhenFirstNeeded: no role reads a secret at init (a
// cold start waits on no Secrets Manager call); each reads only the
// secrets its work needs, once, when it first needs them.
func TestSecretsAreReadWhenFirstNeeded(t *testing.T) {
	k := newKeyServer(t)
	m := baseEnv()
	maps.Copy(m, map[string]string{
		"SUNO_API_KEY_SECRET_ARN": "arn:suno", "CALLBACK_SECRET_ARN": "arn:cb",
		"CALLBACK_BASE_URL": "https://api.example", "SUNO_BASE_URL": k.URL,
	})
	want := map[role]string{
		roleAPI:       "",
		roleWebSocket: "",
		roleCallback:  "secret:arn:cb,secret:arn:suno",
		roleSweeper:   "secret:arn:suno",
		roleWorker:    "secret:arn:cb,secret:arn:suno",
	}
	for role, asked := range want {
		f := &fakeSecrets{secrets: map[string]string{"arn:suno": " suno-key\n", "arn:cb": "0123456789abcdef0123"}}
		a, err := fromEnv(t, role, m, f)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		// Only what nearly every invocation needs is fetched from init
		// on, in the background.
		if asked := f.snapshot(); role != roleWorker && role != roleCallback && len(asked) != 0 {
			t.Errorf("%s read %v at init", role, asked)
		}
		// Only the worker and the callback hold the callback key; the
		// others have no way to sign.
		if (a.sign != nil) != (role == roleWorker || role == roleCallback) {
			t.Errorf("%s: signs callbacks: %v", role, a.sign != nil)
		}
		if (a.suno != nil) != role.talksToSuno() {
			t.Errorf("%s: given a Suno client: %v", role, a.suno != nil)
		}
		for range 2 { // the second use reads nothing more
			if a.sign != nil {
				if _, cbErr := a.sign(context.Background(), "g"); cbErr != nil {
					t.Errorf("%s: callback signature error %v", role, cbErr)
				}
			}
			if role.talksToSuno() {
				if key := k.keySent(t, a); key != "suno-key" {
					t.Errorf("%s sent Suno the key %q", role, key)
				}
			}
		}
		got := f.snapshot()
		slices.Sort(got)
		if strings.Join(got, ",") != asked {
			t.Errorf("%s read %v, want %q", role, got, asked)
		}
		// Only the worker signs callback URLs.
		if cb := a.callbackBase; (cb != "") != (role == roleWorker) {
			t.Errorf("%s: callback base URL %q", role, cb)
		}
	}
}

func TestSecretSources(t *testing.T) {
	k := newKeyServer(t)
	f := &fakeSecrets{params: map[string]string{"/songqueue/suno": "from-ssm"}, secrets: map[string]string{"arn:cb": "0123456789abcdef"}}
	m := baseEnv()
	maps.Copy(m, map[string]string{"SUNO_BASE_URL": k.URL, "SUNO_API_KEY_PARAMETER": "/songqueue/suno", "SUNO_API_KEY": "ignored", "CALLBACK_SECRET_ARN": "arn:cb"})
	a, err := fromEnv(t, roleWorker, m, f)
	if err != nil {
		t.Fatal(err)
	}
	if key := k.keySent(t, a); key != "from-ssm" || strings.Join(f.snapshot(), ",") != "parameter:/songqueue/suno" {
		t.Fatalf("sent %q after asking %v; the parameter wins over the plain value", key, f.snapshot())
	}

	// A plain value needs no reader.
	m = baseEnv()
	maps.Copy(m, map[string]string{"SUNO_BASE_URL": k.URL, "SUNO_API_KEY": "plain", "CALLBACK_BASE_URL": "https://api.example", "CALLBACK_SECRET": "0123456789abcdef"})
	if a, err = fromEnv(t, roleWorker, m, nil); err != nil {
		t.Fatal(err)
	}
	if key := k.keySent(t, a); key != "plain" {
		t.Fatalf("sent %q", key)
	}
}

// TestIncompleteSecretsAreRefused: what can be known wrong without a
// request fails the init; a secret that cannot be read fails its first use,
// saying which, and is tried again on the next.
func TestIncompleteSecretsAreRefused(t *testing.T) {
	cases := []struct {
		name string
		role role
		env  map[string]string
		want string
	}{
		{"callback without secret", roleCallback, nil, "CALLBACK_SECRET"},
		{"worker calling back without secret", roleWorker, map[string]string{"CALLBACK_BASE_URL": "https://x"}, "CALLBACK_SECRET"},
		{"short secret", roleCallback, map[string]string{"CALLBACK_SECRET": "short"}, "at least"},
		{"no reader", roleSweeper, map[string]string{"SUNO_API_KEY_PARAMETER": "/p"}, "without a secret reader"},
		{"bad role", role("cron"), nil, "unknown role"},
	}
	for _, c := range cases {
		m := baseEnv()
		maps.Copy(m, c.env)
		var f *fakeSecrets
		if c.name != "no reader" {
			f = &fakeSecrets{}
		}
		_, err := fromEnv(t, c.role, m, f)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}

	for _, c := range []struct{ name, env, value, want string }{
		{"missing secret", "CALLBACK_SECRET_ARN", "arn:none", "ResourceNotFoundException"},
		{"empty secret", "CALLBACK_SECRET_ARN", "arn:blank", "empty"},
		{"short secret", "CALLBACK_SECRET_ARN", "arn:short", "at least"},
	} {
		m := baseEnv()
		m[c.env] = c.value
		f := &fakeSecrets{secrets: map[string]string{"arn:blank": "  ", "arn:short": "abc"}}
		a, err := fromEnv(t, roleCallback, m, f)
		if err != nil {
			t.Fatalf("%s: init failed: %v", c.name, err)
		}
		for range 2 {
			if _, err := a.sign(context.Background(), "g"); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
			}
		}
		if asked := f.snapshot(); len(asked) < 2 {
			t.Errorf("%s: asked %v; a failed read must be tried again", c.name, asked)
		}
	}
}

// TestNoWebSocketEndpointDropsEventsQuietly: without WEBSOCKET_ENDPOINT
// (sam local) the state is stored and only the push is skipped.
func TestNoWebSocketEndpointDropsEventsQuietly(t *testing.T) {
	a, err := fromEnv(t, roleWebSocket, map[string]string{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.env.newAWS()
	if err != nil {
		t.Fatal(err)
	}
	n := b.core().Notifier
	if err := n.Post(context.Background(), "c", nil); err != nil {
		t.Errorf("without endpoint the notifier drops events quietly: %v", err)
	}
	if err := n.Close(context.Background(), "c"); err != nil {
		t.Errorf("without endpoint closing is a no-op: %v", err)
	}
}
