package sunofake_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/suno"
	"github.com/songqueue/songqueue/internal/sunofake"
)

// answer is one API call's answer as it came over the wire.
type answer struct {
	err    error // transport error: no answer at all
	status int
	ctype  string
	body   string
	code   *int // the body's code; nil when the body is not Suno JSON
	msg    string
	data   json.RawMessage
}

func (a answer) String() string {
	if a.err != nil {
		return "error " + a.err.Error()
	}
	return fmt.Sprintf("HTTP %d %s", a.status, strings.TrimSpace(a.body))
}

// do calls the fake's API with key and reads the answer off the wire.
func do(t *testing.T, hc *http.Client, base, key, method, path, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{err: err}
	}
	a := answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: string(b)}
	var env struct {
		Code *int            `json:"code"`
		Msg  string          `json:"msg"`
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(b, &env) == nil {
		a.code, a.msg, a.data = env.Code, env.Msg, env.Data
	}
	return a
}

const submitBody = `{"prompt":"a song","model":"V4_5"}`

func submitRaw(t *testing.T, srv *httptest.Server, key string) answer {
	t.Helper()
	return do(t, srv.Client(), srv.URL, key, http.MethodPost, "/api/v1/generate", submitBody)
}

func creditRaw(t *testing.T, srv *httptest.Server, key string) answer {
	t.Helper()
	return do(t, srv.Client(), srv.URL, key, http.MethodGet, "/api/v1/generate/credit", "")
}

// wantCode fails unless a is HTTP 200 with body code.
func wantCode(t *testing.T, what string, a answer, code int) {
	t.Helper()
	if a.err != nil || a.status != http.StatusOK || a.code == nil || *a.code != code {
		t.Errorf("%s: %v, want HTTP 200 with body code %d", what, a, code)
	}
}

// wantCredits fails unless the credit endpoint answers n for key.
func wantCredits(t *testing.T, srv *httptest.Server, key string, n int) {
	t.Helper()
	a := creditRaw(t, srv, key)
	wantCode(t, "credit", a, suno.CodeOK)
	if string(a.data) != fmt.Sprint(n) {
		t.Errorf("credit endpoint data %s, want %d", a.data, n)
	}
}

