package devstack

import (
	"net/http"
	"net/http/httptest"
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
		r.RemoteAddr = remote
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
