package devstack_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/songqueue/songqueue/internal/devstack"
)

// TestCrashWorkerRoute: the broken-worker rehearsal (README's dead letter
// on make dev) takes a tier and a duration, says when a job of it reaches
// the dead-letter queue, and refuses anything else. README's test
// (internal/readmetest) runs the rehearsal itself, from the crash to the
// redrive.
func TestCrashWorkerRoute(t *testing.T) {
	s := startStack(t, backends[0], nil, devstack.Options{})
	post := func(body string) (int, string) {
		resp, err := http.Post(s.URL+"/api/dev/crash-worker", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := post(`{"tier":"free","for":"30s"}`)
	var ans devstack.CrashResponse
	if err := json.Unmarshal([]byte(body), &ans); code != http.StatusOK || err != nil || ans.Tier != "FREE" || ans.DeadLetterAfter == "" {
		t.Fatalf("crash-worker: %d %s", code, body)
	}
	if code, body := post(`{"tier":"FREE","for":"0s"}`); code != http.StatusOK {
		t.Errorf("ending it: %d %s", code, body)
	}
	for _, bad := range []string{`{"tier":"GOLD","for":"30s"}`, `{"tier":"FREE","for":"forever"}`, `{"tier":"FREE","for":"-1s"}`, `{"tier":"FREE","for":"2h"}`, `not json`} {
		if code, body := post(bad); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s; want 400", bad, code, body)
		}
	}
	if code, body := post(`{"tier":"GOLD","for":"30s"}`); !strings.HasPrefix(body, "unknown_tier") {
		t.Errorf("an unknown tier: %d %s; want unknown_tier, as the API says it", code, body)
	}
	// The demo token of an unknown tier is the same 400 as the API's.
	resp, err := http.Get(s.URL + "/api/dev/token?tier=GOLD")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("/api/dev/token?tier=GOLD: %d; want 400", resp.StatusCode)
	}
}