func TestTroubleModes(t *testing.T) {
	type want struct {
		status int
		code   int // 0: the body is not Suno JSON
		msg    string
		drop   bool
	}
	normal := func(code int) want { return want{status: http.StatusOK, code: code} }
	maintenance := want{status: http.StatusOK, code: suno.CodeMaintenance, msg: "system maintenance"}
	refused := want{status: http.StatusUnauthorized, code: suno.CodeUnauthorized, msg: "invalid API key"}
	lb503 := want{status: http.StatusServiceUnavailable}
	dropped := want{drop: true}
	tests := []struct {
		mode                   sunofake.Mode
		submit, record, credit want
		creditData             string
	}{
		{sunofake.ModeOK, normal(200), normal(200), normal(200), "1000000"},
		{sunofake.ModeMaintenance, maintenance, maintenance, maintenance, "null"},
		{sunofake.ModeCredits, want{status: http.StatusOK, code: suno.CodeInsufficientCredit, msg: "insufficient credits"}, normal(200), normal(200), "0"},
		{sunofake.ModeKeyRefused, refused, refused, refused, "null"},
		{sunofake.ModeHTTP503, lb503, lb503, lb503, ""},
		{sunofake.ModeDrop, dropped, dropped, dropped, ""},
		{sunofake.ModeSlow, normal(200), normal(200), normal(200), "1000000"},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			fake, srv, c := startFake(t, sunofake.Config{APIKey: "k"})
			id := submit(t, c, suno.GenerateRequest{Prompt: "before the trouble"})
			const slow = 40 * time.Millisecond
			fake.SetSlowDelay(slow)
			if err := fake.SetTrouble("", tt.mode, 0); err != nil {
				t.Fatal(err)
			}
			if got := fake.Trouble("k"); got != tt.mode {
				t.Errorf("Trouble = %s, want %s", got, tt.mode)
			}
			start := time.Now()
			calls := []struct {
				name string
				a    answer
				want want
			}{
				{"submit", submitRaw(t, srv, "k"), tt.submit},
				{"record-info", do(t, srv.Client(), srv.URL, "k", http.MethodGet, "/api/v1/generate/record-info?taskId="+id, ""), tt.record},
				{"credit", creditRaw(t, srv, "k"), tt.credit},
			}
			for _, call := range calls {
				a, w := call.a, call.want
				switch {
				case w.drop:
					if a.err == nil {
						t.Errorf("%s: %v, want the connection dropped", call.name, a)
					}
				case a.err != nil || a.status != w.status:
					t.Errorf("%s: %v, want HTTP %d", call.name, a, w.status)
				case w.code == 0:
					if a.code != nil || !strings.HasPrefix(a.ctype, "text/html") {
						t.Errorf("%s: %v (%s), want a body that is not JSON", call.name, a, a.ctype)
					}
				case a.code == nil || *a.code != w.code || (w.msg != "" && a.msg != w.msg):
					t.Errorf("%s: %v, want body code %d %q", call.name, a, w.code, w.msg)
				}
			}
			if tt.creditData != "" && string(calls[2].a.data) != tt.creditData {
				t.Errorf("credit data %s, want %s", calls[2].a.data, tt.creditData)
			}
			if tt.mode == sunofake.ModeSlow && time.Since(start) < 3*slow {
				t.Errorf("three slow calls took %v, want at least %v", time.Since(start), 3*slow)
			}
			wantTrouble := 3
			if tt.mode == sunofake.ModeOK {
				wantTrouble = 0
			}
			if got := fake.TroubleRequests(tt.mode); got != wantTrouble {
				t.Errorf("TroubleRequests(%s) = %d, want %d", tt.mode, got, wantTrouble)
			}
			wantAccepted := 1
			if tt.submit.code == 200 {
				wantAccepted = 2
			}
			if fake.Accepted("k") != wantAccepted || fake.Refused("k") != 2-wantAccepted {
				t.Errorf("Accepted = %d, Refused = %d; want %d, %d", fake.Accepted("k"), fake.Refused("k"), wantAccepted, 2-wantAccepted)
			}

			// Through the project's client: every trouble is an error, and
			// a 503 or a dropped connection is one without a body code.
			if tt.mode == sunofake.ModeOK || tt.mode == sunofake.ModeSlow {
				return
			}
			_, err := c.Submit(context.Background(), suno.GenerateRequest{Prompt: "p"})
			var ae *suno.APIError
			switch {
			case err == nil:
				t.Errorf("Submit succeeded in %s", tt.mode)
			case tt.mode == sunofake.ModeDrop:
				if errors.As(err, &ae) {
					t.Errorf("Submit: %v, want a transport error", err)
				}
			case !errors.As(err, &ae) || ae.HTTPStatus != tt.submit.status || ae.Code != tt.submit.code:
				t.Errorf("Submit: %#v, want HTTP %d with code %d", err, tt.submit.status, tt.submit.code)
			}
		})
	}
}

// TestSlowTimesOut checks that the slow mode makes a client's timeout
// fire, and that the fake lets the call go when the client gives up.
func TestSlowTimesOut(t *testing.T) {
	fake, srv, _ := startFake(t, sunofake.Config{SlowDelay: time.Minute})
	if err := fake.SetTrouble("", sunofake.ModeSlow, 0); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 30 * time.Millisecond}
	c := suno.NewClient(srv.URL, "", hc)
	start := time.Now()
	if _, err := c.Submit(context.Background(), generation.Request{Prompt: "p"}, ""); err == nil {
		t.Fatal("Submit succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Submit returned after %v", d)
	}
	// Close (in Cleanup) would hang for a minute if the held call did not
	// end with its client.
}

