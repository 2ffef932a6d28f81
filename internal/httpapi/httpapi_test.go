package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/songqueue/songqueue/internal/auth"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/httpapi"
	"github.com/songqueue/songqueue/internal/memory"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
)

const secret = "test-secret"

type fixture struct {
	h      http.Handler
	store  *memory.Store
	queues *memory.Queues
	tokens auth.HS256
}

func newFixture(t testing.TB) fixture {
	return newFixtureWith(httpapi.Limits{})
}

// newFixtureWith is the API on fresh memory adapters, with limits.
func newFixtureWith(lim httpapi.Limits) fixture {
	return newFixtureConfig(lim, service.Config{})
}

// newFixtureConfig is the API on fresh memory adapters, with limits and
// the service configured by cfg.
func newFixtureConfig(lim httpapi.Limits, cfg service.Config) fixture {
	store := memory.NewStore()
	queues := memory.NewQueues(memory.QueueConfig{})
	roles := service.MustAssemble(service.Ports{
		Store: store, Connections: store, Queue: queues, Notifier: memory.NewHub(), Controls: store, DeadLetters: queues,
		Account:   memory.NewLimiter(ratelimit.Policy{Rate: 10}, nil),
		Suno:      unreachableSuno{},
		Callbacks: service.CallbackSigner{Key: service.StaticKey([]byte("0123456789abcdef"))},
	}, cfg)
	tokens := auth.HS256{Secret: []byte(secret)}
	routes := httpapi.Routes{Songs: roles.API, Operators: roles.Operators, Callbacks: roles.Callbacks, Limits: lim}
	return fixture{h: httpapi.New(routes, httpapi.BearerAuth{Verifier: tokens}, nil), store: store, queues: queues, tokens: tokens}
}

func (f fixture) token(t testing.TB, user string, tier generation.Tier) string {
	tok, err := f.tokens.Mint(user, tier, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f fixture) do(method, path, token, body string, header ...string) (*httptest.ResponseRecorder, httpapi.ErrorBody) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	var eb httpapi.ErrorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &eb)
	return rec, eb
}

// nothingChanged asserts that a refused request stored and queued nothing.
func (f fixture) nothingChanged(t *testing.T) {
	t.Helper()
	counts, _ := f.store.Counts(context.Background())
	for tier, c := range counts {
		for st, n := range c {
			if n != 0 {
				t.Errorf("store holds %d %s generations of %s", n, st, tier)
			}
		}
	}
	depth, _ := f.queues.Depth(context.Background())
	for tier, d := range depth {
		if d.Waiting+d.Delayed+d.InFlight != 0 {
			t.Errorf("queue %s holds %+v", tier, d)
		}
	}
}

func TestHostileCreateBodiesGetSpecific400s(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name, body, code, mentions string
	}{
		{"empty", ``, "empty_body", "JSON object"},
		{"whitespace", "  \n", "empty_body", "JSON object"},
		{"not json", `prompt=hello`, "invalid_json", "not valid JSON"},
		{"truncated", `{"prompt":"hel`, "invalid_json", "truncated"},
		{"array", `[{"prompt":"x"}]`, "invalid_json", "JSON object"},
		{"string", `"a song"`, "invalid_json", "JSON object"},
		{"null", `null`, "invalid_prompt", "prompt"},
		{"two objects", `{"prompt":"a"}{"prompt":"b"}`, "invalid_json", "exactly one"},
		{"prompt number", `{"prompt":42}`, "invalid_prompt", "prompt must be a string"},
		{"instrumental string", `{"prompt":"a","instrumental":"yes"}`, "invalid_instrumental", "boolean"},
		{"customMode number", `{"prompt":"a","customMode":1}`, "invalid_custom_mode", "boolean"},
		{"model object", `{"prompt":"a","model":{}}`, "invalid_model", "string"},
		{"unknown field", `{"prompt":"a","lyrics":"b"}`, "unknown_field", `"lyrics"`},
		{"forged tier", `{"prompt":"a","tier":"ENTERPRISE"}`, "unknown_field", "comes from your token"},
		{"forged priority", `{"prompt":"a","priority":1}`, "unknown_field", "comes from your token"},
		{"missing prompt", `{}`, "invalid_prompt", "required"},
		{"blank prompt", `{"prompt":"   "}`, "invalid_prompt", "required"},
		{"prompt too long", `{"prompt":"` + long(501) + `"}`, "invalid_prompt", "501 characters"},
		{"style outside custom mode", `{"prompt":"a","style":"rock"}`, "invalid_custom_mode", "custom mode"},
		{"custom without title", `{"customMode":true,"style":"rock","prompt":"la"}`, "invalid_title", "required"},
		{"custom without lyrics", `{"customMode":true,"style":"rock","title":"t"}`, "invalid_prompt", "instrumental"},
		{"custom style too long for V4", `{"customMode":true,"model":"V4","style":"` + long(201) + `","title":"t","prompt":"la"}`, "invalid_style", "limit in custom mode with model V4 is 200"},
		{"custom title too long", `{"customMode":true,"style":"rock","title":"` + long(101) + `","prompt":"la"}`, "invalid_title", "100"},
		{"custom prompt too long", `{"customMode":true,"style":"rock","title":"t","prompt":"` + long(5001) + `"}`, "invalid_prompt", "5000"},
		{"unknown model", `{"prompt":"a","model":"V9"}`, "invalid_model", "V4_5"},
		{"invalid utf8", "{\"prompt\":\"\xff\xfe\"}", "invalid_encoding", "UTF-8"},
		{"nul character", `{"prompt":"a\u0000b"}`, "invalid_prompt", "NUL"},
		{"negative tags too long", `{"prompt":"a","negativeTags":"` + long(201) + `"}`, "invalid_negative_tags", "200"},
		// encoding/json reads null as absent; openapi.yaml allows no null.
		{"null style", `{"prompt":"a","style":null}`, "invalid_style", "style must not be null"},
		{"null prompt", `{"prompt":null}`, "invalid_prompt", "prompt must not be null"},
		{"null customMode", `{"prompt":"a","customMode":null}`, "invalid_custom_mode", "must not be null"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			rec, eb := f.do("POST", "/api/generation/create", f.token(t, "u", generation.Free), tc.body)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400; body %s", rec.Code, rec.Body)
			}
			if eb.Error.Code != tc.code || !strings.Contains(eb.Error.Message, tc.mentions) {
				t.Errorf("error = %+v, want code %q and a message mentioning %q", eb.Error, tc.code, tc.mentions)
			}
			f.nothingChanged(t)
		})
	}
}

