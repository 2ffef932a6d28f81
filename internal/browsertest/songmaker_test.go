package browsertest

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/songqueue/songqueue/internal/devstack"
)

// TestBrowserSongMaker is a song maker's visit (issue 23), at a desktop
// and a phone width, each as its own user in its own tab: the form and
// the newest songs come first; a song plays from Suno's stream before it
// is done and goes on from the same second on the kept copy; a cancel and
// a remove are confirmed first; a failed song says what happened in plain
// words and offers "Try again" only where it can help; a song held while
// the fake Suno is down for maintenance, and one of a paused tier, say why
// they wait; the "Your plan" card shows the server's counts (GET
// /api/quota), asked when a song is created or ends, never on a timer; no
// operators' data; no console error or failed request; and axe-core finds
// no serious or critical accessibility violation.
func TestBrowserSongMaker(t *testing.T) {
	axe := axeSource(t)
	h := startHarness(t, func(cfg *devstack.Config) {
		// Suno's breaker probes soon after the fake's maintenance ends.
		cfg.Pipeline.Health.ProbeFirst, cfg.Pipeline.Health.ProbeMax = 200*time.Millisecond, time.Second
	})
	tokens := h.demoTokens()
	for _, v := range []struct {
		width, height int
		user, tier    string
	}{
		{1280, 900, "demo-pro", "PRO"},
		{390, 844, "demo-enterprise", "ENTERPRISE"},
	} {
		b := h.first
		if v.width != 1280 {
			b = h.newTab(strconv.Itoa(v.width))
		}
		b.name = strconv.Itoa(v.width)
		start := time.Now()
		songMaker(h, b, axe, tokens, v.width, v.height, v.user, v.tier)
		t.Logf("at %d px: %s", v.width, time.Since(start).Round(time.Millisecond))
	}
}

