package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/apispec"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/httpapi"
	"github.com/songqueue/songqueue/internal/service"
)

// TestQuotaRoute: GET /api/quota answers the caller's own quota, from the
// token's user and tier: the limits, what counts against them (a create
// counts at once, a cancel in the queue frees its slot), when the next
// create fits once the daily limit is reached, and no numbers for a limit
// the tier does not have.
func TestQuotaRoute(t *testing.T) {
	f := newFixtureConfig(httpapi.Limits{}, service.Config{Quotas: map[generation.Tier]service.Quota{
		generation.Pro:  {Open: 10, Daily: 100},
		generation.Free: {Open: 3, Daily: 2},
	}})
	spec, err := apispec.Load(apispec.Path())
	if err != nil {
		t.Fatal(err)
	}
	// conforms checks an answer against openapi.yaml.
	conforms := func(tok string, rec *httptest.ResponseRecorder) error {
		req := httptest.NewRequest("GET", "http://localhost:3001/api/quota", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		return spec.Check(req, nil, rec.Result(), rec.Body.Bytes())
	}
	quota := func(tok string) string {
		t.Helper()
		rec, eb := f.do("GET", "/api/quota", tok, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /api/quota = %d %+v, want 200", rec.Code, eb)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		if err := conforms(tok, rec); err != nil {
			t.Error(err)
		}
		return strings.TrimSpace(rec.Body.String())
	}
	pro := f.token(t, "maker", generation.Pro)
	if got, want := quota(pro), `{"tier":"PRO","open":{"used":0,"limit":10},"daily":{"used":0,"limit":100,"windowHours":24}}`; got != want {
		t.Fatalf("before any create:\n got %s\nwant %s", got, want)
	}
	var ids []string
	for range 2 {
		rec, eb := f.do("POST", "/api/generation/create", pro, `{"prompt":"a song"}`)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("create: %d %+v", rec.Code, eb)
		}
		ids = append(ids, regexp.MustCompile(`"generationId":"([^"]+)"`).FindStringSubmatch(rec.Body.String())[1])
	}
	if got, want := quota(pro), `{"tier":"PRO","open":{"used":2,"limit":10},"daily":{"used":2,"limit":100,"windowHours":24}}`; got != want {
		t.Fatalf("after two creates:\n got %s\nwant %s", got, want)
	}
	if rec, eb := f.do("POST", "/api/generation/"+ids[0]+"/cancel", pro, ""); rec.Code != http.StatusOK {
		t.Fatalf("cancel: %d %+v", rec.Code, eb)
	}
	if got, want := quota(pro), `{"tier":"PRO","open":{"used":1,"limit":10},"daily":{"used":2,"limit":100,"windowHours":24}}`; got != want {
		t.Fatalf("after cancelling a queued song:\n got %s\nwant %s", got, want)
	}
	// Another user sees their own.
	if got, want := quota(f.token(t, "someone-else", generation.Pro)), `{"tier":"PRO","open":{"used":0,"limit":10},"daily":{"used":0,"limit":100,"windowHours":24}}`; got != want {
		t.Fatalf("another user:\n got %s\nwant %s", got, want)
	}
	// The tier is the token's: the same user with a token of a tier
	// without limits sees no numbers.
	if got, want := quota(f.token(t, "maker", generation.Enterprise)), `{"tier":"ENTERPRISE","open":{},"daily":{}}`; got != want {
		t.Fatalf("a tier without limits:\n got %s\nwant %s", got, want)
	}

	// The daily limit reached: when the next create fits.
	free := f.token(t, "daily", generation.Free)
	start := time.Now()
	for range 2 {
		if rec, eb := f.do("POST", "/api/generation/create", free, `{"prompt":"a song"}`); rec.Code != http.StatusAccepted {
			t.Fatalf("create: %d %+v", rec.Code, eb)
		}
	}
	got := quota(free)
	m := regexp.MustCompile(`^\{"tier":"FREE","open":\{"used":2,"limit":3\},"daily":\{"used":2,"limit":2,"windowHours":24,"nextFreeAt":"([^"]+)"\}\}$`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("the daily limit reached: %s; want 2 of 2 with nextFreeAt", got)
	}
	at, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil || at.Before(start.Add(24*time.Hour).Add(-time.Second)) || at.After(time.Now().Add(24*time.Hour)) {
		t.Fatalf("nextFreeAt %s (%v), want 24 hours after the first create", m[1], err)
	}
	rec, eb := f.do("POST", "/api/generation/create", free, `{"prompt":"a song"}`)
	if rec.Code != http.StatusTooManyRequests || eb.Error.Code != "quota_exceeded" {
		t.Fatalf("a create past the daily limit: %d %+v, want 429 quota_exceeded", rec.Code, eb)
	}

	// The document holds the shape: a count without its limit, or a
	// nextFreeAt without the counts, is not an answer it allows.
	for _, body := range []string{
		`{"tier":"PRO","open":{"used":1},"daily":{}}`,
		`{"tier":"PRO","open":{},"daily":{"nextFreeAt":"2026-12-02T09:30:00Z"}}`,
		`{"tier":"PRO","open":{"used":1,"limit":0},"daily":{}}`,
	} {
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", "application/json; charset=utf-8")
		rec.WriteHeader(http.StatusOK)
		rec.WriteString(body)
		if conforms(pro, rec) == nil {
			t.Errorf("openapi.yaml allows %s", body)
		}
	}
	// And a 401 is one it lists.
	rec, _ = f.do("GET", "/api/quota", "", "")
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", rec.Code)
	}
	if err := conforms("", rec); err != nil {
		t.Error(err)
	}
}