func TestOversizeBodyIs413(t *testing.T) {
	f := newFixture(t)
	body := `{"prompt":"` + strings.Repeat("a", httpapi.MaxBody) + `"}`
	rec, eb := f.do("POST", "/api/generation/create", f.token(t, "u", generation.Free), body)
	if rec.Code != http.StatusRequestEntityTooLarge || eb.Error.Code != "body_too_large" {
		t.Fatalf("got %d %+v, want 413 body_too_large", rec.Code, eb)
	}
	f.nothingChanged(t)
}

func TestBadTokensGet401(t *testing.T) {
	f := newFixture(t)
	sign := func(method jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, _ := jwt.NewWithClaims(method, c).SignedString(key)
		return s
	}
	exp := time.Now().Add(time.Hour).Unix()
	headers := map[string]string{
		"missing":      "",
		"basic":        "Basic dTpw",
		"empty bearer": "Bearer ",
		"garbage":      "Bearer abc.def.ghi",
		"wrong secret": "Bearer " + sign(jwt.SigningMethodHS256, []byte("nope"), jwt.MapClaims{"sub": "u", "exp": exp}),
		"expired":      "Bearer " + sign(jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"sub": "u", "exp": time.Now().Add(-time.Hour).Unix()}),
		"alg none":     "Bearer " + sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "u", "exp": exp, "tier": "ENTERPRISE"}),
		"bad tier":     "Bearer " + sign(jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"sub": "u", "exp": exp, "tier": "GOD"}),
	}
	routes := [][2]string{
		{"POST", "/api/generation/create"}, {"GET", "/api/generation/status/x"},
		{"POST", "/api/generation/x/cancel"}, {"GET", "/api/generation"}, {"GET", "/api/queue/stats"},
		{"GET", "/api/quota"},
	}
	for name, h := range headers {
		for _, r := range routes {
			rec, eb := f.do(r[0], r[1], "", `{"prompt":"a"}`, "Authorization", h)
			if rec.Code != http.StatusUnauthorized || eb.Error.Code != "unauthorized" || eb.Error.Message == "" {
				t.Errorf("%s on %s %s: %d %+v, want 401 unauthorized", name, r[0], r[1], rec.Code, eb)
			}
		}
	}
	f.nothingChanged(t)
}

func TestTierComesFromTheToken(t *testing.T) {
	f := newFixture(t)
	rec, _ := f.do("POST", "/api/generation/create", f.token(t, "u", generation.Pro), `{"prompt":"a"}`)
	var out httpapi.CreateResponse
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	if rec.Code != http.StatusAccepted || out.Tier != generation.Pro || out.Priority != 10 || out.Status != "pending" {
		t.Fatalf("create = %d %+v, want 202 pending PRO priority 10", rec.Code, out)
	}
}