func songMaker(h *harness, b *browser, axe string, tokens map[string]string, width, height int, user, tier string) {
	t := h.t
	at := fmt.Sprintf("at %d px: ", width)
	b.do(at+"set the window size", 10*time.Second, chromedp.EmulateViewport(int64(width), int64(height), chromedp.EmulateScale(1)))
	h.signIn(b, user+" (")
	token := tokens[user]
	h.planShows(b, at+"after sign-in: ", token, 0, 0)

	// 1. The form first, then the songs, with nothing between; nothing
	// scrolls sideways.
	layout := eval[map[string]float64](b, `(() => {
		const r = (id) => document.getElementById(id).getBoundingClientRect();
		return {createTop: r("create").top, createBottom: r("create").bottom, songsTop: r("songs").top,
			header: document.querySelector("header").getBoundingClientRect().bottom,
			scroll: document.documentElement.scrollWidth, inner: window.innerWidth};
	})()`)
	if layout["scroll"] > layout["inner"] {
		b.errorf("%sthe page scrolls sideways: %v", at, layout)
	}
	if layout["createTop"] > layout["header"]+24 {
		b.errorf("%ssomething comes between the header and the form: %v", at, layout)
	}
	if width < 900 && (layout["songsTop"] < layout["createBottom"] || layout["songsTop"] > layout["createBottom"]+24) {
		b.errorf("%sthe songs do not come right after the form: %v", at, layout)
	}

	// 2. A song heard before it is done: the player streams from Suno at
	// 70 %, and when the song completes it goes on from the same second on
	// the kept copy. The page keeps, every 50 ms, what the first player
	// does, so that the switch can be checked afterwards.
	streamed := create(b, at, "A song to hear while it is made [fake:slow=6s]")
	li := itemExpr(streamed)
	h.planShows(b, at+"while the first song is made: ", token, 1, 1)
	eval[bool](b, `(() => {
		window.__audio = [];
		const li = `+li+`;
		setInterval(() => {
			const a = li.querySelector("audio.gen-audio");
			if (a) window.__audio.push({src: a.src, source: a.dataset.source, t: a.currentTime, paused: a.paused, status: li.dataset.status});
		}, 50);
		return true;
	})()`)
	src := waitFor[string](b, at+"a player on Suno's stream", 15*time.Second, `(() => {
		const a = `+li+`?.querySelector("audio.gen-audio");
		return a && a.dataset.source === "stream" && `+li+`.dataset.status === "processing" && a.src;
	})()`)
	if !strings.Contains(src, "/fake-audio/stream/") || !b.onStackHost(src) {
		b.errorf("%sthe player's source before completion is %s, want the fake Suno's stream", at, src)
	}
	// A person presses play (muted here, which needs no click, and at half
	// speed, so the 6 s track lasts past the switch).
	eval[bool](b, `(() => { const a = `+li+`.querySelector("audio.gen-audio"); a.muted = true; a.playbackRate = 0.5; a.play(); return true; })()`)
	heard := waitFor[map[string]any](b, at+"the stream to play before the song is done", 10*time.Second, `(() => {
		const a = `+li+`.querySelector("audio.gen-audio");
		return !a.paused && !a.error && a.currentTime > 0.2 && {t: a.currentTime, status: `+li+`.dataset.status, progress: `+li+`.querySelector("progress").value};
	})()`)
	if heard["status"] != "processing" {
		b.errorf("%sthe stream played only once the song was %v", at, heard["status"])
	}
	t.Logf("%sheard the stream at %.2f s while the song was at %v %%", at, heard["t"], heard["progress"])
	final := waitFor[string](b, at+"the player to switch to the kept copy and play on", 20*time.Second, `(() => {
		const a = `+li+`.querySelector("audio.gen-audio");
		return `+li+`.dataset.status === "completed" && a.dataset.source === "final" && a.readyState >= 1 && !a.paused && a.currentTime > 0 &&
			window.__audio.some((s) => s.source === "final" && s.t > 0) && a.src;
	})()`)
	if !strings.Contains(final, "/media/") || !b.onStackHost(final) {
		b.errorf("%safter completion the player's source is %s, want the stack's kept copy (/media/...)", at, final)
	}
	h.planShows(b, at+"once the first song is done: ", token, 0, 1)
	type sample struct {
		Src    string  `json:"src"`
		Source string  `json:"source"`
		T      float64 `json:"t"`
		Paused bool    `json:"paused"`
	}
	samples := eval[[]sample](b, `window.__audio`)
	var last, first float64 = -1, -1
	for _, s := range samples {
		switch {
		case s.Source == "stream" && !s.Paused:
			last = s.T
		case s.Source == "final" && s.T > 0 && first < 0:
			first = s.T
		}
	}
	if last <= 0 || first < last-0.1 {
		b.errorf("%sthe stream played to %.2f s, and the kept copy went on from %.2f s: the position was lost", at, last, first)
	}
	rate := eval[float64](b, li+`.querySelector("audio.gen-audio").playbackRate`)
	t.Logf("%sthe stream played to %.2f s; the kept copy went on from %.2f s at speed %v", at, last, first, rate)
	if rate != 0.5 {
		b.errorf("%sthe switch reset the speed to %v", at, rate)
	}
	eval[bool](b, `(() => { for (const a of document.querySelectorAll("audio")) a.pause(); return true; })()`)
	if w := eval[float64](b, li+`.querySelector("audio.gen-audio").getBoundingClientRect().width`); w < 0.6*float64(min(width, 700)) {
		b.errorf("%sthe player is %.0f px wide: too short a seek bar", at, w)
	}

	// 3. Cancel, confirmed; "Keep it" first, then Escape on Remove.
	slow := create(b, at, "A slow song to cancel [fake:slow=30s]")
	li = itemExpr(slow)
	waitFor[bool](b, at+"the slow song to run", 10*time.Second, li+`?.dataset.status === "processing"`)
	b.do(at+"press Cancel", 5*time.Second, chromedp.Click(cssIn(slow, "button.gen-cancel")))
	waitFor[bool](b, at+"the confirmation, with focus on Keep it", 5*time.Second,
		li+`.querySelector(".gen-confirm").getClientRects().length > 0 && document.activeElement === `+li+`.querySelector("button.gen-confirm-no")`)
	var st struct{ Status string }
	if h.api(http.MethodGet, "/api/generation/status/"+slow, tokens[user], &st); st.Status != "processing" {
		b.errorf("%sbefore its confirmation the cancel changed the song to %s", at, st.Status)
	}
	b.do(at+"keep it", 5*time.Second, chromedp.Click(cssIn(slow, "button.gen-confirm-no")))
	waitFor[bool](b, at+"the confirmation to close, focus back on Cancel", 5*time.Second,
		li+`.querySelector(".gen-confirm").hidden && document.activeElement === `+li+`.querySelector("button.gen-cancel")`)
	b.do(at+"cancel, confirmed", 10*time.Second,
		chromedp.Click(cssIn(slow, "button.gen-cancel")),
		chromedp.Click(cssIn(slow, "button.gen-confirm-yes")))
	waitFor[bool](b, at+"the song to be cancelled", 10*time.Second, li+`?.dataset.status === "cancelled"`)
	// Cancelled while Suno made it, it keeps its slot until Suno's time for
	// it is up (2 minutes here): the card counts it, as the create's check.
	h.planShows(b, at+"after cancelling a song at Suno: ", token, 1, 2)
	if shown := eval[bool](b, li+`.querySelector(".gen-progress-row").getClientRects().length > 0`); shown {
		b.errorf("%sa cancelled song still shows a progress bar", at)
	}
	b.do(at+"press Remove, then Escape", 5*time.Second, chromedp.Click(cssIn(slow, "button.gen-remove")))
	waitFor[bool](b, at+"the remove confirmation", 5*time.Second, `document.activeElement === `+li+`.querySelector("button.gen-confirm-no")`)
	b.do(at+"Escape", 5*time.Second, chromedp.KeyEvent(kb.Escape))
	waitFor[bool](b, at+"Escape to keep the song, focus back on Remove", 5*time.Second,
		li+`.querySelector(".gen-confirm").hidden && document.activeElement === `+li+`.querySelector("button.gen-remove")`)
	b.do(at+"remove, confirmed", 10*time.Second,
		chromedp.Click(cssIn(slow, "button.gen-remove")),
		chromedp.Click(cssIn(slow, "button.gen-confirm-yes")))
	waitFor[bool](b, at+"the removed song to leave the list", 10*time.Second, li+` === null`)
	if code := h.api(http.MethodGet, "/api/generation/status/"+slow, tokens[user], nil); code != http.StatusNotFound {
		b.errorf("%sthe removed song answers %d, want 404", at, code)
	}

	// 4. A failed song (in custom mode, with a model of its own): what
	// happened in plain words, no bar, and "Try again", a new song of the
	// same request; a refused prompt gets no "Try again", since it would
	// only be refused again.
	failed := createCustom(b, at, "La la la, the service cannot make me [fake:audio-failed]", "lo-fi", "A song that fails", "V5")
	li = itemExpr(failed)
	waitFor[bool](b, at+"the song to fail", 20*time.Second, li+`?.dataset.status === "failed"`)
	type request struct{ Prompt, Style, Title, Model string }
	var api struct {
		request
		Error, ErrorCode string
	}
	h.api(http.MethodGet, "/api/generation/status/"+failed, tokens[user], &api)
	said := eval[map[string]any](b, `(() => { const li = `+li+`; return {error: li.querySelector(".gen-error").textContent,
		bar: li.querySelector(".gen-progress-row").getClientRects().length > 0,
		again: li.querySelector("button.gen-try-again").getClientRects().length > 0,
		opRetry: document.querySelector("button.op-retry") !== null}; })()`)
	text, _ := said["error"].(string)
	if text == "" || text == api.Error || strings.Contains(text, "://") || strings.Contains(text, "_") {
		b.errorf("%sthe failed song (%s: %q) says %q: want a plain sentence of the page's own", at, api.ErrorCode, api.Error, text)
	}
	if said["bar"] == true || said["again"] != true || said["opRetry"] == true {
		b.errorf("%sthe failed song shows %v: want no bar, a Try again button and no operator's Retry", at, said)
	}
	t.Logf("%sa song failed with %s; the page says %q", at, api.ErrorCode, text)
	b.do(at+"try again", 10*time.Second, chromedp.Click(cssIn(failed, "button.gen-try-again")))
	again := waitFor[string](b, at+"a new song at the top, with the focus", 10*time.Second, fmt.Sprintf(`(() => {
		const li = document.querySelector("ol#generations > li.gen-item");
		return li && li.dataset.generationId !== %s && li.contains(document.activeElement) && li.dataset.generationId;
	})()`, strconv.Quote(failed)))
	var retried request
	h.api(http.MethodGet, "/api/generation/status/"+again, tokens[user], &retried)
	if want := (request{"La la la, the service cannot make me [fake:audio-failed]", "lo-fi", "A song that fails", "V5"}); api.request != want || retried != want {
		b.errorf("%sTry again made %+v of %+v: want both %+v", at, retried, api.request, want)
	}
	refused := create(b, at, "A song with words the music service refuses [fake:sensitive]")
	waitFor[bool](b, at+"the refused song to fail", 20*time.Second, itemExpr(refused)+`?.dataset.status === "failed"`)
	if shown := eval[bool](b, itemExpr(refused)+`.querySelector("button.gen-try-again").getClientRects().length > 0`); shown {
		b.errorf("%sa refused prompt offers Try again", at)
	}
	refusal := eval[string](b, itemExpr(refused)+`.querySelector(".gen-error").textContent`)
	if !strings.Contains(refusal, "refused") {
		b.errorf("%sthe refused song says %q: want it to say the prompt was refused", at, refusal)
	}

	// 5. While the music service is down for maintenance a song waits and
	// says why; it goes ahead once the service is back.
	h.fakeTrouble("maintenance")
	down := create(b, at, "A song while the music service is down")
	waitFor[bool](b, at+"the song to say the music service is down", 15*time.Second,
		itemExpr(down)+`?.dataset.status === "pending" && `+itemExpr(down)+`.querySelector(".gen-message").textContent.includes("maintenance")`)
	t.Logf("%sheld by Suno's maintenance, the song says %q", at, eval[string](b, itemExpr(down)+`.querySelector(".gen-message").textContent`))
	h.fakeTrouble("ok")
	waitFor[bool](b, at+"the song to go ahead once the service is back", 20*time.Second, itemExpr(down)+`?.dataset.status !== "pending"`)

	// 6. A song of a paused tier says why it waits, and its place.
	if code := h.api(http.MethodPost, "/api/admin/queues/"+strings.ToLower(tier)+"/pause", tokens["demo-admin"], nil); code != http.StatusOK {
		b.fatalf("%spause %s: %d", at, tier, code)
	}
	held := create(b, at, "A patient song on a paused plan")
	waitFor[bool](b, at+"the held song to say its plan is paused", 10*time.Second,
		itemExpr(held)+`?.querySelector(".gen-message").textContent.includes("paused")`)
	heldAt := time.Now()
	place := waitFor[string](b, at+"the held song's place in line", 15*time.Second,
		`(() => { const p = `+itemExpr(held)+`?.querySelector(".gen-place:not([hidden])")?.textContent ?? ""; return p.includes("in line") && p; })()`)
	t.Logf("%sthe held song says %q and %q (%s after its hold)", at,
		eval[string](b, itemExpr(held)+`.querySelector(".gen-message").textContent`), place, time.Since(heldAt).Round(time.Millisecond))
	// Seven songs created; in progress whatever the server counts (the
	// held song, songs still being made, the cancelled one's slot while
	// Suno's time for it lasts), which the page must show.
	h.planShows(b, at+"with a song held: ", token, -1, 7)

	// 7. The page as it is now (held, failed, completed songs) is what
	// the screenshot shows and axe checks.
	eval[bool](b, `(window.scrollTo(0, 0), true)`)
	if top := eval[float64](b, `document.querySelector("ol#generations > li.gen-item").getBoundingClientRect().top`); top > float64(height) {
		b.errorf("%sthe newest song starts %.0f px down, below the first screen (%d px)", at, top, height)
	}
	b.screenshot(fmt.Sprintf("song-maker-%d", width))
	checkAccessibility(b, axe, at)
	if code := h.api(http.MethodPost, "/api/admin/queues/"+strings.ToLower(tier)+"/resume", tokens["demo-admin"], nil); code != http.StatusOK {
		b.fatalf("%sresume %s: %d", at, tier, code)
	}

	// 8. No operators' data, no console error, no failed request.
	if shown := eval[bool](b, `document.getElementById("operator").getClientRects().length > 0 || document.getElementById("queue-stats").getClientRects().length > 0`); shown {
		b.errorf("%sa user sees operators' data", at)
	}
	_, requests, _, responses, failedLoads, _, errs := b.rec.snapshot()
	if len(requests) < 10 {
		b.errorf("%sthe recorder saw only %d requests: %v", at, len(requests), requests)
	}
	asked := 0
	for _, r := range requests {
		if strings.Contains(r, "/api/queue/stats") || strings.Contains(r, "/api/admin/") {
			b.errorf("%sa user's page asked for operators' data: %s", at, r)
		}
		if strings.Contains(r, "/api/quota") {
			asked++
		}
	}
	// Sign-in, and each of the seven creates and their ends (a cancel is
	// answered, then pushed): at most about twice each, never a poll.
	t.Logf("%sthe page asked for the plan's counts %d times", at, asked)
	if asked > 32 {
		b.errorf("%sthe page asked for the plan's counts %d times: it polls", at, asked)
	}
	for _, r := range responses {
		b.errorf("%san error response: %s", at, r)
	}
	for _, f := range failedLoads {
		// A player that moves to another source cancels what it was
		// loading: not a failure.
		if strings.HasPrefix(f, "Media ") && strings.HasSuffix(f, "(canceled=true)") {
			continue
		}
		b.errorf("%sa failed request: %s", at, f)
	}
	if len(errs) > 0 {
		b.errorf("%sconsole errors: %v", at, errs)
	}
}

