package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// TestUnknownTierIs400Everywhere: every route that takes a tier, in its
// path, its query or its body, answers a tier that is not one with the
// same 400 unknown_tier, and changes nothing.
func TestUnknownTierIs400Everywhere(t *testing.T) {
	f := newFixture(t)
	admin, err := f.tokens.Mint("op", generation.Enterprise, time.Hour, "admin")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/api/admin/queues/GOLD/pause", ""},
		{"POST", "/api/admin/queues/gold/resume", ""},
		{"GET", "/api/admin/generations?tier=GOLD", ""},
		{"GET", "/api/admin/deadletters?tier=GOLD", ""},
		{"POST", "/api/admin/deadletters/redrive?tier=GOLD", ""},
		{"POST", "/api/admin/bulk", `{"action":"retry","filter":{"tier":"GOLD"},"dryRun":true}`},
		{"POST", "/api/admin/bulk", `{"action":"cancel","filter":{"tier":"GOLD"},"dryRun":false}`},
	} {
		rec, eb := f.do(r.method, r.path, admin, r.body, "Content-Type", "application/json")
		if rec.Code != http.StatusBadRequest || eb.Error.Code != "unknown_tier" {
			t.Errorf("%s %s %s: %d %s; want 400 unknown_tier", r.method, r.path, r.body, rec.Code, rec.Body)
		}
	}
	// Any case of a real tier, and "all" where a route takes it, is fine.
	for _, r := range []struct{ method, path string }{
		{"POST", "/api/admin/queues/free/pause"},
		{"POST", "/api/admin/queues/Free/resume"},
		{"GET", "/api/admin/generations?tier=pro"},
		{"GET", "/api/admin/deadletters?tier=all"},
		{"POST", "/api/admin/deadletters/redrive?tier=premium"},
	} {
		if rec, _ := f.do(r.method, r.path, admin, ""); rec.Code != http.StatusOK {
			t.Errorf("%s %s: %d %s; want 200", r.method, r.path, rec.Code, rec.Body)
		}
	}
	f.nothingChanged(t)
}