func TestTroubleReverts(t *testing.T) {
	fake, srv, _ := startFake(t, sunofake.Config{})
	if err := fake.SetTrouble("", sunofake.ModeMaintenance, 40*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "submit during maintenance", submitRaw(t, srv, ""), suno.CodeMaintenance)
	if st := fake.State(); st.Trouble.Mode != sunofake.ModeMaintenance || st.Trouble.Until == nil {
		t.Errorf("state trouble %+v, want maintenance with an end", st.Trouble)
	}
	waitMode(t, fake, "", sunofake.ModeOK)
	wantCode(t, "submit after maintenance", submitRaw(t, srv, ""), suno.CodeOK)
	if fake.TroubleRequests(sunofake.ModeMaintenance) != 1 || fake.Accepted("") != 1 || fake.Refused("") != 1 {
		t.Errorf("TroubleRequests = %d, Accepted = %d, Refused = %d; want 1, 1, 1",
			fake.TroubleRequests(sunofake.ModeMaintenance), fake.Accepted(""), fake.Refused(""))
	}

	// One key's trouble reverts too, and a timed trouble can be replaced
	// by an open-ended one.
	if err := fake.SetTrouble("k", sunofake.ModeKeyRefused, 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if a := submitRaw(t, srv, "k"); a.status != http.StatusUnauthorized {
		t.Errorf("submit with key k: %v, want HTTP 401", a)
	}
	waitMode(t, fake, "k", sunofake.ModeOK)
	wantCode(t, "submit with key k after", submitRaw(t, srv, "k"), suno.CodeOK)
}

// waitMode polls until key meets mode, for at most a second.
func waitMode(t *testing.T, fake *sunofake.Server, key string, mode sunofake.Mode) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for fake.Trouble(key) != mode {
		if time.Now().After(deadline) {
			t.Fatalf("key %q still in %s, want %s", key, fake.Trouble(key), mode)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCredits(t *testing.T) {
	t.Run("spent, then 429, then topped up", func(t *testing.T) {
		fake, srv, c := startFake(t, sunofake.Config{Credits: 3})
		wantCredits(t, srv, "", 3)
		for range 3 {
			submit(t, c, suno.GenerateRequest{Prompt: "p"})
		}
		wantCredits(t, srv, "", 0)
		_, err := c.Submit(context.Background(), suno.GenerateRequest{Prompt: "p"})
		var ae *suno.APIError
		if !errors.As(err, &ae) || ae.HTTPStatus != http.StatusOK || ae.Code != suno.CodeInsufficientCredit {
			t.Fatalf("4th submission: %v, want body code 429", err)
		}
		if fake.Accepted("") != 3 || fake.Refused("") != 1 || fake.InsufficientCredits("") != 1 || fake.Tasks() != 3 {
			t.Errorf("Accepted %d Refused %d InsufficientCredits %d Tasks %d; want 3 1 1 3",
				fake.Accepted(""), fake.Refused(""), fake.InsufficientCredits(""), fake.Tasks())
		}
		if n, err := fake.AddCredits("", 2); err != nil || n != 2 {
			t.Fatalf("AddCredits = %d, %v; want 2", n, err)
		}
		submit(t, c, suno.GenerateRequest{Prompt: "p"})
		if got := fake.Credits(""); got != 1 {
			t.Errorf("Credits = %d, want 1", got)
		}
		if err := fake.SetCredits("", sunofake.Unlimited); err != nil {
			t.Fatal(err)
		}
		wantCredits(t, srv, "", sunofake.UnlimitedShown)
	})
	t.Run("a submission costs CreditsPerSubmission", func(t *testing.T) {
		_, srv, _ := startFake(t, sunofake.Config{Credits: 20, CreditsPerSubmission: 12})
		wantCode(t, "first", submitRaw(t, srv, ""), suno.CodeOK)
		wantCode(t, "second", submitRaw(t, srv, ""), suno.CodeInsufficientCredit)
		wantCredits(t, srv, "", 8)
	})
	t.Run("LimitCredits starts empty", func(t *testing.T) {
		_, srv, _ := startFake(t, sunofake.Config{LimitCredits: true})
		wantCredits(t, srv, "", 0)
		wantCode(t, "submit", submitRaw(t, srv, ""), suno.CodeInsufficientCredit)
	})
	t.Run("the zero Config is unlimited", func(t *testing.T) {
		fake, srv, _ := startFake(t, sunofake.Config{})
		for i := range 30 { // and has no rate window either
			wantCode(t, fmt.Sprint("submit ", i), submitRaw(t, srv, ""), suno.CodeOK)
		}
		wantCredits(t, srv, "", sunofake.UnlimitedShown)
		if fake.Credits("") != sunofake.Unlimited {
			t.Errorf("Credits = %d", fake.Credits(""))
		}
	})
	t.Run("concurrent submissions do not overspend", func(t *testing.T) {
		fake, srv, _ := startFake(t, sunofake.Config{APIKeys: []string{"a", "b"}, Credits: 5})
		var wg sync.WaitGroup
		for i := range 40 {
			key := []string{"a", "b"}[i%2]
			wg.Go(func() { submitRaw(t, srv, key) })
		}
		wg.Wait()
		for _, k := range []string{"a", "b"} {
			if fake.Accepted(k) != 5 || fake.InsufficientCredits(k) != 15 || fake.Credits(k) != 0 {
				t.Errorf("key %s: Accepted %d InsufficientCredits %d Credits %d; want 5 15 0",
					k, fake.Accepted(k), fake.InsufficientCredits(k), fake.Credits(k))
			}
		}
	})
}

func TestRateWindow(t *testing.T) {
	const (
		limit  = 3
		window = 100 * time.Millisecond
	)
	fake, srv, _ := startFake(t, sunofake.Config{APIKeys: []string{"a", "b"}, RateLimit: limit, RateWindow: window})
	for i := range limit {
		wantCode(t, fmt.Sprint("a's submission ", i+1), submitRaw(t, srv, "a"), suno.CodeOK)
	}
	a := submitRaw(t, srv, "a")
	wantCode(t, "a's submission over the limit", a, suno.CodeTooFrequent)
	// Another key has a window of its own.
	for i := range limit {
		wantCode(t, fmt.Sprint("b's submission ", i+1), submitRaw(t, srv, "b"), suno.CodeOK)
	}
	if fake.TooFrequent("a") != 1 || fake.Refused("a") != 1 || fake.TooFrequent("b") != 0 {
		t.Errorf("TooFrequent(a) = %d, Refused(a) = %d, TooFrequent(b) = %d; want 1, 1, 0",
			fake.TooFrequent("a"), fake.Refused("a"), fake.TooFrequent("b"))
	}

	// Once the first arrival has left the window, there is room again.
	first := fake.AcceptedAt("a")[0]
	time.Sleep(time.Until(first.Add(window + 5*time.Millisecond)))
	wantCode(t, "a's submission after the window slid", submitRaw(t, srv, "a"), suno.CodeOK)

	at := fake.AcceptedAt("a")
	if len(at) != limit+1 || fake.Accepted("a") != limit+1 {
		t.Fatalf("AcceptedAt(a) has %d times, Accepted = %d; want %d", len(at), fake.Accepted("a"), limit+1)
	}
	if n := fake.FullestWindow("a", window); n != limit {
		t.Errorf("FullestWindow(a) = %d, want %d", n, limit)
	}
	if n := fake.FullestWindow("a", time.Hour); n != limit+1 {
		t.Errorf("FullestWindow(a, 1h) = %d, want %d", n, limit+1)
	}
	if st := fake.State().Keys["a"]; st.FullestWindow != limit || st.TooFrequent != 1 || st.Accepted != limit+1 {
		t.Errorf("State of a: %+v", st)
	}
}

func TestPerKeyTrouble(t *testing.T) {
	keys := []string{"k1", "k2", "k3"}
	fake, srv, _ := startFake(t, sunofake.Config{APIKeys: keys})
	if err := fake.SetTrouble("k2", sunofake.ModeCredits, 0); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "k1", submitRaw(t, srv, "k1"), suno.CodeOK)
	wantCode(t, "k2", submitRaw(t, srv, "k2"), suno.CodeInsufficientCredit)
	wantCode(t, "k3", submitRaw(t, srv, "k3"), suno.CodeOK)
	wantCredits(t, srv, "k2", 0)
	wantCredits(t, srv, "k1", sunofake.UnlimitedShown)

	// A balance that runs out is one key's only, too.
	if err := fake.SetCredits("k3", 1); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "k3 spends its last credit", submitRaw(t, srv, "k3"), suno.CodeOK)
	wantCode(t, "k3 has none left", submitRaw(t, srv, "k3"), suno.CodeInsufficientCredit)
	wantCode(t, "k1 still has some", submitRaw(t, srv, "k1"), suno.CodeOK)

	// The whole service's trouble, when more severe, wins over a key's.
	if err := fake.SetTrouble("", sunofake.ModeMaintenance, 0); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		wantCode(t, k+" in maintenance", submitRaw(t, srv, k), suno.CodeMaintenance)
	}
	if fake.Trouble("k2") != sunofake.ModeMaintenance {
		t.Errorf("Trouble(k2) = %s", fake.Trouble("k2"))
	}
	// "ok" for everyone ends each key's trouble as well.
	if err := fake.SetTrouble("", sunofake.ModeOK, 0); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "k2 after ok", submitRaw(t, srv, "k2"), suno.CodeOK)

	if fake.Accepted("k1") != 2 || fake.Refused("k1") != 1 || fake.Accepted("k2") != 1 || fake.Refused("k2") != 2 ||
		fake.InsufficientCredits("k2") != 1 || fake.InsufficientCredits("k3") != 1 {
		t.Errorf("state %+v", fake.State().Keys)
	}
	if fake.TroubleRequests(sunofake.ModeCredits) != 2 || fake.TroubleRequests(sunofake.ModeMaintenance) != 3 {
		t.Errorf("TroubleRequests credits %d maintenance %d, want 2, 3",
			fake.TroubleRequests(sunofake.ModeCredits), fake.TroubleRequests(sunofake.ModeMaintenance))
	}
	// Keys the fake does not accept cannot be named, nor can unknown modes.
	if err := fake.SetTrouble("nobody", sunofake.ModeDrop, 0); err == nil {
		t.Error("SetTrouble of an unknown key succeeded")
	}
	if err := fake.SetCredits("nobody", 5); err == nil {
		t.Error("SetCredits of an unknown key succeeded")
	}
	if err := fake.SetTrouble("", "sunny", 0); err == nil {
		t.Error("SetTrouble of an unknown mode succeeded")
	}
	// A call with a wrong key is refused as before and counted for no key.
	if a := submitRaw(t, srv, "nobody"); a.status != http.StatusUnauthorized {
		t.Errorf("wrong key: %v", a)
	}
	if _, ok := fake.State().Keys["nobody"]; ok {
		t.Error("a wrong key became an account")
	}
}