// planShows waits until the "Your plan" card shows what GET /api/quota
// answers for token, in the page's words ("2 of 10 songs in progress",
// "5 of 200 songs today", "Songs today: no limit"), and the server counts
// open songs in progress (any, when open is negative) and today songs
// made today.
func (h *harness) planShows(b *browser, at, token string, open, today int) {
	b.t.Helper()
	type limit struct {
		Used, Limit *int
	}
	var q struct {
		Tier        string
		Open, Daily limit
	}
	words := func(l limit, what string) string {
		if l.Limit == nil || l.Used == nil {
			return "Songs " + what + ": no limit"
		}
		return fmt.Sprintf("%d of %d songs %s", *l.Used, *l.Limit, what)
	}
	var page map[string]string
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code := h.api(http.MethodGet, "/api/quota", token, &q); code != http.StatusOK {
			b.fatalf("%sGET /api/quota: %d", at, code)
		}
		counted := (open < 0 || q.Open.Used == nil || *q.Open.Used == open) && (q.Daily.Used == nil || *q.Daily.Used == today)
		want := map[string]string{"open": words(q.Open, "in progress"), "today": words(q.Daily, "today")}
		page = eval[map[string]string](b, `({open: document.getElementById("quota-open").textContent,
			today: document.getElementById("quota-today").textContent})`)
		if counted && page["open"] == want["open"] && page["today"] == want["today"] {
			b.t.Logf("%sthe plan card says %q and %q", at, page["open"], page["today"])
			return
		}
		if time.Now().After(deadline) {
			b.errorf("%sthe plan card says %q and %q; GET /api/quota answers %s open %s, daily %s (want %d open, %d today): want the page to show the server's counts",
				at, page["open"], page["today"], q.Tier, fmtLimit(q.Open.Used, q.Open.Limit), fmtLimit(q.Daily.Used, q.Daily.Limit), open, today)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func fmtLimit(used, limit *int) string {
	if used == nil || limit == nil {
		return "{}"
	}
	return fmt.Sprintf("%d of %d", *used, *limit)
}

// fakeTrouble puts the fake Suno into a trouble mode ("ok" ends it).
func (h *harness) fakeTrouble(mode string) {
	h.t.Helper()
	resp, err := http.Post(h.stack.URL+"/suno/_fake/trouble", "application/json", strings.NewReader(`{"mode":"`+mode+`"}`))
	if err != nil {
		h.t.Fatalf("fake Suno trouble %s: %v", mode, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("fake Suno trouble %s: %d", mode, resp.StatusCode)
	}
}

// create submits a song from the form and returns its id once it is at
// the top of the list.
func create(b *browser, at, prompt string) string {
	b.t.Helper()
	before := eval[string](b, `document.querySelector("ol#generations > li.gen-item")?.dataset.generationId ?? ""`)
	eval[bool](b, `(document.getElementById("prompt").value = "", true)`)
	b.do(at+"create "+prompt, 10*time.Second,
		chromedp.SendKeys(chromedp.ID("prompt"), prompt),
		chromedp.Click(chromedp.ID("create-submit")))
	return waitFor[string](b, at+"the new song at the top", 10*time.Second, fmt.Sprintf(`(() => {
		const li = document.querySelector("ol#generations > li.gen-item");
		return li && li.dataset.generationId !== %s && li.querySelector(".gen-title").textContent === %s && li.dataset.generationId;
	})()`, strconv.Quote(before), strconv.Quote(prompt)))
}

// createCustom submits a song in custom mode and returns its id once it
// is at the top of the list; the form goes back to simple mode after.
func createCustom(b *browser, at, lyrics, style, title, model string) string {
	b.t.Helper()
	before := eval[string](b, `document.querySelector("ol#generations > li.gen-item")?.dataset.generationId ?? ""`)
	b.do(at+"create "+title+" in custom mode", 10*time.Second,
		chromedp.Click(chromedp.ID("custom-mode")),
		chromedp.SendKeys(chromedp.ID("prompt"), lyrics),
		chromedp.SendKeys(chromedp.ID("style"), style),
		chromedp.SendKeys(chromedp.ID("title"), title),
		chromedp.SetValue(chromedp.ID("model"), model),
		chromedp.Click(chromedp.ID("create-submit")))
	id := waitFor[string](b, at+"the new song at the top", 10*time.Second, fmt.Sprintf(`(() => {
		const li = document.querySelector("ol#generations > li.gen-item");
		return li && li.dataset.generationId !== %s && li.querySelector(".gen-title").textContent === %s && li.dataset.generationId;
	})()`, strconv.Quote(before), strconv.Quote(title)))
	b.do(at+"back to simple mode", 5*time.Second, chromedp.Click(chromedp.ID("custom-mode")))
	return id
}

// cssIn selects the first element matching sel inside one song's card.
func cssIn(id, sel string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`li.gen-item[data-generation-id=%s] %s`, strconv.Quote(id), sel))
}

// axeSource is axe-core's axe.min.js, which make fetches (scripts/axe.sh)
// into .build/axe/, or AXE_JS. Without it the accessibility check is
// skipped, and with CI set the test fails.
func axeSource(t *testing.T) string {
	t.Helper()
	p := os.Getenv("AXE_JS")
	if p == "" {
		p = filepath.Join(repoRoot(t), ".build", "axe", "axe.min.js")
	}
	src, err := os.ReadFile(p)
	if err != nil {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
			t.Fatalf("axe-core is missing (%v); run make axe (scripts/axe.sh) first", err)
		}
		t.Logf("axe-core is missing (%v): the accessibility check is skipped; make axe fetches it", err)
		return ""
	}
	return string(src)
}

