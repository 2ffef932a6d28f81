package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/sunofake"
)

// clearEnv unsets every variable the command reads, for the test.
func clearEnv(t *testing.T) {
	for _, name := range []string{
		"FAKE_SUNO_ADDR", "SUNO_API_KEY", "FAKE_SUNO_TEXT_DELAY", "FAKE_SUNO_FIRST_DELAY", "FAKE_SUNO_COMPLETE_DELAY",
		"FAKE_SUNO_FAIL_RATE", "FAKE_SUNO_CALLBACK_TIMEOUT", "FAKE_SUNO_KEYS", "FAKE_SUNO_CREDITS", "FAKE_SUNO_CREDIT_COST",
		"FAKE_SUNO_RATE_LIMIT", "FAKE_SUNO_RATE_WINDOW", "FAKE_SUNO_TROUBLE", "FAKE_SUNO_SLOW_DELAY",
	} {
		t.Setenv(name, "")
	}
}

func TestConfigureDefaults(t *testing.T) {
	clearEnv(t)
	o, err := configure(nil)
	if err != nil {
		t.Fatal(err)
	}
	def := sunofake.DefaultConfig()
	c := o.cfg
	if o.addr != "127.0.0.1:3002" || c.APIKey != "" || c.APIKeys != nil || c.TextDelay != def.TextDelay ||
		c.FirstDelay != def.FirstDelay || c.CompleteDelay != def.CompleteDelay || c.CallbackTimeout != def.CallbackTimeout {
		t.Errorf("defaults changed: %+v", o)
	}
	// No bad day unless asked: unlimited credits, no rate window, no trouble.
	if c.Credits != sunofake.Unlimited || c.LimitCredits || c.RateLimit != 0 || o.trouble != "" {
		t.Errorf("defaults have trouble: %+v", o)
	}
}

func TestConfigureFlags(t *testing.T) {
	clearEnv(t)
	o, err := configure([]string{
		"-api-key", "main", "-keys", "k1, k2,,", "-credits", "100", "-credit-cost", "12",
		"-rate-limit", "20", "-rate-window", "10s", "-trouble", "maintenance:30s", "-slow-delay", "20s",
	})
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if c.APIKey != "main" || !reflect.DeepEqual(c.APIKeys, []string{"k1", "k2"}) || c.Credits != 100 || !c.LimitCredits ||
		c.CreditsPerSubmission != 12 || c.RateLimit != 20 || c.RateWindow != 10*time.Second || c.SlowDelay != 20*time.Second ||
		o.trouble != sunofake.ModeMaintenance || o.troubleFor != 30*time.Second {
		t.Errorf("configure = %+v", o)
	}
	if o, err := configure([]string{"-credits", "0", "-trouble", "drop"}); err != nil || o.cfg.Credits != 0 || !o.cfg.LimitCredits ||
		o.trouble != sunofake.ModeDrop || o.troubleFor != 0 {
		t.Errorf("-credits 0 -trouble drop: %+v, %v", o, err)
	}
}

func TestConfigureEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv("FAKE_SUNO_CREDITS", "7")
	t.Setenv("FAKE_SUNO_KEYS", "a,b")
	t.Setenv("FAKE_SUNO_TROUBLE", "http_503:1m")
	t.Setenv("FAKE_SUNO_RATE_LIMIT", "5")
	o, err := configure(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.Credits != 7 || !o.cfg.LimitCredits || len(o.cfg.APIKeys) != 2 || o.trouble != sunofake.ModeHTTP503 ||
		o.troubleFor != time.Minute || o.cfg.RateLimit != 5 {
		t.Errorf("configure = %+v", o)
	}
	// A flag wins over the environment.
	if o, err := configure([]string{"-credits", "-1"}); err != nil || o.cfg.Credits != sunofake.Unlimited || o.cfg.LimitCredits {
		t.Errorf("-credits -1 over FAKE_SUNO_CREDITS=7: %+v, %v", o.cfg, err)
	}
}

func TestConfigureRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  [2]string
	}{
		{"unknown trouble", []string{"-trouble", "sunny"}, [2]string{}},
		{"bad trouble duration", []string{"-trouble", "drop:soon"}, [2]string{}},
		{"credits below -1", []string{"-credits", "-5"}, [2]string{}},
		{"zero credit cost", []string{"-credit-cost", "0"}, [2]string{}},
		{"negative rate limit", []string{"-rate-limit", "-1"}, [2]string{}},
		{"bad FAKE_SUNO_CREDITS", nil, [2]string{"FAKE_SUNO_CREDITS", "lots"}},
		{"bad FAKE_SUNO_TROUBLE", nil, [2]string{"FAKE_SUNO_TROUBLE", "sunny"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			if tt.env[0] != "" {
				t.Setenv(tt.env[0], tt.env[1])
			}
			if _, err := configure(tt.args); err == nil {
				t.Error("configure succeeded")
			}
		})
	}
}

// TestConfiguredFake runs a fake configured from flags and checks that the
// initial trouble and the credits are in force.
func TestConfiguredFake(t *testing.T) {
	clearEnv(t)
	o, err := configure([]string{"-keys", "k1,k2", "-credits", "1", "-trouble", "maintenance:50ms"})
	if err != nil {
		t.Fatal(err)
	}
	fake := sunofake.New(o.cfg)
	defer fake.Close()
	if err := fake.SetTrouble("", o.trouble, o.troubleFor); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	submit := func(key string) string {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/generate", strings.NewReader(`{"prompt":"p"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := submit("k1"); !strings.Contains(got, `"code":455`) {
		t.Errorf("in maintenance: %s", got)
	}
	deadline := time.Now().Add(time.Second)
	for fake.Trouble("") != sunofake.ModeOK && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := submit("k1"); !strings.Contains(got, `"code":200`) {
		t.Errorf("after maintenance: %s", got)
	}
	if got := submit("k1"); !strings.Contains(got, `"code":429`) {
		t.Errorf("out of credits: %s", got)
	}
	if got := submit("k2"); !strings.Contains(got, `"code":200`) {
		t.Errorf("the other key: %s", got)
	}
}