func TestControlRoutes(t *testing.T) {
	fake, srv, _ := startFake(t, sunofake.Config{APIKeys: []string{"k1", "k2"}, Credits: 10})
	post := func(path, body string) (int, sunofake.State) {
		t.Helper()
		resp, err := srv.Client().Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st sunofake.State
		json.NewDecoder(resp.Body).Decode(&st)
		return resp.StatusCode, st
	}

	status, st := post("/_fake/trouble", `{"mode":"maintenance","for":"1m","key":"k1"}`)
	if status != http.StatusOK || st.Keys["k1"].Trouble.Mode != sunofake.ModeMaintenance || st.Keys["k1"].Trouble.Until == nil ||
		st.Keys["k2"].Effective != sunofake.ModeOK || st.Trouble.Mode != sunofake.ModeOK {
		t.Errorf("POST /_fake/trouble: HTTP %d %+v", status, st)
	}
	wantCode(t, "k1", submitRaw(t, srv, "k1"), suno.CodeMaintenance)
	wantCode(t, "k2", submitRaw(t, srv, "k2"), suno.CodeOK)

	status, st = post("/_fake/credits", `{"key":"k2","credits":1000}`)
	if status != http.StatusOK || st.Keys["k2"].Credits != 1000 || st.Keys["k1"].Credits != 10 {
		t.Errorf("POST /_fake/credits: HTTP %d %+v", status, st.Keys)
	}
	if status, st = post("/_fake/credits", `{"key":"k2","add":5}`); status != http.StatusOK || st.Keys["k2"].Credits != 1005 {
		t.Errorf("top-up: HTTP %d %+v", status, st.Keys)
	}
	if status, _ = post("/_fake/trouble", `{"mode":"slow","delay":"5ms"}`); status != http.StatusOK {
		t.Errorf("slow with a delay: HTTP %d", status)
	}
	if st := fake.State(); st.SlowDelay != "5ms" || st.Trouble.Mode != sunofake.ModeSlow {
		t.Errorf("state after slow: %+v", st)
	}
	if status, st = post("/_fake/trouble", `{"mode":"ok"}`); status != http.StatusOK || st.Keys["k1"].Effective != sunofake.ModeOK {
		t.Errorf("ok: HTTP %d %+v", status, st)
	}

	for _, bad := range []struct{ path, body string }{
		{"/_fake/trouble", `{"mode":"sunny"}`},
		{"/_fake/trouble", `{"mode":"drop","for":"soon"}`},
		{"/_fake/trouble", `{"mode":"drop","key":"nobody"}`},
		{"/_fake/trouble", `{"mode":"drop","colour":"red"}`},
		{"/_fake/credits", `{"key":"k1"}`},
		{"/_fake/credits", `{"key":"k1","credits":1,"add":1}`},
		{"/_fake/credits", `not json`},
	} {
		if status, _ := post(bad.path, bad.body); status != http.StatusBadRequest {
			t.Errorf("POST %s %s: HTTP %d, want 400", bad.path, bad.body, status)
		}
	}
	if fake.Trouble("k1") != sunofake.ModeOK {
		t.Errorf("a refused control call changed the trouble to %s", fake.Trouble("k1"))
	}

	resp, err := srv.Client().Get(srv.URL + "/_fake/state?arrivals=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /_fake/state: HTTP %d %v", resp.StatusCode, err)
	}
	if k := st.Keys["k2"]; k.Accepted != 1 || len(k.AcceptedAt) != 1 || st.TroubleRequests[sunofake.ModeMaintenance] != 1 || st.Submissions != 2 {
		t.Errorf("state %+v", st)
	}
}

