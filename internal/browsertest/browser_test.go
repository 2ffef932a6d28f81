// Package browsertest drives the real page in headless Chromium against the
// local stack: sign in as a demo user, create a song and watch it finish,
// cancel another, reload, and check that the page never talks to any host
// but the stack's own; and, as the demo admin, the operator view: pause and
// resume a tier, retry a failed song, with a FREE user in a second tab;
// a frontend on another origin that imports songqueue-client.js from
// the stack and makes a song through it (crossorigin_test.go); and a song
// maker's visit at 1280 and 390 px: the stream before 100 %, confirmed
// cancel and remove, "Try again", a paused tier's reason, and axe-core's
// accessibility check (songmaker_test.go).
//
// It needs Debian's chromium (.ci/run installs it). Without it the test
// skips, or fails when CI=true. CHROMIUM_PATH overrides the executable.
// axe-core comes from make (scripts/axe.sh, into .build/axe/) or AXE_JS;
// without it the accessibility check skips, or fails when CI=true.
// Screenshots go to <repo>/.artifacts/screenshots/, which git ignores.
package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/app"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/web"
)

const installHint = "apt-get install -y --no-install-recommends chromium (or set CHROMIUM_PATH)"

// chromiumPath finds the browser: $CHROMIUM_PATH, Debian's /usr/bin/chromium,
// or a chromium on PATH.
func chromiumPath() (string, error) {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("CHROMIUM_PATH=%s: %w", p, err)
		}
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", errors.New("chromium is not installed")
}

// repoRoot is the directory holding go.mod, above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// lockedBuffer collects the stack's log, shown only when the test fails
// (a t.Log from a stack goroutine could outlive the test).
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// recorder keeps what the tab did: every request, response and console
// message. The listener runs in chromedp's read loop, so it only appends.
type recorder struct {
	mu        sync.Mutex
	requests  []string // "TYPE URL"
	urls      []string
	sockets   []string
	responses []string // "STATUS URL" for 4xx and 5xx
	failed    []string
	console   []string
	errors    []string // uncaught exceptions and console.error
}

