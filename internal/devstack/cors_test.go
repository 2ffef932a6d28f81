package devstack_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
)

// A frontend on another origin (DESIGN.md section 12) meets make dev as it
// meets API Gateway.
func TestFrontendOnAnotherOrigin(t *testing.T) {
	for _, c := range []struct {
		name    string
		origins []string
		allowed string // the header a page of http://localhost:5173 gets
	}{
		{"any origin", nil, "*"},
		{"listed origins", []string{"http://localhost:5173", "https://app.example"}, "http://localhost:5173"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := startStack(t, backends[0], func(cfg *devstack.Config) { cfg.CORSOrigins = c.origins }, devstack.Options{})
			u := user(t, s, "frontend-dev", generation.Pro)
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
			resp := preflight("http://localhost:5173", "POST", "authorization,content-type,idempotency-key")
			if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != c.allowed ||
				resp.Header.Get("Access-Control-Allow-Methods") != "GET,POST,DELETE,OPTIONS" ||
				resp.Header.Get("Access-Control-Allow-Headers") != "authorization,content-type,idempotency-key" ||
				resp.Header.Get("Access-Control-Max-Age") != "600" || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("preflight = %d %v", resp.StatusCode, resp.Header)
			}
			if resp := preflight("http://localhost:5173", "PUT", "authorization"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("preflight for PUT allowed: %v", resp.Header)
			}
			if resp := preflight("http://localhost:5173", "POST", "x-secret"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("preflight with an unlisted header allowed: %v", resp.Header)
			}
			// The request itself carries the headers, and what a client may read.
			req, _ := http.NewRequest("GET", s.URL+"/api/queue/stats", nil)
			req.Header.Set("Origin", "http://localhost:5173")
			req.Header.Set("Authorization", "Bearer "+u.token)
			got, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got.Body.Close()
			if got.StatusCode != http.StatusOK || got.Header.Get("Access-Control-Allow-Origin") != c.allowed ||
				got.Header.Get("Access-Control-Expose-Headers") != "apigw-requestid,idempotent-replayed,retry-after" {
				t.Errorf("GET with an Origin = %d %v", got.StatusCode, got.Header)
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
			if _, err := dial("http://localhost:5173"); err != nil {
				t.Errorf("WebSocket from an allowed origin: %v", err)
			}
			if _, err := dial(s.URL); err != nil {
				t.Errorf("WebSocket from the stack's own page: %v", err)
			}
			if c.origins == nil {
				return
			}
			// An origin the list lacks: no CORS headers, no WebSocket.
			if resp := preflight("https://evil.example", "POST", "authorization"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("preflight from an unlisted origin allowed: %v", resp.Header)
			}
			if resp, err := dial("https://evil.example"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Errorf("WebSocket from an unlisted origin: %v (%v); want 403", resp, err)
			}
		})
	}
}
