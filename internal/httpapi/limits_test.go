package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/httpapi"
	"github.com/songqueue/songqueue/internal/porttest"
	"github.com/songqueue/songqueue/internal/throttle"
)

// limitedFixture is the API with limits on a settable clock.
func limitedFixture(t *testing.T, lim httpapi.Limits) (fixture, *porttest.Clock) {
	t.Helper()
	clock := porttest.NewClock(time.Now())
	if lim.Buckets == nil {
		lim.Buckets = throttle.NewMemory(clock.Now)
	}
	return newFixtureWith(lim), clock
}

// from is a request from address addr.
func (f fixture) from(addr, method, path, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(`{"prompt":"a song"}`))
	req.RemoteAddr = addr
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

func isRateLimited(t *testing.T, rec *httptest.ResponseRecorder, wantRetry string) {
	t.Helper()
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), `"code":"rate_limited"`) {
		t.Fatalf("got %d %s; want 429 rate_limited", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Retry-After"); got != wantRetry {
		t.Fatalf("Retry-After %q, want %q", got, wantRetry)
	}
}

// TestOneUserOverTheLimitLeavesOthersServed: a user's requests past their
// burst are refused 429 rate_limited with Retry-After, on every route, and
// do nothing; another user, from the same address, is served meanwhile;
// the bucket refills at the rate.
func TestOneUserOverTheLimitLeavesOthersServed(t *testing.T) {
	f, clock := limitedFixture(t, httpapi.Limits{User: throttle.Limit{Rate: 0.5, Burst: 3}, IP: throttle.Limit{Rate: 100, Burst: 100}})
	hog, quiet := f.token(t, "hog", generation.Pro), f.token(t, "quiet", generation.Pro)
	for i := range 3 {
		if rec := f.from("192.0.2.7:4000", "GET", "/api/generation", hog); rec.Code != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	isRateLimited(t, f.from("192.0.2.7:4000", "POST", "/api/generation/create", hog), "2")
	f.nothingChanged(t)
	isRateLimited(t, f.from("192.0.2.7:4001", "GET", "/api/queue/stats", hog), "2")
	isRateLimited(t, f.from("192.0.2.7:4001", "GET", "/api/quota", hog), "2")
	if rec := f.from("192.0.2.7:4002", "GET", "/api/generation", quiet); rec.Code != http.StatusOK {
		t.Fatalf("another user from the same address: %d %s", rec.Code, rec.Body)
	}
	clock.Advance(1900 * time.Millisecond)
	isRateLimited(t, f.from("192.0.2.7:4000", "GET", "/api/generation", hog), "1")
	clock.Advance(100 * time.Millisecond)
	if rec := f.from("192.0.2.7:4000", "GET", "/api/generation", hog); rec.Code != http.StatusOK {
		t.Fatalf("after the Retry-After: %d %s", rec.Code, rec.Body)
	}
}

// TestOneAddressOverItsLimit: the address's bucket holds across users and
// across refused tokens; another address is served; an IPv6 client's /64
// is one address.
func TestOneAddressOverItsLimit(t *testing.T) {
	f, _ := limitedFixture(t, httpapi.Limits{User: throttle.Limit{Rate: 100, Burst: 100}, IP: throttle.Limit{Rate: 1, Burst: 4}})
	for i := range 2 {
		if rec := f.from("198.51.100.1:1", "GET", "/api/generation", f.token(t, "u"+string(rune('a'+i)), generation.Free)); rec.Code != http.StatusOK {
			t.Fatalf("user %d: %d", i, rec.Code)
		}
	}
	// Bad tokens count too, and are 401 while within the limit.
	for range 2 {
		if rec := f.from("198.51.100.1:1", "GET", "/api/generation", "not-a-token"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("a bad token: %d", rec.Code)
		}
	}
	isRateLimited(t, f.from("198.51.100.1:2", "GET", "/api/generation", f.token(t, "fresh", generation.Free)), "1")
	isRateLimited(t, f.from("198.51.100.1:2", "GET", "/api/generation", "not-a-token"), "1")
	isRateLimited(t, f.from("198.51.100.1:2", "GET", "/api/no-such-route", ""), "1")
	if rec := f.from("198.51.100.2:1", "GET", "/api/generation", f.token(t, "fresh", generation.Free)); rec.Code != http.StatusOK {
		t.Fatalf("another address: %d %s", rec.Code, rec.Body)
	}

	for i := range 4 {
		addr := "[2001:db8:1:2::" + string(rune('a'+i)) + "]:443"
		if rec := f.from(addr, "GET", "/api/generation", f.token(t, "v6", generation.Free)); rec.Code != http.StatusOK {
			t.Fatalf("v6 request %d: %d", i, rec.Code)
		}
	}
	isRateLimited(t, f.from("[2001:db8:1:2:ffff::1]:443", "GET", "/api/generation", f.token(t, "v6", generation.Free)), "1")
	if rec := f.from("[2001:db8:1:3::1]:443", "GET", "/api/generation", f.token(t, "v6", generation.Free)); rec.Code != http.StatusOK {
		t.Fatalf("the next /64: %d", rec.Code)
	}
}

// TestCallbackHasItsOwnLimit: Suno's callback route counts per address in
// a bucket of its own: a flood of it does not take the users' tokens of
// that address, nor theirs its.
func TestCallbackHasItsOwnLimit(t *testing.T) {
	f, _ := limitedFixture(t, httpapi.Limits{User: throttle.Limit{Rate: 100, Burst: 100}, IP: throttle.Limit{Rate: 1, Burst: 2}, Callback: throttle.Limit{Rate: 1, Burst: 3}})
	body := `{"code":200,"msg":"ok","data":{"callbackType":"complete","task_id":"t-1","data":[]}}`
	post := func(addr string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/suno/callback?g=nope&sig=bad", strings.NewReader(body))
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		return rec
	}
	for i := range 3 {
		if rec := post("203.0.113.9:1"); rec.Code == http.StatusTooManyRequests {
			t.Fatalf("callback %d within its burst refused: %s", i+1, rec.Body)
		}
	}
	isRateLimited(t, post("203.0.113.9:1"), "1")
	tok := f.token(t, "neighbour", generation.Free)
	for i := range 2 {
		if rec := f.from("203.0.113.9:2", "GET", "/api/generation", tok); rec.Code != http.StatusOK {
			t.Fatalf("user request %d from the callbacks' address: %d", i+1, rec.Code)
		}
	}
	if rec := post("203.0.113.10:1"); rec.Code == http.StatusTooManyRequests {
		t.Fatalf("a callback from another address refused: %s", rec.Body)
	}
}

type brokenBuckets struct{}

func (brokenBuckets) Take(context.Context, string, throttle.Limit) (throttle.Decision, error) {
	return throttle.Decision{}, errors.New("table unavailable")
}

// TestLimitsFailOpen: when the buckets cannot be read the request is
// served (and logged), not refused.
func TestLimitsFailOpen(t *testing.T) {
	f, _ := limitedFixture(t, httpapi.Limits{Buckets: brokenBuckets{}, User: throttle.Limit{Rate: 1, Burst: 1}, IP: throttle.Limit{Rate: 1, Burst: 1}})
	tok := f.token(t, "u", generation.Free)
	for range 3 {
		if rec := f.from("192.0.2.1:1", "GET", "/api/generation", tok); rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

func TestClientNetwork(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.1:5000":          "192.0.2.1",
		"192.0.2.1":               "192.0.2.1", // API Gateway's sourceIp has no port
		"[::ffff:192.0.2.1]:80":   "192.0.2.1",
		"2001:db8:aa:bb:1:2:3:4":  "2001:db8:aa:bb::/64",
		"[2001:db8:aa:bb::9]:443": "2001:db8:aa:bb::/64",
		"[fe80::1%eth0]:80":       "fe80::/64",
		"":                        "unknown",
		"not an address":          "not an address",
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = addr
		if got := httpapi.ClientNetwork(req); got != want {
			t.Errorf("ClientNetwork(%q) = %q, want %q", addr, got, want)
		}
	}
	for d, want := range map[time.Duration]int{0: 1, time.Microsecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 30 * time.Second: 30} {
		if got := httpapi.RetryAfterSeconds(d); got != want {
			t.Errorf("RetryAfterSeconds(%s) = %d, want %d", d, got, want)
		}
	}
}