func TestIdempotencyKey(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "u", generation.Free)
	other := f.token(t, "v", generation.Free)
	create := func(tok, body, key string) (int, httpapi.CreateResponse, httpapi.ErrorBody) {
		rec, eb := f.do("POST", "/api/generation/create", tok, body, "Idempotency-Key", key)
		var out httpapi.CreateResponse
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out, eb
	}
	_, first, _ := create(tok, `{"prompt":"a"}`, "key-1")
	code, again, _ := create(tok, `{"prompt":"a"}`, "key-1")
	if code != http.StatusAccepted || again.GenerationID != first.GenerationID {
		t.Errorf("replay = %d %s, want 202 with the first id %s", code, again.GenerationID, first.GenerationID)
	}
	// The answer carries the version of the state it shows, as GET status
	// does, so a client can tell it from a newer push.
	rec, _ := f.do("GET", "/api/generation/status/"+first.GenerationID, tok, "")
	var st struct{ Version int64 }
	_ = json.Unmarshal(rec.Body.Bytes(), &st)
	if first.Version < 1 || again.Version != st.Version {
		t.Errorf("versions: create %d, replay %d, status %d; want the create's at least 1 and the replay's the current one", first.Version, again.Version, st.Version)
	}
	if code, theirs, _ := create(other, `{"prompt":"a"}`, "key-1"); code != http.StatusAccepted || theirs.GenerationID == first.GenerationID {
		t.Errorf("another user's same key = %d %s, want a generation of their own", code, theirs.GenerationID)
	}
	if code, _, eb := create(tok, `{"prompt":"b"}`, "key-1"); code != http.StatusConflict || eb.Error.Code != "idempotency_key_reused" {
		t.Errorf("same key, other body = %d %+v, want 409 idempotency_key_reused", code, eb)
	}
	if code, _, eb := create(tok, `{"prompt":"a"}`, strings.Repeat("k", 129)); code != http.StatusBadRequest || eb.Error.Code != "invalid_idempotency_key" {
		t.Errorf("long key = %d %+v, want 400", code, eb)
	}
	counts, _ := f.store.Counts(context.Background())
	if n := counts[generation.Free][generation.Pending]; n != 2 {
		t.Errorf("%d generations stored, want 2 (one per user)", n)
	}
}

func TestListPagesNewestFirst(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "u", generation.Free)
	var ids []string
	for i := range 5 {
		rec, _ := f.do("POST", "/api/generation/create", tok, `{"prompt":"song `+string(rune('a'+i))+`"}`)
		var out httpapi.CreateResponse
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		ids = append(ids, out.GenerationID)
		time.Sleep(2 * time.Millisecond)
	}
	var got []string
	cursor := ""
	for page := 0; page < 5; page++ {
		rec, _ := f.do("GET", "/api/generation?limit=2&cursor="+cursor, tok, "")
		var out httpapi.ListResponse
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		for _, it := range out.Items {
			got = append(got, it.GenerationID)
		}
		if cursor = out.NextCursor; cursor == "" {
			break
		}
	}
	want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("pages = %v, want newest first %v", got, want)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=abc", "cursor=bogus"} {
		rec, eb := f.do("GET", "/api/generation?"+q, tok, "")
		if rec.Code != http.StatusBadRequest || eb.Error.Message == "" {
			t.Errorf("%s: %d %+v, want 400", q, rec.Code, eb)
		}
	}
}

func TestUnknownRoutesAndIDs(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "u", generation.Free)
	for _, r := range [][2]string{
		{"GET", "/api/nope"}, {"GET", "/api/generation/status/does-not-exist"},
		{"GET", "/api/generation/status/" + strings.Repeat("%23", 40)}, {"POST", "/api/generation/missing/cancel"},
	} {
		rec, eb := f.do(r[0], r[1], tok, "")
		if rec.Code != http.StatusNotFound || eb.Error.Code == "" {
			t.Errorf("%s %s = %d %+v, want a JSON 404", r[0], r[1], rec.Code, eb)
		}
	}
	// A known route asked with another method: 405, and what it takes.
	for _, c := range []struct{ method, path, allow string }{
		// /api/generation/create is its own path, not /api/generation/{id}
		// with id "create" (openapi.yaml: the concrete path wins).
		{"GET", "/api/generation/create", "POST"},
		{"DELETE", "/api/generation/create", "POST"},
		{"OPTIONS", "/api/generation/create", "POST"},
		{"DELETE", "/api/queue/stats", "GET, HEAD"},
		{"PUT", "/api/generation/some-id", "DELETE"},
		{"GET", "/api/generation/some-id/cancel", "POST"},
		{"PATCH", "/api/admin/queues/FREE/pause", "POST"},
	} {
		rec, eb := f.do(c.method, c.path, tok, "")
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != c.allow || eb.Error.Code != "method_not_allowed" {
			t.Errorf("%s %s = %d Allow %q %+v, want 405 with Allow: %s", c.method, c.path, rec.Code, rec.Header().Get("Allow"), eb, c.allow)
		}
	}
}

