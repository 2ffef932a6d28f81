package lambdaapp

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/throttle"
)

// TestAPIFunctionLimitsEachCaller: in the API function a user is the
// authorizer's sub and an address API Gateway's sourceIp; past a limit
// the answer is 429 rate_limited with Retry-After, and another user, or
// the same user from another address, is served.
func TestAPIFunctionLimitsEachCaller(t *testing.T) {
	a := newMemoryApp(t, func(c *app.Config) {
		c.Requests.User = throttle.Limit{Rate: 0.2, Burst: 2}
		c.Requests.IP = throttle.Limit{Rate: 0.2, Burst: 4}
	}, app.Options{})
	roles := a.api()
	roles.Buckets = throttle.NewMemory(a.env.Now)
	handle := APIHandler(a.env, roles)
	call := func(sub, ip string) events.APIGatewayV2HTTPResponse {
		ev := httpEvent("GET", "/api/generation", "", "")
		ev.RequestContext.HTTP.SourceIP = ip
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": sub, "tier": "PRO"}},
		}
		res, err := handle(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	limited := func(res events.APIGatewayV2HTTPResponse, retry string) {
		t.Helper()
		if res.StatusCode != 429 || !strings.Contains(res.Body, `"rate_limited"`) || res.Headers["Retry-After"] != retry {
			t.Fatalf("got %d %v %s; want 429 rate_limited, Retry-After %s", res.StatusCode, res.Headers, res.Body, retry)
		}
	}
	for i := range 2 {
		if res := call("hog", "198.51.100.1"); res.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i+1, res.StatusCode, res.Body)
		}
	}
	limited(call("hog", "198.51.100.1"), "5")
	limited(call("hog", "198.51.100.2"), "5") // the user's limit, whatever the address
	if res := call("quiet", "198.51.100.1"); res.StatusCode != 200 {
		t.Fatalf("another user: %d %s", res.StatusCode, res.Body)
	}
	// The first address has had 4 requests (its burst) counting the
	// refused one: a fifth user from it is refused by the address's limit.
	limited(call("fifth", "198.51.100.1"), "5")
}

// TestCallbackFunctionLimitsEachAddress: the callback function counts
// each source address's calls in the callback's own buckets.
func TestCallbackFunctionLimitsEachAddress(t *testing.T) {
	a := newMemoryApp(t, func(c *app.Config) { c.Requests.Callback = throttle.Limit{Rate: 1, Burst: 2} }, app.Options{})
	handle := CallbackHandler(a.env, a.roles.Callbacks, throttle.NewMemory(a.env.Now))
	q := url.Values{"g": {"6a1b4c3e-0000-4000-8000-000000000000"}, "sig": {"forged"}}
	body := `{"code":200,"msg":"ok","data":{"callbackType":"complete","task_id":"t-1","data":[]}}`
	call := func(ip string) events.APIGatewayV2HTTPResponse {
		ev := httpEvent("POST", CallbackPath, q.Encode(), body)
		ev.RequestContext.HTTP.SourceIP = ip
		res, _ := handle(context.Background(), ev)
		return res
	}
	for range 2 {
		if res := call("203.0.113.5"); res.StatusCode != 403 {
			t.Fatalf("a forged callback within the limit: %d %s", res.StatusCode, res.Body)
		}
	}
	if res := call("203.0.113.5"); res.StatusCode != 429 || res.Headers["Retry-After"] != "1" {
		t.Fatalf("past the limit: %d %v %s", res.StatusCode, res.Headers, res.Body)
	}
	if res := call("203.0.113.6"); res.StatusCode != 403 {
		t.Fatalf("another address: %d %s", res.StatusCode, res.Body)
	}
}
