package lambdaapp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/auth"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/httpapi"
	"github.com/songqueue/songqueue/internal/identity"
)

func httpEvent(method, rawPath, rawQuery, body string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " " + rawPath, RawPath: rawPath, RawQueryString: rawQuery,
		Headers: map[string]string{"content-type": "application/json", "user-agent": "test"},
		Body:    body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			Stage: "$default", DomainName: "abc.execute-api.eu-west-1.amazonaws.com", RequestID: "req-1",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: rawPath, Protocol: "HTTP/1.1", SourceIP: "203.0.113.9"},
		},
	}
}

func TestNewHTTPRequest(t *testing.T) {
	ev := httpEvent("POST", "/prod/api/generation/create", "a=1&b=x%20y&b=z", base64.StdEncoding.EncodeToString([]byte("\x00\xffbinary")))
	ev.RequestContext.Stage = "prod"
	ev.IsBase64Encoded = true
	ev.Cookies = []string{"s=1", "t=2"}
	ev.Headers["idempotency-key"] = "k-1"
	ev.Headers["accept"] = "application/json, text/plain"
	r, err := NewHTTPRequest(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != "POST" || r.URL.Path != "/api/generation/create" {
		t.Errorf("method/path = %s %s; the stage prefix must go", r.Method, r.URL.Path)
	}
	if q := r.URL.Query(); q.Get("a") != "1" || strings.Join(q["b"], "|") != "x y|z" {
		t.Errorf("query = %v", q)
	}
	if r.Header.Get("Idempotency-Key") != "k-1" || r.Header.Get("Accept") != "application/json, text/plain" {
		t.Errorf("headers = %v", r.Header)
	}
	if c, err := r.Cookie("t"); err != nil || c.Value != "2" {
		t.Errorf("cookie t = %v, %v", c, err)
	}
	body, _ := io.ReadAll(r.Body)
	if string(body) != "\x00\xffbinary" || r.ContentLength != int64(len(body)) {
		t.Errorf("body = %q (length %d)", body, r.ContentLength)
	}
	if r.Host != "abc.execute-api.eu-west-1.amazonaws.com" || r.RemoteAddr != "203.0.113.9" || r.ProtoMajor != 1 {
		t.Errorf("host/remote/proto = %s %s %d", r.Host, r.RemoteAddr, r.ProtoMajor)
	}

	bad := httpEvent("POST", "/x", "", "%%%")
	bad.IsBase64Encoded = true
	if _, err := NewHTTPRequest(context.Background(), bad); err == nil {
		t.Error("a body that is not base64 was accepted")
	}
}

func TestHTTPHandlerResponses(t *testing.T) {
	h := http.NewServeMux()
	h.HandleFunc("GET /cookie", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
		http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
		w.Header().Add("Vary", "Origin")
		w.Header().Add("Vary", "Accept")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	h.HandleFunc("GET /audio", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		_, _ = w.Write([]byte{0xff, 0xfb, 0x90, 0x00})
	})
	h.HandleFunc("GET /empty", func(w http.ResponseWriter, r *http.Request) {})
	handle := HTTPHandler(h, "", nil)

	res, err := handle(context.Background(), httpEvent("GET", "/cookie", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 201 || res.Body != `{"ok":true}` || res.IsBase64Encoded {
		t.Errorf("json answer = %+v", res)
	}
	if strings.Join(res.Cookies, ";") != "a=1;b=2" || res.Headers["Set-Cookie"] != "" {
		t.Errorf("cookies = %v, headers = %v", res.Cookies, res.Headers)
	}
	if res.Headers["Vary"] != "Origin, Accept" {
		t.Errorf("Vary = %q", res.Headers["Vary"])
	}

	res, _ = handle(context.Background(), httpEvent("GET", "/audio", "", ""))
	raw, _ := base64.StdEncoding.DecodeString(res.Body)
	if !res.IsBase64Encoded || string(raw) != "\xff\xfb\x90\x00" {
		t.Errorf("binary answer = %+v", res)
	}
	res, _ = handle(context.Background(), httpEvent("GET", "/empty", "", ""))
	if res.StatusCode != 200 || res.Body != "" {
		t.Errorf("empty answer = %+v", res)
	}
}

func TestHTTPHandlerTakesTheCallerFromJWTClaims(t *testing.T) {
	var got identity.Caller
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := httpapi.ContextAuth{}.Authenticate(r)
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got = c
	})
	handle := HTTPHandler(h, "custom:tier", nil)
	withClaims := func(claims map[string]string) events.APIGatewayV2HTTPRequest {
		ev := httpEvent("GET", "/api/queue/stats", "", "")
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
		}
		return ev
	}
	// API Gateway hands a list claim over as text: "[admin ops]", which
	// splits on spaces for a Cognito user pool's groups (their names hold
	// none; internal/auth).
	res, _ := handle(context.Background(), withClaims(map[string]string{"sub": "u-1", "custom:tier": "PRO", "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf", "cognito:groups": "[admin ops]"}))
	if res.StatusCode != 200 || !reflect.DeepEqual(got, identity.Caller{UserID: "u-1", Tier: generation.Pro, Groups: []string{"admin", "ops"}}) {
		t.Fatalf("status %d, caller %+v", res.StatusCode, got)
	}
	for name, ev := range map[string]events.APIGatewayV2HTTPRequest{
		"no authorizer": httpEvent("GET", "/api/queue/stats", "", ""),
		"no sub":        withClaims(map[string]string{"custom:tier": "PRO"}),
		"unknown tier":  withClaims(map[string]string{"sub": "u-1", "custom:tier": "GOLD"}),
	} {
		if res, _ := handle(context.Background(), ev); res.StatusCode != 401 {
			t.Errorf("%s: status %d, want 401", name, res.StatusCode)
		}
	}
}

