package devstack_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
)

// A frontend on another origin (DESIGN.md section 12) meets make dev as it
// meets API Gateway: the API allows the stack's own page and the origins
// CORS_ALLOW_ORIGINS lists, and no other.
func TestFrontendOnAnotherOrigin(t *testing.T) {
	for _, c := range []struct {
		name    string
		origins []string
		allowed string // the header a page of http://localhost:5173 gets
	}{
		{"the stack's own page only", nil, ""},
		{"listed origins", []string{"http://localhost:5173", "https://app.example"}, "http://localhost:5173"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := startStack(t, backends[0], func(cfg *devstack.Config) { cfg.CORSOrigins = c.origins }, devstack.Options{})
			u := user(t, s, "frontend-dev", generation.Pro)
			stackURL, _ := url.Parse(s.URL)
			own := []string{s.URL, "http://localhost:" + stackURL.Port()} // http://127.0.0.1:PORT and the name people type
			preflight := func(origin, method, headers string) *http.Response {
				req, _ := http.NewRequest(http.MethodOptions, s.URL+"/api/generation/create", nil)
				req.Header.Set("Origin", origin)
				req.Header.Set("Access-Control-Request-Method", method)
				req.Header.Set("Access-Control-Request-Headers", headers)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp
			}
			allowedPreflight := func(origin string) {
				t.Helper()
				resp := preflight(origin, "POST", "authorization,content-type,idempotency-key")
				if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != origin ||
					resp.Header.Get("Access-Control-Allow-Methods") != "GET,POST,DELETE,OPTIONS" ||
					resp.Header.Get("Access-Control-Allow-Headers") != "authorization,content-type,idempotency-key" ||
					resp.Header.Get("Access-Control-Max-Age") != "600" || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
					t.Errorf("preflight from %s = %d %v", origin, resp.StatusCode, resp.Header)
				}
			}
			refusedPreflight := func(origin string) {
				t.Helper()
				if resp := preflight(origin, "POST", "authorization"); resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Access-Control-Allow-Methods") != "" {
					t.Errorf("preflight from %s allowed: %v", origin, resp.Header)
				}
			}
			get := func(origin string) *http.Response {
				req, _ := http.NewRequest("GET", s.URL+"/api/queue/stats", nil)
				req.Header.Set("Origin", origin)
				req.Header.Set("Authorization", "Bearer "+u.token)
				got, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				got.Body.Close()
				return got
			}
			dial := func(origin string) (*http.Response, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				h := http.Header{}
				h.Set("Origin", origin)
				conn, resp, err := websocket.Dial(ctx, s.WSURL+"?token="+u.token, &websocket.DialOptions{HTTPHeader: h})
				if err == nil {
					conn.Close(websocket.StatusNormalClosure, "")
				}
				return resp, err
			}

			// The stack's own page, by either name, and every listed origin.
			for _, origin := range append(own, c.origins...) {
				allowedPreflight(origin)
				if got := get(origin); got.StatusCode != http.StatusOK || got.Header.Get("Access-Control-Allow-Origin") != origin ||
					got.Header.Get("Access-Control-Expose-Headers") != "apigw-requestid,idempotent-replayed,retry-after" {
					t.Errorf("GET from %s = %d %v", origin, got.StatusCode, got.Header)
				}
				if _, err := dial(origin); err != nil {
					t.Errorf("WebSocket from %s: %v", origin, err)
				}
			}
			if resp := preflight("http://localhost:5173", "PUT", "authorization"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("preflight for PUT allowed: %v", resp.Header)
			}
			if resp := preflight("http://localhost:5173", "POST", "x-secret"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("preflight with an unlisted header allowed: %v", resp.Header)
			}
			if got := get("http://localhost:5173"); got.Header.Get("Access-Control-Allow-Origin") != c.allowed {
				t.Errorf("GET from http://localhost:5173: Access-Control-Allow-Origin %q, want %q", got.Header.Get("Access-Control-Allow-Origin"), c.allowed)
			}

			// An origin the list lacks: no CORS headers, no WebSocket.
			for _, origin := range []string{"https://evil.example", "http://localhost:1"} {
				if origin == "http://localhost:1" && c.allowed != "" {
					continue
				}
				refusedPreflight(origin)
				if got := get(origin); got.Header.Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("GET from %s: %v", origin, got.Header)
				}
				if resp, err := dial(origin); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
					t.Errorf("WebSocket from %s: %v (%v); want 403", origin, resp, err)
				}
			}
			if c.allowed == "" {
				refusedPreflight("http://localhost:5173")
			}
		})
	}
}

// TestDeveloperRoutesRefuseOtherSites: the demo tokens and the
// @connections routes are for the developer's own tools. They send no
// CORS headers, whatever the origin (so no page of another site can read
// a token), and answer only requests addressed to a loopback name, so a
// page whose own name was made to resolve to 127.0.0.1 (DNS rebinding)
// gets 403.
func TestDeveloperRoutesRefuseOtherSites(t *testing.T) {
	t.Parallel()
	s := startStack(t, backends[0], func(cfg *devstack.Config) {
		cfg.CORSOrigins = []string{"http://localhost:5173", "*"}
	}, devstack.Options{})
	stackURL, _ := url.Parse(s.URL)
	port := stackURL.Port()
	routes := []struct{ method, path string }{
		{"GET", "/api/dev/users"},
		{"GET", "/api/dev/token"},
		{"GET", "/api/dev/token?user=demo-admin"},
		{"POST", "/@connections/abc"},
		{"DELETE", "/@connections/abc"},
	}
	do := func(method, path, host string, header ...string) (*http.Response, string) {
		req, _ := http.NewRequest(method, s.URL+path, strings.NewReader("{}"))
		if host != "" {
			req.Host = host
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	corsHeaders := func(h http.Header) []string {
		var out []string
		for k := range h {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				out = append(out, k)
			}
		}
		return out
	}
	for _, r := range routes {
		for _, origin := range []string{"https://evil.example", "http://localhost:5173", s.URL} {
			resp, _ := do(r.method, r.path, "", "Origin", origin)
			if resp.StatusCode == http.StatusForbidden || len(corsHeaders(resp.Header)) > 0 {
				t.Errorf("%s %s from %s: %d with %v; want an answer without CORS headers", r.method, r.path, origin, resp.StatusCode, corsHeaders(resp.Header))
			}
			pre, _ := do(http.MethodOptions, r.path, "", "Origin", origin, "Access-Control-Request-Method", r.method, "Access-Control-Request-Headers", "authorization")
			if len(corsHeaders(pre.Header)) > 0 {
				t.Errorf("preflight of %s %s from %s: %v; want no CORS headers", r.method, r.path, origin, corsHeaders(pre.Header))
			}
		}
		for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port, "songqueue.localhost:" + port} {
			if resp, _ := do(r.method, r.path, host); resp.StatusCode == http.StatusForbidden {
				t.Errorf("%s %s with Host %s: 403", r.method, r.path, host)
			}
		}
		for _, host := range []string{"evil.example:" + port, "evil.example", "127.0.0.1.evil.example:" + port} {
			resp, body := do(r.method, r.path, host, "Origin", "http://"+host)
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/json" ||
				!strings.HasPrefix(body, `{"error":{"code":"forbidden","message":"`) || strings.Contains(body, "eyJ") {
				t.Errorf("%s %s with Host %s: %d %q %q; want 403 with the API's JSON error", r.method, r.path, host, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if len(corsHeaders(resp.Header)) > 0 {
				t.Errorf("%s %s with Host %s: CORS headers %v", r.method, r.path, host, corsHeaders(resp.Header))
			}
		}
	}
}