func (r *recorder) listen(ev any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Request != nil {
			r.requests = append(r.requests, string(ev.Type)+" "+ev.Request.URL)
			r.urls = append(r.urls, ev.Request.URL)
		}
	case *network.EventWebSocketCreated:
		r.sockets = append(r.sockets, ev.URL)
		r.urls = append(r.urls, ev.URL)
	case *network.EventResponseReceived:
		if ev.Response != nil && ev.Response.Status >= 400 {
			r.responses = append(r.responses, fmt.Sprintf("%d %s", ev.Response.Status, ev.Response.URL))
		}
	case *network.EventLoadingFailed:
		r.failed = append(r.failed, fmt.Sprintf("%s %s (canceled=%v)", ev.Type, ev.ErrorText, ev.Canceled))
	case *runtime.EventConsoleAPICalled:
		parts := make([]string, 0, len(ev.Args))
		for _, a := range ev.Args {
			switch {
			case len(a.Value) > 0:
				var s string
				if json.Unmarshal(a.Value, &s) == nil {
					parts = append(parts, s)
				} else {
					parts = append(parts, string(a.Value))
				}
			case a.Description != "":
				parts = append(parts, a.Description)
			default:
				parts = append(parts, string(a.Type))
			}
		}
		line := fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " "))
		r.console = append(r.console, line)
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			r.errors = append(r.errors, line)
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		line := "exception: " + d.Text
		if d.Exception != nil {
			line += " " + d.Exception.Description
		}
		line += fmt.Sprintf(" at %s:%d", d.URL, d.LineNumber+1)
		r.console = append(r.console, line)
		r.errors = append(r.errors, line)
	case *log.EventEntryAdded:
		if ev.Entry != nil {
			r.console = append(r.console, fmt.Sprintf("log.%s %s: %s %s", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

func (r *recorder) snapshot() (urls, requests, sockets, responses, failed, console, errs []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := slices.Clone[[]string]
	return c(r.urls), c(r.requests), c(r.sockets), c(r.responses), c(r.failed), c(r.console), c(r.errors)
}

// browser is one tab on the page, with the means to explain a failure.
type browser struct {
	t        *testing.T
	ctx      context.Context // the tab; no deadline of its own
	stackURL *url.URL
	rec      *recorder
	stackLog *lockedBuffer
	shots    string
	name     string // of the tab, when a test has several
	dumped   bool
}

// dump logs what a person needs to see why a step failed: the list as the
// page shows it, the announcer, the console and the network.
func (b *browser) dump() {
	if b.dumped {
		return
	}
	b.dumped = true
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const txt = (id) => { const e = document.getElementById(id); return e ? e.innerText : "(missing)"; };
		const items = [...document.querySelectorAll("ol#generations > li.gen-item")].map(
			(li) => li.dataset.generationId + " [" + li.dataset.status + "]: " + li.innerText.replace(/\s+/g, " "));
		return "location: " + location.href +
			"\nws-state: " + txt("ws-state") +
			"\nsignin-error: " + txt("signin-error") + "\ncreate-error: " + txt("create-error") + "\nlist-error: " + txt("list-error") +
			"\nannouncer: " + txt("announcer").replace(/\n+/g, " | ") +
			"\nstats: " + txt("queue-stats").replace(/\s+/g, " ") +
			"\nlist:\n  " + items.join("\n  ");
	})()`))
	if err != nil {
		page = "(could not read the page: " + err.Error() + ")"
	}
	_, requests, _, responses, failed, console, _ := b.rec.snapshot()
	b.t.Logf("page state:\n%s", page)
	b.t.Logf("console:\n  %s", strings.Join(console, "\n  "))
	b.t.Logf("requests:\n  %s", strings.Join(requests, "\n  "))
	b.t.Logf("error responses: %v; failed loads: %v", responses, failed)
	b.t.Logf("stack log:\n%s", b.stackLog.String())
	if b.name != "" {
		b.t.Logf("(the tab above is %q)", b.name)
		b.screenshot("failure-" + b.name)
		return
	}
	b.screenshot("failure")
}

// fatalf dumps the page and stops the test.
func (b *browser) fatalf(format string, args ...any) {
	b.t.Helper()
	b.dump()
	b.t.Fatalf(format, args...)
}

// errorf dumps the page and marks the test failed.
func (b *browser) errorf(format string, args ...any) {
	b.t.Helper()
	b.dump()
	b.t.Errorf(format, args...)
}

// do runs steps with a timeout.
func (b *browser) do(what string, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression and decodes its value into T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript expression until it is truthy and returns its
// value; after timeout it fails with what, the page and the console.
func waitFor[T any](b *browser, what string, timeout time.Duration, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+2*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Poll[T](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		b.fatalf("waiting %s for %s: %v", timeout, what, err)
	}
	return v
}

// screenshot saves the whole page as a PNG under the screenshots folder.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.t.Errorf("save screenshot: %v", err)
		return
	}
	b.t.Logf("screenshot %s (%d KB)", p, len(buf)/1024)
}

// onStackHost reports whether raw is an address on the stack's own host
// and port (or a data: or blob: URL, which reach no host).
func (b *browser) onStackHost(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "data", "blob":
		return true
	case "http", "ws":
		return u.Host == b.stackURL.Host
	}
	return false
}

// item is what the test reads of one li.gen-item.
type item struct {
	ID           string   `json:"id"`
	Status       string   `json:"status"`
	StatusText   string   `json:"statusText"`
	Progress     float64  `json:"progress"`
	Percent      string   `json:"percent"`
	Title        string   `json:"title"`
	CancelHidden bool     `json:"cancelHidden"`
	CancelShown  bool     `json:"cancelShown"` // rendered with a box, not only not [hidden]
	Audio        []string `json:"audio"`
	Covers       []string `json:"covers"`
	CoversLoaded bool     `json:"coversLoaded"`
	Error        string   `json:"error"`
}

// readItems returns the list as the page shows it, newest first.
const readItems = `[...document.querySelectorAll("ol#generations > li.gen-item")].map((li) => {
	const q = (s) => li.querySelector(s);
	const cancel = q("button.gen-cancel");
	const covers = [...li.querySelectorAll("img.gen-cover")];
	return {
		id: li.dataset.generationId,
		status: li.dataset.status,
		statusText: q(".gen-status")?.textContent ?? "",
		progress: q("progress.gen-progress")?.value ?? -1,
		percent: q(".gen-percent")?.textContent ?? "",
		title: q(".gen-title")?.textContent ?? "",
		cancelHidden: cancel ? cancel.hidden : true,
		cancelShown: cancel ? cancel.getClientRects().length > 0 : false,
		audio: [...li.querySelectorAll("audio.gen-audio")].map((a) => a.src),
		covers: covers.map((i) => i.src),
		coversLoaded: covers.length > 0 && covers.every((i) => i.complete && i.naturalWidth > 0),
		error: q(".gen-error")?.hidden === false ? q(".gen-error").textContent : "",
	};
})`

func (b *browser) items() []item {
	b.t.Helper()
	return eval[[]item](b, readItems)
}

func (b *browser) item(id string) item {
	b.t.Helper()
	for _, it := range b.items() {
		if it.ID == id {
			return it
		}
	}
	b.fatalf("generation %s is not in the list", id)
	return item{}
}

// recordProgress makes the page keep, in window.__progress, every value a
// progress bar of the list takes, with the item's status at that moment.
const recordProgress = `(() => {
	window.__progress = [];
	const rec = (li) => {
		const p = li.querySelector("progress.gen-progress");
		if (p) window.__progress.push({ id: li.dataset.generationId, value: p.value, status: li.dataset.status });
	};
	new MutationObserver((records) => {
		for (const m of records) {
			if (m.type === "childList") {
				for (const n of m.addedNodes) if (n instanceof Element && n.matches("li.gen-item")) rec(n);
			} else {
				const li = m.target.closest("li.gen-item");
				if (li) rec(li);
			}
		}
	}).observe(document.getElementById("generations"), { subtree: true, childList: true, attributes: true, attributeFilter: ["value", "data-status"] });
	return true;
})()`

// itemExpr is a JavaScript expression for the li of one generation.
func itemExpr(id string) string {
	return fmt.Sprintf(`document.querySelector('ol#generations > li.gen-item[data-generation-id=%s]')`, strconv.Quote(id))
}

// harness is one local stack and one headless browser on it.
type harness struct {
	t        *testing.T
	stack    *devstack.Stack
	stackURL *url.URL
	stackLog *lockedBuffer
	shots    string
	exe      string
	started  time.Time
	first    *browser // the tab that started the browser
}

// startHarness starts the stack, with delays long enough to see a progress
// bar move and short enough for a test to take seconds (tune changes the
// configuration further), and a browser with one tab. It skips the test
// when chromium is missing, unless CI is set.
func startHarness(t *testing.T, tune func(*devstack.Config)) *harness {
	t.Helper()
	exe, err := chromiumPath()
	if err != nil {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
			t.Fatalf("%v; CI must install it: %s", err, installHint)
		}
		t.Skipf("%v; install it with: %s", err, installHint)
	}
	h := &harness{t: t, exe: exe, started: time.Now(), stackLog: &lockedBuffer{}}

	cfg := devstack.DefaultConfig()
	cfg.Port = 0
	cfg.Media.Dir = t.TempDir()
	cfg.FakeTextDelay, cfg.FakeFirstDelay, cfg.FakeCompleteDelay = 300*time.Millisecond, 900*time.Millisecond, 1800*time.Millisecond
	cfg.Pipeline.PollInterval = 300 * time.Millisecond
	cfg.Pipeline.Retry.BackoffBase = 50 * time.Millisecond
	cfg.RateLimit.Rate = 100
	cfg.Pipeline.Deadline = 2 * time.Minute
	if tune != nil {
		tune(&cfg)
	}
	stack, err := devstack.Start(context.Background(), cfg, devstack.Options{
		Page:    web.Handler(),
		Options: app.Options{Logger: slog.New(slog.NewTextHandler(h.stackLog, &slog.HandlerOptions{Level: slog.LevelInfo}))},
	})
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := stack.Shutdown(ctx); err != nil {
			t.Errorf("stack shutdown: %v", err)
		}
	})
	h.stack = stack
	if h.stackURL, err = url.Parse(stack.URL); err != nil {
		t.Fatal(err)
	}

	h.shots = filepath.Join(repoRoot(t), ".artifacts", "screenshots")
	if err := os.MkdirAll(h.shots, 0o755); err != nil {
		t.Fatal(err)
	}

	// The browser: headless, a fresh profile, nothing in the background,
	// and every host name but the stack's address unresolvable, so that a
	// stray request is seen (by the recorder) but never leaves the machine.
	profile, err := os.MkdirTemp("", "songqueue-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(profile) }) // after the browser exits (registered later, so run first)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE "+h.stackURL.Hostname()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	h.first = h.openTab(allocCtx, "")
	t.Logf("browser %s up after %s", exe, time.Since(h.started).Round(time.Millisecond))
	return h
}

// openTab opens a tab: the browser's first when parent is the allocator's
// context, else a new tab of parent's browser (with its own
// sessionStorage, so its own sign-in). name prefixes its failure
// screenshot.
func (h *harness) openTab(parent context.Context, name string) *browser {
	h.t.Helper()
	rec := &recorder{}
	tabCtx, cancelTab := chromedp.NewContext(parent, chromedp.WithListener(rec.listen))
	h.t.Cleanup(cancelTab)
	// A deadline on the first run's context would end the browser with
	// it, so the limit is a timer that cancels the tab. Each step has its
	// own timeout.
	startTimer := time.AfterFunc(30*time.Second, cancelTab)
	if err := chromedp.Do(tabCtx); err != nil {
		h.t.Fatalf("start %s tab %q (30 s limit): %v", h.exe, name, err)
	}
	if !startTimer.Stop() {
		h.t.Fatalf("start %s tab %q: no answer in 30 s", h.exe, name)
	}
	return &browser{t: h.t, ctx: tabCtx, stackURL: h.stackURL, rec: rec, stackLog: h.stackLog, shots: h.shots, name: name}
}

// newTab opens another tab in the same browser.
func (h *harness) newTab(name string) *browser {
	h.t.Helper()
	return h.openTab(h.first.ctx, name)
}

func TestBrowserSongLifecycle(t *testing.T) {
	h := startHarness(t, nil)
	started, stack, stackURL, rec, b := h.started, h.stack, h.stackURL, h.first.rec, h.first

	// 1. Sign in as the PREMIUM demo user.
	b.do("open the page", 15*time.Second, chromedp.Navigate(stack.URL+"/"))
	b.do("wait for the demo sign-in", 10*time.Second, chromedp.WaitVisible(chromedp.ID("dev-signin-button")))
	premium := eval[string](b, `[...document.querySelectorAll("#dev-user option")].find((o) => o.textContent.includes("(PREMIUM)"))?.value ?? ""`)
	if premium == "" {
		b.fatalf("no PREMIUM demo user among the options of #dev-user")
	}
	b.do("sign in", 10*time.Second,
		chromedp.SetValue(chromedp.ID("dev-user"), premium),
		chromedp.Click(chromedp.ID("dev-signin-button")),
		chromedp.WaitVisible(chromedp.ID("create-form")),
	)
	waitFor[bool](b, "#ws-state to say Connected", 10*time.Second,
		`document.getElementById("ws-state").dataset.state === "connected" && document.getElementById("ws-state").textContent === "Connected"`)
	who := eval[map[string]string](b, `({user: document.getElementById("user-id").textContent, tier: document.getElementById("user-tier").textContent, signinHidden: String(document.getElementById("signin").hidden)})`)
	if who["user"] != "demo-premium" || who["tier"] != "PREMIUM" || who["signinHidden"] != "true" {
		b.fatalf("after sign-in the header shows user %q tier %q (sign-in hidden: %s), want demo-premium PREMIUM", who["user"], who["tier"], who["signinHidden"])
	}
	if n := len(b.items()); n != 0 {
		b.fatalf("a new user's list has %d songs", n)
	}
	b.screenshot("01-signed-in")

	// 2. Create a song and watch it being made. Besides the test's own
	// polling, the page records every value each progress bar takes, so a
	// slow machine cannot make the test miss a step.
	eval[bool](b, recordProgress)
	const firstPrompt = "A cheerful song about queues" // short enough to be named in full
	b.do("submit the first song", 10*time.Second,
		chromedp.SendKeys(chromedp.ID("prompt"), firstPrompt),
		chromedp.Click(chromedp.ID("create-submit")),
	)
	// The first sight of the new item: a WebSocket event may put it in the
	// list (as a placeholder) before the create's answer arrives.
	first := waitFor[map[string]string](b, "the first song to appear in the list", 10*time.Second,
		`(() => { const li = document.querySelector("ol#generations > li.gen-item"); return li && {id: li.dataset.generationId, status: li.dataset.status}; })()`)
	firstID := first["id"]
	if st := first["status"]; st != "pending" && st != "processing" {
		b.fatalf("new song at the top is %s, want pending or processing", st)
	}
	msg := waitFor[string](b, "the create to be answered", 10*time.Second,
		`(() => { const m = document.getElementById("create-message").textContent; return m.startsWith("Created") && m; })()`)
	if !strings.HasPrefix(msg, "Created '"+firstPrompt+"'") {
		b.errorf("#create-message after create = %q, want Created '%s'…", msg, firstPrompt)
	}
	waitFor[bool](b, "the new song's title to be its prompt", 5*time.Second,
		fmt.Sprintf(`%s?.querySelector(".gen-title").textContent === %s`, itemExpr(firstID), strconv.Quote(firstPrompt)))
	if top := b.items()[0]; top.ID != firstID {
		b.errorf("the new song %s is not at the top of the list: %+v", firstID, top)
	}
	t.Logf("first song %s listed as %s, %s after start", firstID, first["status"], time.Since(started).Round(time.Millisecond))

	// Poll the progress bar until the song is done.
	var seen []float64
	var statuses []string
	shotInProgress := false
	deadline := time.Now().Add(20 * time.Second)
	for {
		it := b.item(firstID)
		if len(seen) == 0 || it.Progress != seen[len(seen)-1] {
			seen = append(seen, it.Progress)
		}
		if len(statuses) == 0 || it.StatusText != statuses[len(statuses)-1] {
			statuses = append(statuses, it.StatusText)
		}
		if !shotInProgress && it.Status == "processing" && it.Progress >= 30 && it.Progress < 100 {
			shotInProgress = true
			b.screenshot("02-in-progress")
		}
		if it.Status == "completed" || it.Status == "failed" || it.Status == "cancelled" {
			break
		}
		if time.Now().After(deadline) {
			b.fatalf("the first song did not finish in 20 s: progress %v, statuses %v", seen, statuses)
		}
		time.Sleep(40 * time.Millisecond)
	}
	t.Logf("first song: progress values %v, statuses %v, done %s after start", seen, statuses, time.Since(started).Round(time.Millisecond))
	done := b.item(firstID)
	if done.Status != "completed" || done.StatusText != "Completed" || done.Progress != 100 || done.Percent != "100%" {
		b.fatalf("first song ended as %+v, want Completed at 100%%", done)
	}
	bar := eval[[]float64](b, fmt.Sprintf(`window.__progress.filter((r) => r.id === %s).map((r) => r.value)`, strconv.Quote(firstID)))
	bar = slices.Compact(bar)
	t.Logf("first song: the page's progress bar took %v", bar)
	var between []float64
	for i, v := range bar {
		if i > 0 && v < bar[i-1] {
			b.errorf("progress went backwards: %v", bar)
		}
		if v > 0 && v < 100 && !slices.Contains(between, v) {
			between = append(between, v)
		}
	}
	if len(between) < 2 || bar[len(bar)-1] != 100 {
		b.errorf("the progress bar took %v (the test saw %v): want at least two distinct values between 0 and 100, then 100", bar, seen)
	}
	if !slices.Contains(statuses, "Processing") {
		b.errorf("status text went %v, never Processing", statuses)
	}
	if !shotInProgress {
		b.errorf("never saw the song processing at 30%% or more to take a screenshot")
	}
	if done.CancelHidden != true || done.CancelShown {
		b.errorf("completed song still shows its Cancel button: %+v", done)
	}

	// The audio player and the cover point at the stack, and the audio
	// plays: the server serves it, and the browser reads its duration.
	if len(done.Audio) == 0 {
		b.fatalf("completed song has no audio.gen-audio: %+v", done)
	}
	for _, src := range done.Audio {
		if !b.onStackHost(src) {
			b.errorf("audio src %s is not on the stack's host %s", src, stackURL.Host)
		}
		// The archived copy, not Suno's file, which expires.
		if u, err := url.Parse(src); err != nil || !strings.HasPrefix(u.Path, "/media/") {
			b.errorf("audio src %s is not the stack's archived copy (/media/...)", src)
		}
		resp, err := http.Get(src)
		if err != nil {
			b.fatalf("GET %s: %v", src, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "audio/") || len(body) < 1000 {
			b.errorf("GET %s: %d %q, %d bytes; want 200 with audio", src, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	}
	if len(done.Covers) == 0 {
		b.errorf("completed song has no img.gen-cover")
	}
	for _, src := range done.Covers {
		if !b.onStackHost(src) {
			b.errorf("cover src %s is not on the stack's host %s", src, stackURL.Host)
		}
	}
	waitFor[bool](b, "the cover image to load", 5*time.Second,
		itemExpr(firstID)+`.querySelector("img.gen-cover")?.naturalWidth > 0`)
	duration := waitFor[float64](b, "the audio player to read the track's duration", 10*time.Second, `(() => {
		const a = `+itemExpr(firstID)+`.querySelector("audio.gen-audio");
		if (a.preload !== "metadata") { a.preload = "metadata"; a.load(); }
		return a.error ? -1 : (a.readyState >= 1 && a.duration);
	})()`)
	if duration < 1 {
		b.errorf("the browser could not load the audio (duration %v)", duration)
	}
	// And it plays: muted, which the autoplay policy allows without a click.
	eval[bool](b, `(() => { const a = `+itemExpr(firstID)+`.querySelector("audio.gen-audio"); a.muted = true; a.play(); return true; })()`)
	waitFor[bool](b, "the archived track to play", 10*time.Second, `(() => {
		const a = `+itemExpr(firstID)+`.querySelector("audio.gen-audio");
		return !a.paused && a.currentTime > 0 && a.duration > 0;
	})()`)
	eval[bool](b, `(() => { `+itemExpr(firstID)+`.querySelector("audio.gen-audio").pause(); return true; })()`)
	announced := eval[string](b, `document.getElementById("announcer").innerText`)
	if !strings.Contains(announced, "Song '"+firstPrompt+"' is ready.") {
		b.errorf("#announcer did not announce the finished song: %q", announced)
	}
	if strings.Contains(announced, "Loading song details") {
		b.errorf("#announcer named the song by its placeholder: %q", announced)
	}

	// 3. Create a slow song and cancel it while it runs.
	const secondPrompt = "A very slow ballad to cancel [fake:slow=30s]"
	b.do("submit the second song", 10*time.Second,
		chromedp.SendKeys(chromedp.ID("prompt"), secondPrompt),
		chromedp.Click(chromedp.ID("create-submit")),
	)
	secondID := waitFor[string](b, "the second song to appear at the top", 10*time.Second, fmt.Sprintf(
		`(() => { const id = document.querySelector("ol#generations > li.gen-item")?.dataset.generationId; return id !== %s && id; })()`,
		strconv.Quote(firstID)))
	waitFor[bool](b, "the second song to be processing", 10*time.Second, itemExpr(secondID)+`?.dataset.status === "processing"`)
	running := b.item(secondID)
	if running.CancelHidden || !running.CancelShown {
		b.fatalf("processing song has no visible Cancel button: %+v", running)
	}
	b.do("cancel the second song", 10*time.Second,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`li.gen-item[data-generation-id=%s] button.gen-cancel`, strconv.Quote(secondID)))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`li.gen-item[data-generation-id=%s] button.gen-confirm-yes`, strconv.Quote(secondID)))))
	waitFor[bool](b, "the second song to be cancelled", 10*time.Second, itemExpr(secondID)+`?.dataset.status === "cancelled"`)
	cancelled := b.item(secondID)
	if cancelled.StatusText != "Cancelled" || !cancelled.CancelHidden || cancelled.CancelShown || len(cancelled.Audio) != 0 {
		b.errorf("cancelled song shows %+v: want Cancelled, no Cancel button, no audio", cancelled)
	}
	waitFor[bool](b, "the cancellation to be announced", 5*time.Second,
		`document.getElementById("announcer").innerText.includes("was cancelled.")`)
	b.screenshot("03-completed-and-cancelled")

	// Give a late event the chance to undo the cancellation, then check
	// the server agrees.
	time.Sleep(500 * time.Millisecond)
	if st := b.item(secondID).Status; st != "cancelled" {
		b.errorf("cancelled song became %s afterwards", st)
	}

	// 4. Reload: the session survives, and both songs are listed with their
	// final state.
	b.do("reload", 15*time.Second, chromedp.Reload())
	waitFor[bool](b, "both songs after the reload", 10*time.Second, fmt.Sprintf(
		`%s?.dataset.status === "completed" && %s?.dataset.status === "cancelled"`, itemExpr(firstID), itemExpr(secondID)))
	waitFor[bool](b, "#ws-state to say Connected after the reload", 10*time.Second,
		`document.getElementById("ws-state").dataset.state === "connected"`)
	after := b.items()
	if len(after) != 2 || after[0].ID != secondID || after[1].ID != firstID {
		b.errorf("after the reload the list is %+v, want %s then %s", after, secondID, firstID)
	}
	if it := b.item(firstID); it.StatusText != "Completed" || it.Progress != 100 || len(it.Audio) == 0 || !it.CancelHidden {
		b.errorf("after the reload the first song shows %+v, want Completed with audio", it)
	} else if it.Audio[0] != done.Audio[0] {
		b.errorf("after the reload the audio is %s, was %s", it.Audio[0], done.Audio[0])
	}
	if it := b.item(secondID); it.StatusText != "Cancelled" || len(it.Audio) != 0 || !it.CancelHidden || it.CancelShown {
		b.errorf("after the reload the second song shows %+v, want Cancelled with no audio and no Cancel button", it)
	}
	if who := eval[string](b, `document.getElementById("user-id").textContent`); who != "demo-premium" {
		b.errorf("after the reload signed in as %q", who)
	}
	// The queue stats are operators' data: a user sees no count of theirs
	// and their page never asks for them.
	if shown := eval[bool](b, `document.getElementById("queue-stats").getClientRects().length > 0`); shown {
		b.errorf("a PREMIUM user sees the queue stats")
	}
	b.screenshot("04-after-reload")

	// 5. Phone width: nothing scrolls sideways.
	b.do("emulate a phone", 10*time.Second, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(1)))
	waitFor[bool](b, "the layout to take the phone width", 5*time.Second, `window.innerWidth === 390`)
	widths := eval[map[string]float64](b, `({scroll: document.documentElement.scrollWidth, inner: window.innerWidth, body: document.body.scrollWidth})`)
	if widths["scroll"] > widths["inner"] || widths["body"] > widths["inner"] {
		wide := eval[[]string](b, `[...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5).slice(0, 10).map((e) => e.tagName + (e.id ? "#" + e.id : "") + "." + e.className)`)
		b.errorf("at 390 px the page scrolls sideways: %v; too wide: %v", widths, wide)
	}
	b.screenshot("05-phone")
	b.do("reset the viewport", 5*time.Second, chromedp.ResetViewport())

	// 6. The page talked to the stack and to nothing else.
	urls, requests, sockets, responses, _, _, errs := rec.snapshot()
	if len(requests) < 5 || len(sockets) < 2 {
		b.errorf("recorded %d requests and %d WebSockets; the recorder missed the page's traffic: %v %v", len(requests), len(sockets), requests, sockets)
	}
	for _, u := range urls {
		if !b.onStackHost(u) {
			b.errorf("the page made a request to another host: %s", u)
		}
	}
	for _, r := range responses {
		b.errorf("the page got an error response: %s", r)
	}
	for _, r := range requests {
		if strings.Contains(r, "/api/queue/stats") || strings.Contains(r, "/api/admin/") {
			b.errorf("a user's page asked for operators' data: %s", r)
		}
	}
	if len(errs) > 0 {
		b.errorf("the page logged errors: %v", errs)
	}
	t.Logf("%d requests and %d WebSockets, all to %s; took %s", len(requests), len(sockets), stackURL.Host, time.Since(started).Round(time.Millisecond))
	if t.Failed() {
		b.dump()
	}
}

// signIn opens the page in b and signs in as the demo user whose option
// in #dev-user contains label, then waits for the WebSocket.
func (h *harness) signIn(b *browser, label string) {
	b.t.Helper()
	b.do("open the page", 15*time.Second, chromedp.Navigate(h.stack.URL+"/"))
	b.do("wait for the demo sign-in", 10*time.Second, chromedp.WaitVisible(chromedp.ID("dev-signin-button")))
	opt := eval[string](b, fmt.Sprintf(`[...document.querySelectorAll("#dev-user option")].find((o) => o.textContent.includes(%s))?.value ?? ""`, strconv.Quote(label)))
	if opt == "" {
		b.fatalf("no demo user %q among the options of #dev-user", label)
	}
	b.do("sign in as "+label, 10*time.Second,
		chromedp.SetValue(chromedp.ID("dev-user"), opt),
		chromedp.Click(chromedp.ID("dev-signin-button")),
		chromedp.WaitVisible(chromedp.ID("create-form")),
	)
	waitFor[bool](b, "#ws-state to say Connected", 10*time.Second, `document.getElementById("ws-state").dataset.state === "connected"`)
}

// demoTokens reads the demo users' tokens from the stack, by user id.
func (h *harness) demoTokens() map[string]string {
	h.t.Helper()
	var out struct {
		Users []struct {
			UserID string   `json:"userId"`
			Token  string   `json:"token"`
			Groups []string `json:"groups"`
		} `json:"users"`
	}
	if code := h.api(http.MethodGet, "/api/dev/users", "", &out); code != http.StatusOK {
		h.t.Fatalf("GET /api/dev/users: %d", code)
	}
	tokens := map[string]string{}
	for _, u := range out.Users {
		tokens[u.UserID] = u.Token
	}
	return tokens
}

// api calls the stack's HTTP API with token (none if empty), decodes a
// JSON answer into out (when not nil) and returns the status.
func (h *harness) api(method, path, token string, out any) int {
	h.t.Helper()
	return h.apiBody(method, path, token, "", out)
}

// apiBody is api with a JSON body.
func (h *harness) apiBody(method, path, token, body string, out any) int {
	h.t.Helper()
	req, err := http.NewRequest(method, h.stack.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if out != nil && len(answer) > 0 {
		if err := json.Unmarshal(answer, out); err != nil {
			h.t.Fatalf("%s %s: %d, not JSON: %q", method, path, resp.StatusCode, answer)
		}
	}
	return resp.StatusCode
}

// opItemExpr is a JavaScript expression for one generation's li in the
// operator list.
func opItemExpr(id string) string {
	return fmt.Sprintf(`document.querySelector('ol#op-generations > li.op-gen[data-generation-id=%s]')`, strconv.Quote(id))
}

// opQueueExpr is a JavaScript expression for one tier's row of the queues table.
func opQueueExpr(tier string) string {
	return fmt.Sprintf(`document.querySelector('#op-queues tbody tr[data-tier=%s]')`, strconv.Quote(tier))
}

// statsCell is a JavaScript expression for the number a tier's row of the
// stats table shows for key (NaN while it shows none).
func statsCell(tier, key string) string {
	return fmt.Sprintf(`Number(document.querySelector('#stats-by-tier tbody tr[data-tier=%s] td[data-count=%s]')?.textContent)`,
		strconv.Quote(tier), strconv.Quote(key))
}

// setFilters picks the operator list's status and tier filters ("" for
// any) and applies them.
func setFilters(b *browser, status, tier string) {
	b.t.Helper()
	ok := eval[bool](b, fmt.Sprintf(`(() => {
		const pick = (id, v) => {
			const sel = document.getElementById(id);
			const i = [...sel.options].findIndex((o) => o.value === v);
			if (i < 0) return false;
			sel.selectedIndex = i;
			return true;
		};
		return pick("op-status", %s) && pick("op-tier", %s);
	})()`, strconv.Quote(status), strconv.Quote(tier)))
	if !ok {
		b.fatalf("the operator filters have no option status %q or tier %q", status, tier)
	}
	b.do(fmt.Sprintf("apply the filters status %q, tier %q", status, tier), 10*time.Second, chromedp.Click(chromedp.ID("op-filter-apply")))
}

// checkTraffic fails the test if b talked to another host, got an error
// response it was not expected to get, or logged an error.
func (b *browser) checkTraffic(allowed func(response string) bool) {
	b.t.Helper()
	urls, _, _, responses, _, _, errs := b.rec.snapshot()
	for _, u := range urls {
		if !b.onStackHost(u) {
			b.errorf("tab %q made a request to another host: %s", b.name, u)
		}
	}
	for _, r := range responses {
		if allowed != nil && allowed(r) {
			continue
		}
		b.errorf("tab %q got an error response: %s", b.name, r)
	}
	if len(errs) > 0 {
		b.errorf("tab %q logged errors: %v", b.name, errs)
	}
}

// TestBrowserOperatorView drives the operator view as the demo admin,
// with a FREE demo user in a second tab: pausing a tier holds its songs
// back and resuming lets them finish; a failed song is retried from the
// view until it completes; a non-admin never sees the view, and a 403
// hides it; the queue stats are the operator's (the view's refresh keeps
// them current) and no user's; Remove, confirmed, takes a finished song
// out of its owner's history.
func TestBrowserOperatorView(t *testing.T) {
	h := startHarness(t, func(cfg *devstack.Config) {
		// A resume shows within this; the default (10 s) is for real queues.
		cfg.Pipeline.PauseRecheck = 300 * time.Millisecond
	})
	tokens := h.demoTokens()
	if tokens["demo-admin"] == "" || tokens["demo-free"] == "" {
		t.Fatalf("the stack has no demo-admin or demo-free: %v", tokens)
	}

	// 1. The admin signs in and sees the operator view.
	admin := h.first
	admin.name = "admin"
	h.signIn(admin, "demo-admin")
	waitFor[bool](admin, "the operator view to be shown", 10*time.Second,
		`!document.getElementById("operator").hidden && !document.getElementById("operator-link").hidden`)
	waitFor[bool](admin, "the queues table to list the four tiers, all running", 10*time.Second, `(() => {
		const rows = [...document.querySelectorAll("#op-queues tbody tr")];
		return rows.map((r) => r.dataset.tier).join() === "ENTERPRISE,PREMIUM,PRO,FREE" &&
			rows.every((r) => r.dataset.paused === "false" && r.querySelector(".op-queue-state").textContent === "Running" &&
				r.querySelector("button.op-pause").textContent === "Pause");
	})()`)
	waitFor[bool](admin, "the dead letters section to say there are none", 10*time.Second,
		`!document.getElementById("op-deadletters-empty").hidden && document.getElementById("op-deadletters").childElementCount === 0`)

	// 2. Pause FREE.
	admin.do("pause FREE", 10*time.Second, chromedp.Click(chromedp.CSS(`#op-queues tbody tr[data-tier="FREE"] button.op-pause`)))
	waitFor[bool](admin, "the FREE row to say Paused with a Resume button", 10*time.Second, opQueueExpr("FREE")+`?.dataset.paused === "true" && `+
		opQueueExpr("FREE")+`.querySelector(".op-queue-state").textContent === "Paused" && `+
		opQueueExpr("FREE")+`.querySelector("button.op-pause").textContent === "Resume"`)
	var queues struct {
		Queues map[string]struct{ Paused bool } `json:"queues"`
	}
	if code := h.api(http.MethodGet, "/api/admin/queues", tokens["demo-admin"], &queues); code != http.StatusOK || !queues.Queues["FREE"].Paused || queues.Queues["PRO"].Paused {
		admin.fatalf("after Pause the API says %d %+v, want FREE (only) paused", code, queues)
	}

	// 3. A FREE user, in a tab of their own, sees no operator view and
	// asks no operator route.
	free := h.newTab("free")
	h.signIn(free, "demo-free")
	if shown := eval[bool](free, `!document.getElementById("operator").hidden || !document.getElementById("operator-link").hidden || document.querySelector("#op-queues tbody tr") !== null || document.getElementById("queue-stats").getClientRects().length > 0`); shown {
		free.fatalf("a FREE user sees the operator view or the queue stats")
	}

	// They create a song; it stays queued while FREE is paused. The
	// admin's stats panel (operators' data, in the operator view) counts
	// it at the view's next refresh (every 5 s).
	waitFor[bool](admin, "the stats panel to show the FREE row", 10*time.Second, `!Number.isNaN(`+statsCell("FREE", "completed")+`)`)
	statsBefore := eval[map[string]float64](admin, `({waiting: `+statsCell("FREE", "waiting")+`, delayed: `+statsCell("FREE", "delayed")+`, held: `+statsCell("FREE", "held")+`, completed: `+statsCell("FREE", "completed")+`, failed: `+statsCell("FREE", "failed")+`})`)
	const pausedPrompt = "A patient song for a paused queue"
	free.do("submit a FREE song", 10*time.Second,
		chromedp.SendKeys(chromedp.ID("prompt"), pausedPrompt),
		chromedp.Click(chromedp.ID("create-submit")),
	)
	pausedID := waitFor[string](free, "the FREE song to be listed", 10*time.Second,
		`document.querySelector("ol#generations > li.gen-item")?.dataset.generationId`)
	createdAt := time.Now()
	waitFor[bool](admin, "the stats panel to count the new FREE song as held (its tier is paused)", 7*time.Second, fmt.Sprintf(
		`%s === %v && %s + %s === %v`, statsCell("FREE", "held"), statsBefore["held"]+1,
		statsCell("FREE", "waiting"), statsCell("FREE", "delayed"), statsBefore["waiting"]+statsBefore["delayed"]))
	t.Logf("stats counted the new song %s after the create", time.Since(createdAt).Round(time.Millisecond))
	if it := free.item(pausedID); it.Status != "pending" || it.CancelHidden {
		free.fatalf("the new song on a paused tier shows %+v, want pending with Cancel", it)
	}
	if hidden := eval[bool](free, itemExpr(pausedID)+`.querySelector("button.gen-remove").hidden`); !hidden {
		free.errorf("a pending song shows a Remove button")
	}
	// A waiting person reads why it waits (its tier is paused) and its
	// place in line, with no estimate while it is held (nothing else of
	// FREE waits: first in line; the sweeper's notice brings the place).
	waitFor[bool](free, "the song to say its plan is paused", 10*time.Second,
		itemExpr(pausedID)+`?.querySelector("p.gen-message")?.textContent.includes("paused")`)
	waitFor[bool](free, "the held song's place in line", 15*time.Second,
		itemExpr(pausedID)+`?.querySelector("p.gen-place:not([hidden])")?.textContent === "#1 in line"`)

	// The admin finds it in the operator list, pending; it stays pending
	// well past the time an unpaused song takes to finish (about 3 s).
	setFilters(admin, "", "FREE")
	waitFor[bool](admin, "the paused song in the operator list", 10*time.Second, fmt.Sprintf(
		`%s?.dataset.status === "pending" && %[1]s.dataset.userId === "demo-free" && %[1]s.querySelector(".op-gen-title").textContent === %s`,
		opItemExpr(pausedID), strconv.Quote(pausedPrompt)))
	time.Sleep(time.Until(createdAt.Add(4 * time.Second)))
	admin.do("refresh the operator view", 5*time.Second, chromedp.Click(chromedp.ID("op-refresh")))
	time.Sleep(500 * time.Millisecond)
	if st := eval[string](admin, opItemExpr(pausedID)+`?.dataset.status ?? ""`); st != "pending" {
		admin.fatalf("4 s after its create, the song of the paused tier is %q in the operator list, want pending", st)
	}
	var status struct {
		Status   string `json:"status"`
		Attempts int    `json:"attempts"`
	}
	if code := h.api(http.MethodGet, "/api/generation/status/"+pausedID, tokens["demo-free"], &status); code != http.StatusOK || status.Status != "pending" || status.Attempts != 0 {
		admin.fatalf("while FREE is paused the API says %d %+v, want pending with no attempt", code, status)
	}
	if it := free.item(pausedID); it.Status != "pending" {
		free.fatalf("while FREE is paused its owner sees %+v", it)
	}
	admin.screenshot("operator-01-free-paused")

	// 4. Resume FREE: the song is made, and the operator's stats panel
	// counts it at the view's next refresh, not at the 30 s poll.
	admin.do("resume FREE", 10*time.Second, chromedp.Click(chromedp.CSS(`#op-queues tbody tr[data-tier="FREE"] button.op-pause`)))
	waitFor[bool](admin, "the FREE row to say Running again", 10*time.Second,
		opQueueExpr("FREE")+`?.dataset.paused === "false" && `+opQueueExpr("FREE")+`.querySelector("button.op-pause").textContent === "Pause"`)
	waitFor[bool](free, "the song to complete after the resume", 20*time.Second, itemExpr(pausedID)+`?.dataset.status === "completed"`)
	doneAt := time.Now()
	waitFor[bool](admin, "the stats panel to count the completed FREE song", 7*time.Second, fmt.Sprintf(`%s === %v`, statsCell("FREE", "completed"), statsBefore["completed"]+1))
	t.Logf("stats counted the completed song %s after its event", time.Since(doneAt).Round(time.Millisecond))
	waitFor[bool](admin, "the operator list to show the song completed", 10*time.Second, opItemExpr(pausedID)+`?.dataset.status === "completed"`)

	// 5. A song that fails its three attempts; the admin retries it from
	// the operator view until it completes, and its owner sees it move.
	failPrompt := fmt.Sprintf("A song that fails three times [fake:fail=3] %d", time.Now().UnixNano())
	free.do("submit a song that fails", 10*time.Second,
		chromedp.SendKeys(chromedp.ID("prompt"), failPrompt),
		chromedp.Click(chromedp.ID("create-submit")),
	)
	failID := waitFor[string](free, "the failing song to be listed", 10*time.Second, fmt.Sprintf(
		`(() => { const id = document.querySelector("ol#generations > li.gen-item")?.dataset.generationId; return id !== %s && id; })()`, strconv.Quote(pausedID)))
	waitFor[bool](free, "the song to fail", 20*time.Second, itemExpr(failID)+`?.dataset.status === "failed"`)
	failedAt := time.Now()
	if it := free.item(failID); it.StatusText != "Failed" || it.Error == "" {
		free.errorf("the failed song shows %+v, want Failed with an error", it)
	}
	waitFor[bool](admin, "the stats panel to count the failed FREE song", 7*time.Second, fmt.Sprintf(`%s === %v`, statsCell("FREE", "failed"), statsBefore["failed"]+1))
	t.Logf("stats counted the failed song %s after its event", time.Since(failedAt).Round(time.Millisecond))

	setFilters(admin, "failed", "")
	waitFor[bool](admin, "the failed song with a Retry button in the operator list", 10*time.Second, fmt.Sprintf(
		`%s?.dataset.status === "failed" && !%[1]s.querySelector("button.op-retry").hidden && %[1]s.querySelector(".op-gen-error").textContent !== ""`, opItemExpr(failID)))
	if n := eval[int](admin, `[...document.querySelectorAll("ol#op-generations > li.op-gen")].filter((li) => li.dataset.status !== "failed").length`); n != 0 {
		admin.errorf("the status filter 'failed' lists %d songs that are not failed", n)
	}
	if n := eval[int](admin, `[...document.querySelectorAll("ol#op-generations > li.op-gen")].filter((li) => li.dataset.status !== "failed" && !li.querySelector("button.op-retry").hidden).length`); n != 0 {
		admin.errorf("%d songs that are not failed show a Retry button", n)
	}
	setFilters(admin, "", "FREE") // so the song stays listed as it moves
	retries := 0
	for {
		waitFor[bool](admin, "the song's Retry button", 10*time.Second, opItemExpr(failID)+`?.dataset.status === "failed" && !`+opItemExpr(failID)+`.querySelector("button.op-retry").hidden`)
		retries++
		eval[bool](admin, `(document.getElementById("op-message").textContent = "", true)`) // so the answer below is this retry's
		admin.do("retry the failed song", 10*time.Second, chromedp.Click(chromedp.CSS(fmt.Sprintf(`li.op-gen[data-generation-id=%s] button.op-retry`, strconv.Quote(failID)))))
		waitFor[bool](admin, "the retry to be answered", 10*time.Second, `document.getElementById("op-message").textContent.includes("is queued again")`)
		end := waitFor[string](admin, "the retried song to finish", 25*time.Second, fmt.Sprintf(
			`(() => { const st = %s?.dataset.status; return (st === "completed" || st === "failed") && st; })()`, opItemExpr(failID)))
		if end == "completed" {
			break
		}
		if retries == 3 {
			admin.fatalf("the song still failed after %d retries", retries)
		}
	}
	t.Logf("the failed song completed after %d retry(s) from the operator view", retries)
	waitFor[bool](free, "the owner to see the retried song complete", 10*time.Second, itemExpr(failID)+`?.dataset.status === "completed"`)
	if it := free.item(failID); it.Error != "" || len(it.Audio) == 0 {
		free.errorf("after the retry its owner sees %+v, want Completed with audio and no error", it)
	}
	if a := eval[string](admin, opItemExpr(failID)+`.querySelector(".op-gen-attempts").textContent`); a == "" || a == "0" {
		admin.errorf("the retried song shows %q attempts in the operator list", a)
	}
	admin.screenshot("operator-02-after-retry")

	// 6. Remove the first song from its owner's history.
	waitFor[bool](free, "the completed song's Remove button", 5*time.Second,
		itemExpr(pausedID)+`?.querySelector("button.gen-remove")?.getClientRects().length > 0`)
	free.do("remove the completed song", 10*time.Second,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`li.gen-item[data-generation-id=%s] button.gen-remove`, strconv.Quote(pausedID)))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`li.gen-item[data-generation-id=%s] button.gen-confirm-yes`, strconv.Quote(pausedID)))))
	waitFor[bool](free, "the removed song to leave the list", 10*time.Second, itemExpr(pausedID)+` === null`)
	waitFor[bool](free, "the removal to be announced", 5*time.Second,
		`document.getElementById("announcer").innerText.includes("Song '`+pausedPrompt+`' removed from your list.")`)
	if code := h.api(http.MethodGet, "/api/generation/status/"+pausedID, tokens["demo-free"], nil); code != http.StatusNotFound {
		free.errorf("GET status of the removed song: %d, want 404", code)
	}
	free.do("reload the FREE tab", 15*time.Second, chromedp.Reload())
	waitFor[bool](free, "the list after the reload", 10*time.Second, itemExpr(failID)+`?.dataset.status === "completed"`)
	if ids := eval[[]string](free, `[...document.querySelectorAll("ol#generations > li.gen-item")].map((li) => li.dataset.generationId)`); len(ids) != 1 || ids[0] != failID {
		free.errorf("after the reload the FREE list is %v, want only %s", ids, failID)
	}

	// 7. With no dead letters, there is nothing to redrive.
	if on := eval[bool](admin, `!document.getElementById("op-redrive-all").disabled || [...document.querySelectorAll("#op-queues button.op-redrive")].some((b) => !b.disabled)`); on {
		admin.errorf("a Redrive button is enabled with no dead letters")
	}

	// 7b. A bulk cancel from the operator view: FREE paused, the FREE user
	// queues two songs; the operator filters on them, is told how many
	// before anything changes, confirms, and both are cancelled.
	if code := h.api(http.MethodPost, "/api/admin/queues/free/pause", tokens["demo-admin"], nil); code != http.StatusOK {
		admin.fatalf("pause FREE: %d", code)
	}
	var queued []string
	for i := range 2 {
		var res struct{ GenerationID string }
		if code := h.apiBody(http.MethodPost, "/api/generation/create", tokens["demo-free"], fmt.Sprintf(`{"prompt":"queued for a bulk cancel %d"}`, i), &res); code != http.StatusAccepted {
			admin.fatalf("create: %d", code)
		}
		queued = append(queued, res.GenerationID)
	}
	setFilters(admin, "pending", "FREE")
	admin.do("filter on the FREE user", 10*time.Second, chromedp.SetValue(chromedp.ID("op-user"), "demo-free"))
	admin.do("ask to cancel all matching", 10*time.Second, chromedp.Click(chromedp.ID("op-bulk-cancel")))
	confirm := waitFor[string](admin, "the count before the cancel", 10*time.Second,
		`(() => { const b = document.getElementById("op-bulk-confirm"); return !b.hidden && b.textContent; })()`)
	if confirm != "Cancel 2" {
		admin.errorf("the confirmation reads %q; want \"Cancel 2\"", confirm)
	}
	for _, id := range queued {
		var st struct{ Status string }
		if h.api(http.MethodGet, "/api/generation/status/"+id, tokens["demo-free"], &st); st.Status != "pending" {
			admin.errorf("before the confirmation song %s is %s; a dry run must change nothing", id, st.Status)
		}
	}
	admin.do("confirm the bulk cancel", 10*time.Second, chromedp.Click(chromedp.ID("op-bulk-confirm")))
	waitFor[bool](admin, "the bulk cancel to finish", 20*time.Second, `document.getElementById("op-bulk-message").textContent === "Cancelled 2 of 2 songs."`)
	for _, id := range queued {
		var st struct{ Status string }
		if h.api(http.MethodGet, "/api/generation/status/"+id, tokens["demo-free"], &st); st.Status != "cancelled" {
			admin.errorf("after the bulk cancel song %s is %s", id, st.Status)
		}
	}
	admin.screenshot("operator-03-bulk-cancel")
	if code := h.api(http.MethodPost, "/api/admin/queues/free/resume", tokens["demo-admin"], nil); code != http.StatusOK {
		admin.fatalf("resume FREE: %d", code)
	}

	// 8. Phone width: the operator view does not scroll sideways.
	admin.do("emulate a phone", 10*time.Second, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(1)))
	waitFor[bool](admin, "the layout to take the phone width", 5*time.Second, `window.innerWidth === 390`)
	widths := eval[map[string]float64](admin, `({scroll: document.documentElement.scrollWidth, inner: window.innerWidth, body: document.body.scrollWidth})`)
	if widths["scroll"] > widths["inner"] || widths["body"] > widths["inner"] {
		wide := eval[[]string](admin, `[...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5).slice(0, 10).map((e) => e.tagName + (e.id ? "#" + e.id : "") + "." + e.className)`)
		admin.errorf("at 390 px the page scrolls sideways: %v; too wide: %v", widths, wide)
	}
	admin.do("scroll to the operator view", 5*time.Second, chromedp.ScrollIntoView(chromedp.ID("operator")))
	admin.screenshot("operator-03-phone")
	admin.do("reset the viewport", 5*time.Second, chromedp.ResetViewport())

	// 9. An admin route that answers 403 hides the view: a third tab signs
	// in as the admin, and the browser answers every operator route 403.
	denied := h.newTab("denied")
	intercepted := make(chan string, 16)
	paused := chromedp.Events(denied.ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			select {
			case intercepted <- ev.Request.Method + " " + ev.Request.URL:
			default:
			}
			ctx, cancel := context.WithTimeout(denied.ctx, 5*time.Second)
			_, _ = chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
				RequestID:       ev.RequestID,
				ResponseCode:    http.StatusForbidden,
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}},
				Body:            []byte(`{"error":{"code":"forbidden","message":"not an operator (test)"}}`),
			})
			cancel()
		}
	}()
	if _, err := chromedp.Call(denied.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/api/admin/*"}}}); err != nil {
		t.Fatalf("enable request interception: %v", err)
	}
	h.signIn(denied, "demo-admin")
	select {
	case r := <-intercepted:
		t.Logf("answered 403 to %s", r)
	case <-time.After(10 * time.Second):
		denied.fatalf("the admin's page asked no operator route in 10 s")
	}
	waitFor[bool](denied, "the operator view to hide after a 403", 5*time.Second,
		`document.getElementById("operator").hidden && document.getElementById("operator-link").hidden && document.getElementById("announcer").innerText.includes("operator view is hidden")`)
	time.Sleep(300 * time.Millisecond)
	if shown := eval[bool](denied, `!document.getElementById("operator").hidden`); shown {
		denied.errorf("the operator view came back after a 403")
	}

	// 10. Every tab talked to the stack only, and the free tab never asked
	// an operator route.
	admin.checkTraffic(nil)
	free.checkTraffic(nil)
	denied.checkTraffic(func(r string) bool { return strings.HasPrefix(r, "403 ") && strings.Contains(r, "/api/admin/") })
	_, requests, _, _, _, _, _ := free.rec.snapshot()
	for _, r := range requests {
		if strings.Contains(r, "/api/admin/") {
			free.errorf("the FREE user's page asked an operator route: %s", r)
		}
	}
	t.Logf("took %s", time.Since(h.started).Round(time.Millisecond))
	if t.Failed() {
		admin.dump()
	}
}