// TestHTTPHandlerServesTheAPI drives the real API through the adapter.
func TestHTTPHandlerServesTheAPI(t *testing.T) {
	handle := apiHandler(newMemoryApp(t, nil, app.Options{}))
	ev := httpEvent("POST", "/api/generation/create", "", `{"prompt":"a calm piano song"}`)
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": "u-1", "tier": "PREMIUM"}},
	}
	res, err := handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		GenerationID string `json:"generationId"`
		Status       string `json:"status"`
		Tier         string `json:"tier"`
	}
	if res.StatusCode != 202 || json.Unmarshal([]byte(res.Body), &created) != nil || created.GenerationID == "" || created.Tier != "PREMIUM" {
		t.Fatalf("create = %d %s", res.StatusCode, res.Body)
	}
	if res.Headers["Content-Type"] != "application/json; charset=utf-8" {
		t.Errorf("headers = %v", res.Headers)
	}
	get := httpEvent("GET", "/api/generation/status/"+created.GenerationID, "", "")
	get.RequestContext.Authorizer = ev.RequestContext.Authorizer
	if res, _ := handle(context.Background(), get); res.StatusCode != 200 || !strings.Contains(res.Body, `"status":"pending"`) {
		t.Fatalf("status = %d %s", res.StatusCode, res.Body)
	}
	if res, _ := handle(context.Background(), httpEvent("GET", "/api/generation/status/"+created.GenerationID, "", "")); res.StatusCode != 401 {
		t.Fatalf("without claims: %d", res.StatusCode)
	}
}

// TestDevJWTSecretForSamLocal: sam local start-api runs no JWT authorizer,
// so with DEV_JWT_SECRET the API checks make dev's HS256 tokens itself, while
// claims from an authorizer still win.
func TestDevJWTSecretForSamLocal(t *testing.T) {
	handle := apiHandler(newMemoryApp(t, func(c *app.Config) { c.Auth.DevSecret = "dev-secret" }, app.Options{}))
	tok, err := auth.HS256{Secret: []byte("dev-secret")}.Mint("u-9", generation.Enterprise, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ev := httpEvent("POST", "/api/generation/create", "", `{"prompt":"x"}`)
	ev.Headers["authorization"] = "Bearer " + tok
	res, _ := handle(context.Background(), ev)
	if res.StatusCode != 202 || !strings.Contains(res.Body, `"tier":"ENTERPRISE"`) {
		t.Fatalf("dev token: %d %s", res.StatusCode, res.Body)
	}
	ev.Headers["authorization"] = "Bearer not-a-token"
	if res, _ := handle(context.Background(), ev); res.StatusCode != 401 {
		t.Fatalf("bad dev token: %d", res.StatusCode)
	}
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": "u-1", "tier": "PRO"}},
	}
	if res, _ := handle(context.Background(), ev); res.StatusCode != 202 || !strings.Contains(res.Body, `"tier":"PRO"`) {
		t.Fatalf("claims: %d %s", res.StatusCode, res.Body)
	}
}

func apiHandler(a memoryApp) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return APIHandler(a.env, a.api())
}
