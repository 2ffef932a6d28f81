package devstack

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/app"
)

func TestFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := FromEnv(env(nil))
	if err != nil || !reflect.DeepEqual(c, DefaultConfig()) {
		t.Fatalf("no variables: %+v, %v; want the defaults", c, err)
	}
	c, err = FromEnv(env(map[string]string{
		"PORT": "4000", "GENERATION_CONCURRENCY": "2", "GENERATION_RATE_LIMIT": "0.5",
		"GENERATION_BACKOFF_BASE": "500ms", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "TIER_CLAIM": "custom:tier",
	}))
	if err != nil || c.Auth.TierClaim != "custom:tier" || c.Port != 4000 || c.Concurrency != 2 || c.RateLimit.Rate != 0.5 ||
		c.Pipeline.Retry.BackoffBase != 500*time.Millisecond || c.Backend != app.AWS || !c.Emulator {
		t.Fatalf("got %+v, %v", c, err)
	}
	_, err = FromEnv(env(map[string]string{"GENERATION_CONCURRENCY": "0", "GENERATION_RATE_LIMIT": "fast", "BACKEND": "redis"}))
	for _, name := range []string{"GENERATION_CONCURRENCY", "GENERATION_RATE_LIMIT", "BACKEND"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}