// TestControlRoutesLoopbackOnly calls the handler with crafted client
// addresses: only this machine's may change the fake.
func TestControlRoutesLoopbackOnly(t *testing.T) {
	fake := sunofake.New(sunofake.Config{})
	defer fake.Close()
	routes := []struct{ method, path, body string }{
		{http.MethodPost, "/_fake/trouble", `{"mode":"drop"}`},
		{http.MethodPost, "/_fake/credits", `{"credits":0}`},
		{http.MethodGet, "/_fake/state", ""},
		{http.MethodGet, "/_fake/trouble", ""},
	}
	tests := []struct {
		remote string
		allow  bool
	}{
		{"203.0.113.7:4000", false},
		{"192.168.1.10:80", false},
		{"[2001:db8::1]:443", false},
		{"10.0.0.1", false},
		{"", false},
		{"127.0.0.1:5000", true},
		{"127.8.9.10:5000", true},
		{"[::1]:5000", true},
		{"[::ffff:127.0.0.1]:5000", true},
	}
	for _, tt := range tests {
		for _, rt := range routes {
			req := httptest.NewRequest(rt.method, rt.path, strings.NewReader(rt.body))
			req.RemoteAddr = tt.remote
			rec := httptest.NewRecorder()
			fake.ServeHTTP(rec, req)
			if tt.allow {
				if rec.Code == http.StatusForbidden {
					t.Errorf("%s %s from %q: 403, want it allowed", rt.method, rt.path, tt.remote)
				}
			} else if rec.Code != http.StatusForbidden {
				t.Errorf("%s %s from %q: HTTP %d, want 403", rt.method, rt.path, tt.remote, rec.Code)
			}
		}
	}
	// Only the allowed calls reached the fake: the last was from ::ffff:127.0.0.1
	// and set the trouble to drop and the credits to 0.
	if fake.Trouble("") != sunofake.ModeDrop || fake.Credits("") != 0 {
		t.Errorf("Trouble %s Credits %d", fake.Trouble(""), fake.Credits(""))
	}
}

func TestParseTrouble(t *testing.T) {
	tests := []struct {
		spec string
		mode sunofake.Mode
		d    time.Duration
		ok   bool
	}{
		{"maintenance", sunofake.ModeMaintenance, 0, true},
		{"maintenance:30s", sunofake.ModeMaintenance, 30 * time.Second, true},
		{"HTTP-503:1m", sunofake.ModeHTTP503, time.Minute, true},
		{"key_refused", sunofake.ModeKeyRefused, 0, true},
		{"drop:0s", sunofake.ModeDrop, 0, true},
		{"ok", sunofake.ModeOK, 0, true},
		{"slow", sunofake.ModeSlow, 0, true},
		{"credits:2h", sunofake.ModeCredits, 2 * time.Hour, true},
		{"", "", 0, false},
		{"sunny", "", 0, false},
		{"drop:soon", "", 0, false},
		{"drop:-1s", "", 0, false},
	}
	for _, tt := range tests {
		m, d, err := sunofake.ParseTrouble(tt.spec)
		if (err == nil) != tt.ok || m != tt.mode || d != tt.d {
			t.Errorf("ParseTrouble(%q) = %q, %v, %v", tt.spec, m, d, err)
		}
	}
}