// checkAccessibility runs axe-core in the page and fails on any serious or
// critical violation.
func checkAccessibility(b *browser, axe, at string) {
	b.t.Helper()
	if axe == "" {
		return
	}
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](axe+"\n;true")); err != nil {
		b.fatalf("%sload axe-core: %v", at, err)
	}
	type violation struct {
		ID     string   `json:"id"`
		Impact string   `json:"impact"`
		Help   string   `json:"help"`
		Nodes  []string `json:"nodes"`
	}
	res := evalAwait[struct {
		Violations []violation `json:"violations"`
		Passes     int         `json:"passes"`
	}](b, `axe.run(document).then((r) => ({passes: r.passes.length, violations: r.violations.map((v) => ({
		id: v.id, impact: v.impact ?? "", help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
	}))}))`)
	if res.Passes == 0 {
		b.errorf("%saxe passed no rule: it did not look at the page", at)
	}
	found := res.Violations
	var counted int
	for _, v := range found {
		if v.Impact == "serious" || v.Impact == "critical" {
			b.errorf("%saxe: %s (%s): %s, at %v", at, v.ID, v.Impact, v.Help, v.Nodes)
			continue
		}
		counted++
		b.t.Logf("%saxe (minor, not failed on): %s (%s): %s, at %v", at, v.ID, v.Impact, v.Help, v.Nodes)
	}
	b.t.Logf("%saxe: %d rules passed, %d violated (%d of them minor or moderate)", at, res.Passes, len(found), counted)
}
