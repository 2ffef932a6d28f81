package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/awstest"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/lambdaapp/awssecrets"
	"github.com/songqueue/songqueue/internal/service"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// motoSecret creates a Secrets Manager secret holding value on the
// emulator and returns its ARN.
func motoSecret(t *testing.T, cfg aws.Config, value string) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	sm := secretsmanager.NewFromConfig(cfg)
	out, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String("songqueue-test-suno-" + hex.EncodeToString(b[:])), SecretString: aws.String(value)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: out.ARN, ForceDeleteWithoutRecovery: aws.Bool(true)})
	})
	return aws.ToString(out.ARN)
}

// bearerServer answers Suno's submit and remembers the keys it was sent.
type bearerServer struct {
	*httptest.Server
	mu   sync.Mutex
	keys []string
}

func newBearerServer(t *testing.T) *bearerServer {
	b := &bearerServer{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.keys = append(b.keys, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		b.mu.Unlock()
		io.WriteString(w, `{"code":200,"msg":"success","data":{"taskId":"t"}}`)
	}))
	t.Cleanup(b.Close)
	return b
}

// motoEnv is a function's environment on the emulator, with the functions'
// own secret reader; clients collects the Suno client of each account in
// the order the accounts are assembled.
func motoEnv(t *testing.T, cfg aws.Config, vars map[string]string, clients *[]service.Suno) (*app.Env, error) {
	t.Helper()
	for _, tier := range generation.Tiers {
		vars["QUEUE_URL_"+string(tier)] = "https://sqs.example/" + string(tier) // no queue request at assembly
	}
	c, err := app.FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		return nil, err
	}
	c.Backend = app.AWS
	return app.NewEnv(context.Background(), c, app.Options{
		Logger: slog.New(slog.DiscardHandler), AWSConfig: &cfg, Secrets: awssecrets.New,
		WrapSuno: func(s service.Suno) service.Suno { *clients = append(*clients, s); return s },
	})
}