func TestCallbackRefusesForgeries(t *testing.T) {
	f := newFixture(t)
	body := `{"code":200,"msg":"ok","data":{"callbackType":"complete","task_id":"t1","data":[]}}`
	// No generation named: 404. A signature this service did not issue
	// (the id-only kind it issued once, or one of another attempt): 403.
	for q, want := range map[string]struct {
		status int
		code   string
	}{
		"":       {http.StatusNotFound, "unknown_callback"},
		"?g=abc": {http.StatusForbidden, "invalid_callback_signature"},
		"?g=abc&sig=00000000000000000000000000000000":              {http.StatusForbidden, "invalid_callback_signature"},
		"?g=abc&sig=1.4102444800.00000000000000000000000000000000": {http.StatusForbidden, "invalid_callback_signature"},
		"?sig=1.4102444800.00000000000000000000000000000000":       {http.StatusNotFound, "unknown_callback"},
	} {
		rec, eb := f.do("POST", "/api/suno/callback"+q, "", body)
		if rec.Code != want.status || eb.Error.Code != want.code {
			t.Errorf("callback%s = %d %+v, want %d %s", q, rec.Code, eb, want.status, want.code)
		}
	}
	for _, bad := range []string{``, `{`, `{"code":200}`, `{"data":{"callbackType":"weird","task_id":"t"}}`} {
		rec, _ := f.do("POST", "/api/suno/callback?g=a&sig=b", "", bad)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("malformed callback %q = %d, want 400", bad, rec.Code)
		}
	}
}

// TestConformanceFindings: what make test-conformance (schemathesis against
// openapi.yaml) found the API doing beside its document.
func TestConformanceFindings(t *testing.T) {
	f := newFixture(t)
	user := f.token(t, "u", generation.Free)
	admin, err := f.tokens.Mint("op", generation.Enterprise, time.Hour, "admin")
	if err != nil {
		t.Fatal(err)
	}
	// limit= (present, empty) is no integer: refused, not read as absent.
	for _, c := range []struct{ path, token string }{
		{"/api/generation?limit=", user},
		{"/api/admin/generations?limit=", admin},
		{"/api/admin/deadletters?limit=", admin},
		{"/api/admin/audit?limit=", admin},
	} {
		rec, eb := f.do("GET", c.path, c.token, "")
		if rec.Code != http.StatusBadRequest || eb.Error.Code != "invalid_limit" {
			t.Errorf("GET %s = %d %+v, want 400 invalid_limit", c.path, rec.Code, eb.Error)
		}
	}
	// A bulk filter's null is refused like any other type mismatch.
	rec, eb := f.do("POST", "/api/admin/bulk", admin, `{"action":"cancel","filter":{"createdBefore":null}}`)
	if rec.Code != http.StatusBadRequest || eb.Error.Code != "invalid_filter" || !strings.Contains(eb.Error.Message, "filter.createdBefore") {
		t.Errorf("bulk with a null filter field = %d %+v, want 400 invalid_filter naming filter.createdBefore", rec.Code, eb.Error)
	}
	// user is at most 128 characters (maxLength), not 128 bytes.
	for _, c := range []struct {
		user string
		want int
	}{{strings.Repeat("é", 128), http.StatusOK}, {strings.Repeat("é", 129), http.StatusBadRequest}} {
		rec, eb := f.do("GET", "/api/admin/generations?user="+url.QueryEscape(c.user), admin, "")
		if rec.Code != c.want {
			t.Errorf("a user filter of %d characters = %d %+v, want %d", len([]rune(c.user)), rec.Code, eb.Error, c.want)
		}
	}
}

// unreachableSuno is a Suno these tests of the HTTP layer never reach.
type unreachableSuno struct{}

var errUnreachableSuno = errors.New("these tests do not reach Suno")

func (unreachableSuno) Submit(context.Context, generation.Request, string) (string, error) {
	return "", errUnreachableSuno
}
func (unreachableSuno) Task(context.Context, string) (generation.TaskReport, error) {
	return generation.TaskReport{}, errUnreachableSuno
}
func (unreachableSuno) Credits(context.Context) (int, error) { return 0, errUnreachableSuno }
