package devstack

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestExposureNeedsRealSecrets(t *testing.T) {
	cfg := DefaultConfig()
	if err := checkExposure(cfg); err != nil {
		t.Fatalf("loopback with the defaults: %v", err)
	}
	for _, host := range []string{"0.0.0.0", "::", "192.168.1.20"} {
		cfg.Host = host
		err := checkExposure(cfg)
		if err == nil || !strings.Contains(err.Error(), "JWT_SECRET") || !strings.Contains(err.Error(), "SUNO_API_KEY") {
			t.Errorf("HOST=%s on the defaults: %v", host, err)
		}
	}
	cfg.JWTSecret, cfg.SunoKey.Value = "a-real-secret-of-this-deployment", "key"
	if err := checkExposure(cfg); err != nil {
		t.Errorf("with both set: %v", err)
	}
	cfg.Host = "localhost"
	cfg.JWTSecret = DevJWTSecret
	if err := checkExposure(cfg); err != nil {
		t.Errorf("localhost: %v", err)
	}
}

func TestDeveloperRoutesAnswerOnlyThisMachine(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	status := func(tr trusted, remote string) int {
		r := httptest.NewRequest("GET", "/api/dev/users", nil)
		r.RemoteAddr, r.Host = remote, "localhost:3001"
		w := httptest.NewRecorder()
		tr.only(ok).ServeHTTP(w, r)
		return w.Code
	}
	none, _ := parseTrusted("")
	docker, err := parseTrusted("172.17.0.0/16, 10.1.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tr     trusted
		remote string
		want   int
	}{
		{none, "127.0.0.1:5000", http.StatusOK},
		{none, "[::1]:5000", http.StatusOK},
		{none, "192.168.1.7:5000", http.StatusForbidden},
		{none, "172.17.0.2:5000", http.StatusForbidden},
		{docker, "172.17.0.2:5000", http.StatusOK},
		{docker, "172.18.0.2:5000", http.StatusForbidden},
		{none, "garbage", http.StatusForbidden},
	} {
		if got := status(c.tr, c.remote); got != c.want {
			t.Errorf("client %s: %d, want %d", c.remote, got, c.want)
		}
	}
	if _, err := parseTrusted("everyone"); err == nil {
		t.Error("a bad TRUSTED_CLIENTS was accepted")
	}
}

// TestDeveloperRoutesAnswerOnlyLoopbackNames: a page that had its own
// name resolve to 127.0.0.1 (DNS rebinding) reaches the stack from this
// machine, but with its own name in Host; the developer routes refuse it.
func TestDeveloperRoutesAnswerOnlyLoopbackNames(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	none, _ := parseTrusted("")
	docker, _ := parseTrusted("172.17.0.0/16")
	for _, c := range []struct {
		tr           trusted
		remote, host string
		want         int
	}{
		{none, "127.0.0.1:5000", "localhost:3001", http.StatusOK},
		{none, "127.0.0.1:5000", "localhost", http.StatusOK},
		{none, "127.0.0.1:5000", "LOCALHOST:3001", http.StatusOK},
		{none, "127.0.0.1:5000", "127.0.0.1:3001", http.StatusOK},
		{none, "127.0.0.1:5000", "127.0.0.2:3001", http.StatusOK},
		{none, "[::1]:5000", "[::1]:3001", http.StatusOK},
		{none, "[::1]:5000", "[::1]", http.StatusOK},
		{none, "127.0.0.1:5000", "app.localhost:3001", http.StatusOK},
		{none, "127.0.0.1:5000", "evil.example:3001", http.StatusForbidden},
		{none, "127.0.0.1:5000", "evil.example", http.StatusForbidden},
		{none, "127.0.0.1:5000", "localhost.evil.example:3001", http.StatusForbidden},
		{none, "127.0.0.1:5000", "evillocalhost:3001", http.StatusForbidden},
		{none, "127.0.0.1:5000", "192.168.1.20:3001", http.StatusForbidden},
		{none, "127.0.0.1:5000", "", http.StatusForbidden},
		{none, "127.0.0.1:5000", "host.docker.internal:3001", http.StatusForbidden},
		// The containers of sam local (TRUSTED_CLIENTS) call the stack by
		// the name Docker gives the host, or by address; a rebinding page
		// never sends either (it sends its own name).
		{docker, "172.17.0.2:5000", "host.docker.internal:3001", http.StatusOK},
		{docker, "172.17.0.2:5000", "172.17.0.1:3001", http.StatusOK},
		{docker, "172.17.0.2:5000", "evil.example:3001", http.StatusForbidden},
		{docker, "127.0.0.1:5000", "172.17.0.1:3001", http.StatusForbidden},
	} {
		r := httptest.NewRequest("GET", "/api/dev/token", nil)
		r.RemoteAddr, r.Host = c.remote, c.host
		w := httptest.NewRecorder()
		c.tr.only(ok).ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("client %s, Host %q: %d, want %d", c.remote, c.host, w.Code, c.want)
		}
		if w.Code == http.StatusForbidden && (w.Header().Get("Content-Type") != "application/json" || !strings.HasPrefix(w.Body.String(), `{"error":{"code":"forbidden","message":"`)) {
			t.Errorf("client %s, Host %q: refused with %q %q, want the API's JSON error", c.remote, c.host, w.Header().Get("Content-Type"), w.Body)
		}
	}
}

func TestOwnOrigins(t *testing.T) {
	for host, want := range map[string][]string{
		"127.0.0.1":    {"http://localhost:3001", "http://127.0.0.1:3001"},
		"localhost":    {"http://localhost:3001", "http://127.0.0.1:3001"},
		"::1":          {"http://localhost:3001", "http://127.0.0.1:3001", "http://[::1]:3001"},
		"0.0.0.0":      {"http://localhost:3001", "http://127.0.0.1:3001"},
		"::":           {"http://localhost:3001", "http://127.0.0.1:3001"},
		"":             {"http://localhost:3001", "http://127.0.0.1:3001"},
		"192.168.1.20": {"http://localhost:3001", "http://127.0.0.1:3001", "http://192.168.1.20:3001"},
	} {
		if got := ownOrigins(host, 3001); !slices.Equal(got, want) {
			t.Errorf("HOST=%s: %v, want %v", host, got, want)
		}
	}
}