// TestSunoAccountsFromSecretsManager, on the emulator with the functions'
// own secret reader: one secret holding a JSON list of keys gives one
// account per key, in the worker (each sends its own key), in the API
// (the operators' view lists them) and in the WebSocket function (sync's
// places in line count them); a plain string in that secret is one
// account as with SUNO_API_KEY_SECRET_ARN; several secrets in
// SUNO_API_KEY_SECRET_ARNS are an account each; a malformed list fails
// the start, naming the variable and not the value.
func TestSunoAccountsFromSecretsManager(t *testing.T) {
	cfg := awstest.Config(t)
	_, names := awstest.SetupTables(t, cfg)
	ctx := context.Background()
	suno := newBearerServer(t)
	const secret = "s3cr3t-key"

	// keysSent assembles the worker and submits once through each
	// account, returning the keys Suno was sent.
	keysSent := func(t *testing.T, vars map[string]string) []string {
		t.Helper()
		vars["SUNO_BASE_URL"] = suno.URL
		var clients []service.Suno
		e, err := motoEnv(t, cfg, vars, &clients)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.Worker(ctx, e); err != nil {
			t.Fatal(err)
		}
		suno.mu.Lock()
		suno.keys = nil
		suno.mu.Unlock()
		for _, c := range clients {
			if _, err := c.Submit(ctx, generation.Request{Prompt: "x"}, ""); err != nil {
				t.Fatal(err)
			}
		}
		suno.mu.Lock()
		defer suno.mu.Unlock()
		return slices.Clone(suno.keys)
	}
	// operatorsSee assembles the API and lists the accounts as an
	// operator does (GET /api/admin/suno).
	operatorsSee := func(t *testing.T, vars map[string]string) []string {
		t.Helper()
		vars["GENERATIONS_TABLE"], vars["CONNECTIONS_TABLE"] = names.Generations, names.Connections
		var clients []service.Suno
		e, err := motoEnv(t, cfg, vars, &clients)
		if err != nil {
			t.Fatal(err)
		}
		roles, err := app.API(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		health, err := roles.Operators.SunoAccounts(ctx, identity.Caller{UserID: "op", Groups: []string{"admin"}})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, h := range health {
			out = append(out, h.Account)
		}
		return out
	}

	t.Run("JSON list", func(t *testing.T) {
		arn := motoSecret(t, cfg, `["`+secret+`-1", "`+secret+`-2", "`+secret+`-3"]`)
		if got, want := keysSent(t, map[string]string{"SUNO_API_KEYS_SECRET_ARN": arn}), []string{secret + "-1", secret + "-2", secret + "-3"}; !slices.Equal(got, want) {
			t.Errorf("keys sent %q, want %q", got, want)
		}
		if got, want := operatorsSee(t, map[string]string{"SUNO_API_KEYS_SECRET_ARN": arn}), []string{"account-1", "account-2", "account-3"}; !slices.Equal(got, want) {
			t.Errorf("operators see %v, want %v", got, want)
		}
		// sync's places in line count them too.
		var clients []service.Suno
		e, err := motoEnv(t, cfg, map[string]string{"SUNO_API_KEYS_SECRET_ARN": arn}, &clients)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.WebSocket(ctx, e); err != nil {
			t.Fatal(err)
		}
		if n := e.Pipeline().Line.Accounts; n != 3 {
			t.Errorf("the WebSocket function estimates for %d accounts, want 3", n)
		}
	})

	t.Run("plain string", func(t *testing.T) {
		arn := motoSecret(t, cfg, " "+secret+"\n")
		for _, v := range []string{"SUNO_API_KEYS_SECRET_ARN", "SUNO_API_KEY_SECRET_ARN"} {
			if got := keysSent(t, map[string]string{v: arn}); !slices.Equal(got, []string{secret}) {
				t.Errorf("%s: keys sent %q, want the one key", v, got)
			}
			if got := operatorsSee(t, map[string]string{v: arn}); !slices.Equal(got, []string{service.DefaultAccount}) {
				t.Errorf("%s: operators see %v, want the one account as today", v, got)
			}
		}
	})

	t.Run("secret ARNs", func(t *testing.T) {
		arns := motoSecret(t, cfg, secret+"-a") + "," + motoSecret(t, cfg, secret+"-b")
		if got, want := keysSent(t, map[string]string{"SUNO_API_KEY_SECRET_ARNS": arns}), []string{secret + "-a", secret + "-b"}; !slices.Equal(got, want) {
			t.Errorf("keys sent %q, want %q", got, want)
		}
		if got, want := operatorsSee(t, map[string]string{"SUNO_API_KEY_SECRET_ARNS": arns}), []string{"account-1", "account-2"}; !slices.Equal(got, want) {
			t.Errorf("operators see %v, want %v", got, want)
		}
	})

	t.Run("malformed", func(t *testing.T) {
		for _, v := range []string{`["` + secret + `", "` + secret + `-2"`, `["` + secret + `", 2]`, `{"SUNO_API_KEY": "` + secret + `"}`} {
			arn := motoSecret(t, cfg, v)
			var clients []service.Suno
			e, err := motoEnv(t, cfg, map[string]string{"SUNO_API_KEYS_SECRET_ARN": arn}, &clients)
			if err != nil {
				t.Fatal(err)
			}
			for name, assemble := range map[string]func() error{
				"worker": func() error { _, err := app.Worker(ctx, e); return err },
				"api":    func() error { _, err := app.API(ctx, e); return err },
			} {
				err := assemble()
				if err == nil || !strings.Contains(err.Error(), "SUNO_API_KEYS_SECRET_ARN ("+arn+")") || strings.Contains(err.Error(), secret) {
					t.Errorf("%s on %s: err = %v; want a configuration error naming SUNO_API_KEYS_SECRET_ARN, not the value", name, v, err)
				}
			}
		}
	})
}
