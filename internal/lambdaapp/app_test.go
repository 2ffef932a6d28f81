package lambdaapp

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/suno"
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

func (f *fakeSecrets) Parameter(_ context.Context, name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, "parameter:"+name)
	if v, ok := f.params[name]; ok {
		return v, nil
	}
	return "", errors.New("ParameterNotFound")
}

// baseEnv gives every queue URL, so FromEnv makes no AWS request.
func baseEnv() map[string]string {
	m := map[string]string{}
	for _, t := range generation.Tiers {
		m["QUEUE_URL_"+string(t)] = "https://sqs.example/" + string(t)
	}
	return m
}

func fromEnv(t *testing.T, role Role, m map[string]string, f *fakeSecrets) (*App, error) {
	t.Helper()
	cfg := aws.Config{Region: "us-east-1"}
	opt := Options{Getenv: env(m), Logger: discardLog(), AWSConfig: &cfg}
	if f != nil {
		opt.Secrets = func(aws.Config) SecretReader { return f }
	}
	return FromEnv(context.Background(), role, opt)
}

func TestFromEnvReadsOnlyTheSecretsTheRoleNeeds(t *testing.T) {
	m := baseEnv()
	maps.Copy(m, map[string]string{
		"SUNO_API_KEY_SECRET_ARN": "arn:suno", "CALLBACK_SECRET_ARN": "arn:cb",
		"CALLBACK_BASE_URL": "https://api.example",
	})
	want := map[Role]string{
		RoleAPI:       "",
		RoleWebSocket: "",
		RoleCallback:  "secret:arn:cb",
		RoleSweeper:   "secret:arn:suno",
		RoleWorker:    "secret:arn:cb,secret:arn:suno",
	}
	for role, asked := range want {
		f := &fakeSecrets{secrets: map[string]string{"arn:suno": " suno-key\n", "arn:cb": "0123456789abcdef0123"}}
		app, err := fromEnv(t, role, m, f)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		got := append([]string(nil), f.asked...)
		if len(got) == 2 && got[0] > got[1] {
			got[0], got[1] = got[1], got[0]
		}
		if strings.Join(got, ",") != asked {
			t.Errorf("%s read %v, want %q", role, got, asked)
		}
		// Only the worker signs callback URLs.
		if cb := app.Service.Config().CallbackBaseURL; (cb != "") != (role == RoleWorker) {
			t.Errorf("%s: callback base URL %q", role, cb)
		}
	}
}

func TestFromEnvSecretSources(t *testing.T) {
	f := &fakeSecrets{params: map[string]string{"/songqueue/suno": "from-ssm"}, secrets: map[string]string{"arn:cb": "0123456789abcdef"}}
	m := baseEnv()
	maps.Copy(m, map[string]string{"SUNO_API_KEY_PARAMETER": "/songqueue/suno", "SUNO_API_KEY": "ignored", "CALLBACK_SECRET_ARN": "arn:cb"})
	if _, err := fromEnv(t, RoleWorker, m, f); err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.asked, ",") != "parameter:/songqueue/suno" {
		t.Fatalf("asked %v; the parameter wins over the plain value", f.asked)
	}

	// A plain value needs no reader.
	m = baseEnv()
	maps.Copy(m, map[string]string{"SUNO_API_KEY": "plain", "CALLBACK_BASE_URL": "https://api.example", "CALLBACK_SECRET": "0123456789abcdef"})
	if _, err := fromEnv(t, RoleWorker, m, nil); err != nil {
		t.Fatal(err)
	}
}

func TestFromEnvRefusesIncompleteSecrets(t *testing.T) {
	cases := []struct {
		name string
		role Role
		env  map[string]string
		want string
	}{
		{"callback without secret", RoleCallback, nil, "CALLBACK_SECRET"},
		{"worker calling back without secret", RoleWorker, map[string]string{"CALLBACK_BASE_URL": "https://x"}, "CALLBACK_SECRET"},
		{"short secret", RoleCallback, map[string]string{"CALLBACK_SECRET": "short"}, "at least"},
		{"missing secret", RoleSweeper, map[string]string{"SUNO_API_KEY_SECRET_ARN": "arn:none"}, "ResourceNotFoundException"},
		{"empty secret", RoleSweeper, map[string]string{"SUNO_API_KEY_SECRET_ARN": "arn:blank"}, "empty"},
		{"no reader", RoleSweeper, map[string]string{"SUNO_API_KEY_PARAMETER": "/p"}, "without a secret reader"},
		{"bad role", Role("cron"), nil, "unknown function role"},
	}
	for _, c := range cases {
		m := baseEnv()
		maps.Copy(m, c.env)
		var f *fakeSecrets
		if c.name != "no reader" {
			f = &fakeSecrets{secrets: map[string]string{"arn:blank": "  "}}
		}
		_, err := fromEnv(t, c.role, m, f)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

func TestUnwiredPortsSayWhy(t *testing.T) {
	app, err := fromEnv(t, RoleWebSocket, map[string]string{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Service.Suno.Submit(context.Background(), suno0()); err == nil || !strings.Contains(err.Error(), "websocket function is not wired to Suno") {
		t.Errorf("suno: %v", err)
	}
	if _, err := app.Service.Queue.Depth(context.Background()); err == nil || !strings.Contains(err.Error(), "not wired to the queues") {
		t.Errorf("queue: %v", err)
	}
	if err := app.Service.Notifier.Post(context.Background(), "c", nil); err != nil {
		t.Errorf("without endpoint the notifier drops events quietly: %v", err)
	}
}

func suno0() suno.GenerateRequest { return suno.GenerateRequest{Prompt: "x"} }
