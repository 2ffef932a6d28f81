package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// exchange is one request of the tab as the network saw it: the headers
// actually sent (Origin among them) and those of the answer.
type exchange struct {
	method, url, typ string
	reqHeaders       network.Headers
	status           int64
	respHeaders      network.Headers
}

// wire keeps every exchange of a tab, by request id. Its listener runs in
// chromedp's read loop, so it only records.
type wire struct {
	mu    sync.Mutex
	order []network.RequestID
	by    map[network.RequestID]*exchange
	logs  []*log.Entry // the browser's own log: CORS refusals, failed loads
}

func (w *wire) get(id network.RequestID) *exchange {
	e := w.by[id]
	if e == nil {
		e = &exchange{}
		w.by[id] = e
		w.order = append(w.order, id)
	}
	return e
}

func (w *wire) listen(ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Request == nil {
			return
		}
		e := w.get(ev.RequestID)
		e.method, e.url, e.typ = ev.Request.Method, ev.Request.URL, string(ev.Type)
		if e.reqHeaders == nil {
			e.reqHeaders = ev.Request.Headers
		}
	case *network.EventRequestWillBeSentExtraInfo:
		w.get(ev.RequestID).reqHeaders = ev.Headers // what went on the wire
	case *network.EventResponseReceived:
		if ev.Response != nil {
			e := w.get(ev.RequestID)
			e.status, e.respHeaders = ev.Response.Status, ev.Response.Headers
			if e.typ == "" {
				e.typ = string(ev.Type)
			}
		}
	case *log.EventEntryAdded:
		if ev.Entry != nil {
			w.logs = append(w.logs, ev.Entry)
		}
	}
}

func (w *wire) snapshot() ([]exchange, []*log.Entry) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]exchange, 0, len(w.order))
	for _, id := range w.order {
		out = append(out, *w.by[id])
	}
	return out, slices.Clone(w.logs)
}

func header(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return fmt.Sprint(v)
		}
	}
	return ""
}

// frontendEvent is one entry of the fixture page's window.__log.
type frontendEvent struct {
	Kind   string `json:"kind"`
	Text   string `json:"text"`
	Event  string `json:"event"`
	Source string `json:"source"`
	Data   struct {
		GenerationID string  `json:"generationId"`
		Status       string  `json:"status"`
		Progress     float64 `json:"progress"`
		AudioURL     string  `json:"audioUrl"`
		Version      int64   `json:"version"`
	} `json:"data"`
}

type apiFailure struct {
	IsAPIError bool    `json:"isApiError"`
	Name       string  `json:"name"`
	Status     int     `json:"status"`
	Code       string  `json:"code"`
	Message    string  `json:"message"`
	RetryAfter float64 `json:"retryAfter"`
	RequestID  string  `json:"requestId"`
}

// runningProbe is what the page's __probe.whileRunning() resolves to.
type runningProbe struct {
	Replay struct {
		GenerationID string `json:"generationId"`
		Replayed     bool   `json:"replayed"`
	} `json:"replay"`
	Quota   *apiFailure `json:"quota"`
	Missing *apiFailure `json:"missing"`
}

// afterProbe is what __probe.afterwards() resolves to.
type afterProbe struct {
	Listed    []string `json:"listed"`
	Completed float64  `json:"completed"`
	ByTier    []string `json:"byTier"`
}

// TestBrowserFrontendOnAnotherOrigin is the frontend developer's path: a
// page served by another server (another port, so another origin) imports
// songqueue-client.js from the stack, signs in with a demo token, creates
// a song through the module against the stack's API (cross-origin: the
// preflights and CORS headers are exercised) and shows its progress
// events, from the stack's WebSocket, to completion.
func TestBrowserFrontendOnAnotherOrigin(t *testing.T) {
	// The frontend's server, on a port of its own, so its origin can be
	// configured before the stack starts; it serves the page once the
	// stack's origin is known.
	var page string
	var frontHits sync.Map
	front := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		frontHits.Store(r.Method+" "+r.URL.Path, true)
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(page))
	}))
	frontOrigin := "http://" + front.Listener.Addr().String()

	h := startHarness(t, func(cfg *devstack.Config) {
		// One unfinished song per PRO user, so a second create is refused
		// with 429 and Retry-After, which the page must be able to read.
		cfg.Pipeline.Quotas[generation.Pro] = service.Quota{Open: 1, Daily: 200}
		// The frontend's origin, as a developer adds theirs: the stack
		// allows only its own page's and those listed (CORS_ALLOW_ORIGINS).
		cfg.CORSOrigins = []string{frontOrigin}
	})
	stackOrigin := h.stack.URL // http://127.0.0.1:PORT

	// Sign-in: the demo users' tokens, as the README's curl gets them. The
	// stack serves /api/dev/users to this machine only and without CORS,
	// so a page on another origin is handed the token (pasted, here).
	tokens := h.demoTokens()
	token := tokens["demo-pro"]
	if token == "" {
		t.Fatalf("no demo-pro among the demo users: %v", tokens)
	}

	fixture, err := os.ReadFile(filepath.Join("testdata", "frontend.html"))
	if err != nil {
		t.Fatal(err)
	}
	page = strings.ReplaceAll(string(fixture), "__STACK__", stackOrigin)
	front.Start()
	t.Cleanup(front.Close)
	frontURL, _ := url.Parse(front.URL)
	if frontURL.Host == h.stackURL.Host {
		t.Fatalf("the frontend and the stack share %s", frontURL.Host)
	}
	t.Logf("stack at %s, frontend at %s", stackOrigin, front.URL)

	b := h.first
	b.name = "frontend"
	w := &wire{by: map[network.RequestID]*exchange{}}
	if err := chromedp.Listen(b.ctx, w.listen); err != nil {
		t.Fatal(err)
	}

	// 1. The page loads and imports the module from the stack.
	b.do("open the frontend", 15*time.Second, chromedp.Navigate(front.URL+"/"))
	b.do("wait for its sign-in form", 10*time.Second, chromedp.WaitVisible(chromedp.ID("token")))
	waitFor[bool](b, "the module to load", 5*time.Second, `Array.isArray(window.__log)`)
	b.do("sign in", 10*time.Second,
		chromedp.SetValue(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("signin-button")),
		chromedp.WaitVisible(chromedp.ID("create")),
	)
	waitFor[bool](b, "the WebSocket to open and the first sync to answer", 10*time.Second,
		`document.getElementById("ws-state").dataset.state === "open" && window.__log.some((e) => e.kind === "sync")`)
	b.screenshot("frontend-01-signed-in")

	// 2. Create a song through the module.
	const prompt = "A song from another origin"
	b.do("create a song", 10*time.Second,
		chromedp.SendKeys(chromedp.ID("prompt"), prompt),
		chromedp.Click(chromedp.ID("create-button")),
	)
	id := waitFor[string](b, "the create's answer", 10*time.Second, `document.getElementById("created").dataset.generationId`)
	created := eval[map[string]any](b, `window.__created`)
	if created["status"] != "pending" || created["tier"] != "PRO" || created["replayed"] != false {
		b.errorf("create answered %v, want pending, PRO, not replayed", created)
	}

	// While it runs: an idempotent replay (Idempotent-Replayed is exposed),
	// a 429 with Retry-After (exposed), a 404 with the API's error body.
	probe := evalAwait[runningProbe](b, `window.__probe.whileRunning()`)
	if probe.Replay.GenerationID != id || !probe.Replay.Replayed {
		b.errorf("the same Idempotency-Key again gave %+v, want %s replayed", probe.Replay, id)
	}
	if q := probe.Quota; q == nil || !q.IsAPIError || q.Name != "ApiError" || q.Status != 429 || q.Code != "quota_exceeded" || q.RetryAfter < 1 || q.Message == "" || q.RequestID == "" {
		b.errorf("a create beyond the open quota failed with %+v, want an ApiError 429 quota_exceeded with retryAfter and requestId", q)
	} else {
		t.Logf("429: %q, retryAfter %v s", q.Message, q.RetryAfter)
	}
	if m := probe.Missing; m == nil || !m.IsAPIError || m.Status != 404 || m.Code != "not_found" || m.Message == "" {
		b.errorf("getStatus of an unknown id failed with %+v, want an ApiError 404 not_found", m)
	}

	// 3. Progress to completion, from the WebSocket.
	shot := false
	deadline := time.Now().Add(20 * time.Second)
	for {
		v := eval[float64](b, `document.getElementById("progress").value`)
		if !shot && v >= 30 && v < 100 {
			shot = true
			b.screenshot("frontend-02-in-progress")
		}
		if eval[bool](b, `!document.getElementById("done").hidden`) {
			break
		}
		if time.Now().After(deadline) {
			b.fatalf("the song did not complete in 20 s (progress %v)", v)
		}
		time.Sleep(40 * time.Millisecond)
	}
	waitFor[bool](b, "the player to get the song", 5*time.Second, `document.getElementById("player").src !== ""`)
	b.screenshot("frontend-03-complete")

	events := eval[[]frontendEvent](b, `window.__log`)
	var progress []float64
	var lastVersion int64
	completeAt := -1
	var complete frontendEvent
	for i, e := range events {
		if e.Data.GenerationID != id || e.Event == "" {
			continue
		}
		if e.Data.Version <= lastVersion {
			b.errorf("event %d (%s) has version %d after %d: the client let an old one through", i, e.Event, e.Data.Version, lastVersion)
		}
		lastVersion = e.Data.Version
		switch e.Event {
		case "generation:progress":
			if completeAt >= 0 {
				b.errorf("progress after generation:complete: %+v", e)
			}
			progress = append(progress, e.Data.Progress)
		case "generation:complete":
			completeAt, complete = i, e
		default:
			b.errorf("unexpected %s for the song: %+v", e.Event, e)
		}
	}
	t.Logf("the page saw progress %v, then generation:complete with %s", progress, complete.Data.AudioURL)
	var between int
	for i, p := range progress {
		if i > 0 && p < progress[i-1] {
			b.errorf("progress went backwards: %v", progress)
		}
		if p > 0 && p < 100 {
			between++
		}
	}
	if between < 2 || completeAt < 0 {
		b.errorf("the page saw progress %v and generation:complete at %d: want progress events between 0 and 100, then generation:complete", progress, completeAt)
	}
	if u, err := url.Parse(complete.Data.AudioURL); err != nil || u.Host != h.stackURL.Host || complete.Data.Status != "completed" {
		b.errorf("generation:complete carried %+v, want status completed and an audioUrl on the stack", complete.Data)
	}
	status := eval[map[string]any](b, `window.__status`)
	if status["status"] != "completed" || status["generationId"] != id {
		b.errorf("getStatus after completion: %v", status)
	}

	after := evalAwait[afterProbe](b, `window.__probe.afterwards()`)
	if !slices.Contains(after.Listed, id+" completed") || after.Completed < 1 || !slices.Contains(after.ByTier, "PRO") {
		b.errorf("list and stats afterwards: %+v", after)
	}

	// 4. The traffic: the page from its own server, and everything else,
	// the module included, from the stack, across origins.
	// The demo tokens are not for other sites, the allowed ones included:
	// the page cannot read them.
	if got := evalAwait[string](b, `fetch("`+stackOrigin+`/api/dev/users").then((r) => "read " + r.status, (e) => "refused: " + e)`); !strings.HasPrefix(got, "refused") {
		b.errorf("the frontend fetched the stack's /api/dev/users: %s", got)
	}

	exchanges, logs := w.snapshot()
	if frontOrigin != "http://"+frontURL.Host {
		t.Fatalf("the frontend is at %s, not %s", frontURL.Host, frontOrigin)
	}
	var apiCalls, preflights, sockets int
	sawModule := false
	for _, e := range exchanges {
		u, err := url.Parse(e.url)
		if err != nil {
			b.errorf("unparsable request URL %q", e.url)
			continue
		}
		switch {
		case u.Scheme == "data":
			continue
		case u.Host == frontURL.Host:
			if u.Path != "/" {
				b.errorf("the frontend asked its own server for %s: everything but the page comes from the stack", e.url)
			}
			continue
		case u.Host != h.stackURL.Host:
			b.errorf("a request went to neither the stack nor the frontend: %s %s", e.method, e.url)
			continue
		}
		origin := header(e.reqHeaders, "Origin")
		allow := header(e.respHeaders, "Access-Control-Allow-Origin")
		switch {
		case u.Path == "/songqueue-client.js":
			sawModule = true
			if origin != frontOrigin || allow != "*" {
				b.errorf("the module import: Origin %q, Access-Control-Allow-Origin %q; want %s and *", origin, allow, frontOrigin)
			}
		case u.Path == "/ws":
			sockets++
			if u.Query().Get("token") == "" {
				b.errorf("the WebSocket was opened without ?token=: %s", e.url)
			}
		case strings.HasPrefix(u.Path, "/api/"):
			if e.typ == string(network.ResourceTypePreflight) || e.method == http.MethodOptions {
				preflights++
				methods := strings.ToUpper(header(e.respHeaders, "Access-Control-Allow-Methods"))
				headers := strings.ToLower(header(e.respHeaders, "Access-Control-Allow-Headers"))
				if e.status != http.StatusNoContent && e.status != http.StatusOK || allow == "" ||
					!strings.Contains(headers, "authorization") || !strings.Contains(headers, "content-type") || !strings.Contains(methods, "POST") {
					b.errorf("preflight of %s: %d, allow-origin %q, allow-headers %q, allow-methods %q", u.Path, e.status, allow, headers, methods)
				}
				continue
			}
			apiCalls++
			if origin != frontOrigin {
				b.errorf("%s %s went without Origin %s (sent %q)", e.method, u.Path, frontOrigin, origin)
			}
			if u.Path == "/api/dev/users" {
				if allow != "" {
					b.errorf("%s %s: answered with Access-Control-Allow-Origin %q", e.method, u.Path, allow)
				}
				continue
			}
			if allow != frontOrigin {
				b.errorf("%s %s: answer %d with Access-Control-Allow-Origin %q, want %s", e.method, u.Path, e.status, allow, frontOrigin)
			}
		default:
			// The player's audio (media or the fake's files) is no API call.
			if !strings.HasPrefix(u.Path, "/media/") && !strings.HasPrefix(u.Path, "/fake-") {
				b.errorf("unexpected request to the stack: %s %s", e.method, e.url)
			}
		}
	}
	// The WebSocket's own handshake is not a network request to Chrome's
	// Network domain; the recorder saw it as a WebSocket.
	_, _, wsURLs, _, _, _, errs := b.rec.snapshot()
	for _, s := range wsURLs {
		if u, err := url.Parse(s); err != nil || u.Host != h.stackURL.Host || u.Path != "/ws" {
			b.errorf("a WebSocket to %s, not the stack's /ws", s)
		} else {
			sockets++
		}
	}
	t.Logf("%d API calls and %d preflights to %s, %d WebSocket(s), module imported: %v", apiCalls, preflights, h.stackURL.Host, sockets, sawModule)
	if !sawModule || apiCalls < 7 || sockets < 1 {
		b.errorf("traffic: module %v, %d API calls, %d WebSockets; want the module, at least 7 calls and a WebSocket", sawModule, apiCalls, sockets)
	}
	// Authorization and Content-Type make every call non-simple: each
	// (method, path) is preflighted, and Chromium reports the preflights.
	if preflights == 0 {
		b.errorf("no preflight seen: the calls were not cross-origin, or Chromium stopped reporting preflights")
	}
	if _, ok := frontHits.Load("GET /"); !ok {
		b.errorf("the frontend server never served the page")
	}

	// 5. No errors: no exception, no console.error, and no browser log
	// error but the two failed loads the probe asked for.
	if len(errs) > 0 {
		b.errorf("the page logged errors: %v", errs)
	}
	for _, l := range logs {
		if l.Level != log.EntryLevelError {
			continue
		}
		expected := strings.Contains(l.URL, "/api/generation/status/no-such-generation") || strings.Contains(l.URL+" "+l.Text, "/api/dev/users") ||
			strings.Contains(l.URL, "/api/generation/create") && strings.Contains(l.Text, "429")
		if !expected {
			b.errorf("browser log error: %s %s (%s)", l.Source, l.Text, l.URL)
		}
	}
	if t.Failed() {
		b.dump()
	}
}

// evalAwait evaluates an expression that returns a promise and decodes
// what it resolves to.
func evalAwait[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fatalf("evaluate %s: %v", expr, err)
	}
	return v
}
