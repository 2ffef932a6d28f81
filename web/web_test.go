package web

import (
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

func TestHandlerServesPage(t *testing.T) {
	for _, tc := range []struct{ path, contentType string }{
		{"/", "text/html"},
		{"/app.js", "text/javascript"},
		{"/style.css", "text/css"},
		// No config.json is embedded: the handler answers an empty one
		// rather than a 404 in every page load's console.
		{"/config.json", "application/json"},
	} {
		rec := httptest.NewRecorder()
		Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d", tc.path, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.contentType)
		}
		if rec.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: no Content-Security-Policy", tc.path)
		}
	}
}

// The page must load nothing from another host: no CDN, no web fonts.
func TestNoExternalResources(t *testing.T) {
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import`)
	err := fs.WalkDir(Files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(name, ".html") || strings.HasSuffix(name, ".css")) {
			return err
		}
		b, err := fs.ReadFile(Files, name)
		if err != nil {
			return err
		}
		if m := external.Find(b); m != nil {
			t.Errorf("%s refers to another host: %q", name, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Every module imported by another must exist, or the page breaks in the
// browser with nothing but a console error.
func TestModuleImportsResolve(t *testing.T) {
	imp := regexp.MustCompile(`(?m)^\s*import\s[^;]*?from\s+"([^"]+)"`)
	scripts, err := fs.Glob(Files, "*.js")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, name := range scripts {
		b, _ := fs.ReadFile(Files, name)
		for _, m := range imp.FindAllSubmatch(b, -1) {
			target := string(m[1])
			if !strings.HasPrefix(target, "./") {
				t.Errorf("%s imports %q: only relative imports of local files are allowed", name, target)
				continue
			}
			if _, err := fs.Stat(Files, path.Join(path.Dir(name), target)); err != nil {
				t.Errorf("%s imports %q, which does not exist", name, target)
			}
		}
	}
}

// The form's counters and checks must enforce what the API enforces.
func TestLimitsMatchDomain(t *testing.T) {
	src, err := fs.ReadFile(Files, "limits.js")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)

	models := regexp.MustCompile(`export const MODELS = \[([^\]]*)\]`).FindStringSubmatch(s)
	if models == nil {
		t.Fatal("MODELS not found in limits.js")
	}
	var jsModels []string
	for _, q := range strings.Split(models[1], ",") {
		if q = strings.TrimSpace(q); q != "" {
			jsModels = append(jsModels, strings.Trim(q, `"`))
		}
	}
	if !slices.Equal(jsModels, generation.Models) {
		t.Errorf("limits.js MODELS = %v, domain has %v", jsModels, generation.Models)
	}

	if m := regexp.MustCompile(`DEFAULT_MODEL = "([^"]+)"`).FindStringSubmatch(s); m == nil || m[1] != generation.DefaultModel {
		t.Errorf("limits.js DEFAULT_MODEL = %v, domain has %s", m, generation.DefaultModel)
	}
	if m := regexp.MustCompile(`NON_CUSTOM_PROMPT_LIMIT = (\d+)`).FindStringSubmatch(s); m == nil || m[1] != strconv.Itoa(generation.NonCustomPromptLimit) {
		t.Errorf("limits.js NON_CUSTOM_PROMPT_LIMIT = %v, domain has %d", m, generation.NonCustomPromptLimit)
	}

	row := regexp.MustCompile(`(\w+): \{ prompt: (\d+), style: (\d+), title: (\d+) \}`)
	found := map[string]generation.Limits{}
	for _, m := range row.FindAllStringSubmatch(s, -1) {
		p, _ := strconv.Atoi(m[2])
		st, _ := strconv.Atoi(m[3])
		ti, _ := strconv.Atoi(m[4])
		found[m[1]] = generation.Limits{Prompt: p, Style: st, Title: ti}
	}
	for _, model := range generation.Models {
		want, _ := generation.ModelLimits(model, true)
		if got, ok := found[model]; !ok || got != want {
			t.Errorf("limits.js custom limits for %s = %+v (present %v), domain has %+v", model, got, ok, want)
		}
	}
	if len(found) != len(generation.Models) {
		t.Errorf("limits.js has custom limits for %d models, domain for %d", len(found), len(generation.Models))
	}
}

// The Content-Security-Policy allows no inline script or style, so the
// page must have none: every script is a file, every style is in
// style.css, and no element carries an event handler attribute.
func TestNoInlineScriptOrStyle(t *testing.T) {
	for _, bad := range []struct{ what, re string }{
		// A <script> tag with no src, or with a body.
		{"an inline <script>", `(?is)<script\b[^>]*>\s*[^<\s]|<script\b(?:[^s>]|s[^r>]|sr[^c>])*>`},
		{"a <style> element", `(?i)<style\b`},
		{"a style attribute", `(?i)<[^>]+\sstyle\s*=`},
		{"an event handler attribute", `(?i)<[^>]+\son[a-z]+\s*=`},
		{"a javascript: URL", `(?i)javascript:`},
	} {
		re := regexp.MustCompile(bad.re)
		err := fs.WalkDir(Files, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(name, ".html") {
				return err
			}
			b, err := fs.ReadFile(Files, name)
			if err != nil {
				return err
			}
			if m := re.Find(b); m != nil {
				t.Errorf("%s has %s, which the CSP blocks: %q", name, bad.what, m)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(contentSecurityPolicy, "default-src 'self'") || strings.Contains(contentSecurityPolicy, "unsafe-inline") {
		t.Errorf("the CSP is not the strict one this test assumes: %s", contentSecurityPolicy)
	}
}

// Every element the scripts look up by id must be in index.html: a
// missing one is a TypeError in the browser and nothing on the page.
func TestScriptIDsExist(t *testing.T) {
	html, err := fs.ReadFile(Files, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(`\sid="([^"]+)"`).FindAllSubmatch(html, -1) {
		ids[string(m[1])] = true
	}
	lookup := regexp.MustCompile(`(?:\$|getElementById)\("([A-Za-z0-9_-]+)"\)`)
	scripts, _ := fs.Glob(Files, "*.js")
	for _, name := range scripts {
		b, _ := fs.ReadFile(Files, name)
		for _, m := range lookup.FindAllSubmatch(b, -1) {
			if !ids[string(m[1])] {
				t.Errorf("%s looks up #%s, which index.html does not have", name, m[1])
			}
		}
	}
	// The stats panel fills one <dd id="stat-KEY"> per count it shows.
	stats, _ := fs.ReadFile(Files, "stats.js")
	m := regexp.MustCompile(`export const SUMMARY_COUNTS = \[([^\]]*)\]`).FindSubmatch(stats)
	if m == nil {
		t.Fatal("SUMMARY_COUNTS not found in stats.js")
	}
	for _, q := range strings.Split(string(m[1]), ",") {
		if key := strings.Trim(strings.TrimSpace(q), `"`); key != "" && !ids["stat-"+key] {
			t.Errorf("stats.js shows %q, but index.html has no #stat-%s", key, key)
		}
	}
}

// The stats panel shows the counts GET /api/queue/stats returns, by their
// JSON names.
func TestStatsCountsMatchAPI(t *testing.T) {
	stats, err := fs.ReadFile(Files, "stats.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`export const SUMMARY_COUNTS = \[([^\]]*)\]`).FindSubmatch(stats)
	if m == nil {
		t.Fatal("SUMMARY_COUNTS not found in stats.js")
	}
	var shown []string
	for _, q := range strings.Split(string(m[1]), ",") {
		if q = strings.Trim(strings.TrimSpace(q), `"`); q != "" {
			shown = append(shown, q)
		}
	}
	var api []string
	typ := reflect.TypeFor[service.TierStats]()
	for i := range typ.NumField() {
		if name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			api = append(api, name)
		}
	}
	slices.Sort(shown)
	slices.Sort(api)
	if !slices.Equal(shown, api) {
		t.Errorf("stats.js SUMMARY_COUNTS = %v, the API's counts are %v", shown, api)
	}
}

// The client module for frontends and its types are served with CORS, so
// a page on another origin can import them, and with the right types
// (nosniff is on: a wrong one and the browser refuses the module).
func TestClientModuleServed(t *testing.T) {
	for _, tc := range []struct {
		path  string
		types []string
	}{
		{ClientModule, []string{"text/javascript"}},
		{ClientTypes, []string{"application/typescript", "text/plain"}},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		req.Header.Set("Origin", "http://localhost:5173")
		rec := httptest.NewRecorder()
		Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d", tc.path, rec.Code)
		}
		ct := rec.Header().Get("Content-Type")
		if !slices.ContainsFunc(tc.types, func(p string) bool { return strings.HasPrefix(ct, p) }) {
			t.Errorf("GET %s: Content-Type %q, want one of %v", tc.path, ct, tc.types)
		}
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("GET %s: Access-Control-Allow-Origin %q, want * (cross-origin module imports are CORS requests)", tc.path, got)
		}
		want, _ := fs.ReadFile(Files, strings.TrimPrefix(tc.path, "/"))
		if rec.Body.String() != string(want) || len(want) == 0 {
			t.Errorf("GET %s: body is not the embedded file (%d bytes, want %d)", tc.path, rec.Body.Len(), len(want))
		}
	}
	if got := recordedHeader(t, ClientModule, "X-TypeScript-Types"); got != ClientTypes {
		t.Errorf("GET %s: X-TypeScript-Types %q, want %s", ClientModule, got, ClientTypes)
	}
	// The rest of the page is same-origin only.
	if got := recordedHeader(t, "/app.js", "Access-Control-Allow-Origin"); got != "" {
		t.Errorf("GET /app.js: Access-Control-Allow-Origin %q, want none", got)
	}
}

func recordedHeader(t *testing.T, path, name string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Header().Get(name)
}

// clientSources reads the module and its declarations.
func clientSources(t *testing.T) (js, dts string) {
	t.Helper()
	j, err := fs.ReadFile(Files, "songqueue-client.js")
	if err != nil {
		t.Fatal(err)
	}
	d, err := fs.ReadFile(Files, "songqueue-client.d.ts")
	if err != nil {
		t.Fatal(err)
	}
	return string(j), string(d)
}

// The .d.ts declares every export of the module, and the module exports
// everything the .d.ts declares as a value; the client's methods, the
// realtime client's and its event names are in both.
func TestClientTypesMatchModule(t *testing.T) {
	js, dts := clientSources(t)
	jsExports := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^export\s+(?:async\s+)?(?:function\*?|class|const|let|var)\s+([A-Za-z_$][\w$]*)`).FindAllStringSubmatch(js, -1) {
		jsExports[m[1]] = true
	}
	if regexp.MustCompile(`(?m)^export\s*(\{|\*|default)`).MatchString(js) {
		t.Error("songqueue-client.js exports with export {…}, export * or export default: declare each export where it is defined, so this test sees it")
	}
	for _, want := range []string{"createClient", "createRealtime", "ApiError"} {
		if !jsExports[want] {
			t.Errorf("songqueue-client.js does not export %s", want)
		}
	}
	dtsValues := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^export\s+declare\s+(?:function|class|const|let|var)\s+([A-Za-z_$][\w$]*)`).FindAllStringSubmatch(dts, -1) {
		dtsValues[m[1]] = true
	}
	for name := range jsExports {
		if !dtsValues[name] {
			t.Errorf("songqueue-client.d.ts does not declare the module's export %s (as export declare function/class %[1]s)", name)
		}
	}
	for name := range dtsValues {
		if !jsExports[name] {
			t.Errorf("songqueue-client.d.ts declares %s, which the module does not export", name)
		}
	}

	// The methods of what createClient and realtime() return.
	body := func(src, start string) string {
		i := strings.Index(src, start)
		if i < 0 {
			t.Fatalf("%q not found", start)
			return ""
		}
		return src[i:]
	}
	clientJS := body(js, "export function createClient")
	clientDTS := body(dts, "export interface SongQueueClient")
	for _, m := range []string{"request", "createGeneration", "getStatus", "list", "cancel", "remove", "stats", "realtime", "connect"} {
		if !regexp.MustCompile(`(?m)^\s+(?:async\s+)?` + m + `(?:[:(]|,$)`).MatchString(clientJS) {
			t.Errorf("createClient's result has no method %s", m)
		}
		if !regexp.MustCompile(`(?m)^\s+` + m + `[<(]`).MatchString(clientDTS) {
			t.Errorf("songqueue-client.d.ts: SongQueueClient has no method %s", m)
		}
	}
	rtJS := body(js, "class RealtimeClient")
	rtDTS := body(dts, "export interface RealtimeClient")
	for _, m := range []string{"on", "once", "off", "connect", "close", "sync", "send", "versionOf"} {
		if !regexp.MustCompile(`(?m)^  ` + m + `\(`).MatchString(rtJS) {
			t.Errorf("RealtimeClient has no method %s", m)
		}
		if !regexp.MustCompile(`(?m)^\s+` + m + `[<(]`).MatchString(rtDTS) {
			t.Errorf("songqueue-client.d.ts: RealtimeClient has no method %s", m)
		}
	}
	events := body(dts, "export interface RealtimeEvents")
	for _, e := range []string{"generation:progress", "generation:complete", "generation:error", "generation:cancelled", "sync", "open", "close", "error"} {
		if !strings.Contains(events, `"`+e+`":`) && !strings.Contains(events, "\n  "+e+":") {
			t.Errorf("songqueue-client.d.ts: RealtimeEvents has no %q", e)
		}
		if !strings.Contains(js, `"`+e+`"`) {
			t.Errorf("songqueue-client.js never names the event %q", e)
		}
	}
}

// The module is self-contained: no imports (a frontend copies one file),
// and no use of the page's DOM helpers.
func TestClientModuleStandsAlone(t *testing.T) {
	js, _ := clientSources(t)
	if m := regexp.MustCompile(`(?m)^\s*import\b|\bimport\(`).FindString(js); m != "" {
		t.Errorf("songqueue-client.js imports something (%q): it must stand alone", m)
	}
}

// The module's behaviour (requests, errors, sync, versions, backoff,
// pings, expiry) with a fake fetch and WebSocket, in Node when there is
// one; the browser tests run it for real.
func TestClientModuleBehaviour(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required in CI (the machine has it): the client module's rules are tested with it")
		}
		t.Skip("node is not installed; the browser tests still exercise the module")
	}
	dir := t.TempDir()
	js, _ := clientSources(t)
	mod := filepath.Join(dir, "songqueue-client.mjs") // .mjs: an ES module to Node whatever package.json says
	if err := os.WriteFile(mod, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// --test-force-exit: a failed test must not leave timers that keep Node up.
	cmd := exec.CommandContext(ctx, node, "--test", "--test-force-exit", "--test-timeout=20000", filepath.Join("testdata", "client.test.mjs"))
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), "SONGQUEUE_CLIENT="+(&url.URL{Scheme: "file", Path: mod}).String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test testdata/client.test.mjs: %v\n%s", err, out)
	}
	t.Logf("%s", lastLines(string(out), 9))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// The page has a sentence for every failure and every hold the API can
// report (openapi.yaml's ErrorCode and WaitReason), so a new code is not
// shown as "Something went wrong" by accident.
func TestMessagesCoverAPICodes(t *testing.T) {
	spec, err := os.ReadFile(filepath.Join("..", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := fs.ReadFile(Files, "messages.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ schema, object string }{{"ErrorCode", "FAILURES"}, {"WaitReason", "WAIT_TEXT"}} {
		m := regexp.MustCompile(`(?s)\n    ` + c.schema + `:\n.*?\n      enum: \[([^\]]*)\]`).FindSubmatch(spec)
		if m == nil {
			t.Fatalf("openapi.yaml has no enum for %s", c.schema)
		}
		block := regexp.MustCompile(`(?s)const ` + c.object + ` = \{(.*?)\n\};`).FindSubmatch(js)
		if block == nil {
			t.Fatalf("messages.js has no %s", c.object)
		}
		keys := map[string]bool{}
		for _, k := range regexp.MustCompile(`(?m)^  ([a-z_]+):`).FindAllSubmatch(block[1], -1) {
			keys[string(k[1])] = true
		}
		for _, code := range strings.Split(string(m[1]), ",") {
			if code = strings.TrimSpace(code); code != "" && !keys[code] {
				t.Errorf("messages.js %s has no sentence for the %s %q", c.object, c.schema, code)
			}
		}
	}
}

// messages.js's sentences and rules, with node (testdata/messages.test.mjs).
func TestMessagesBehaviour(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required in CI (the machine has it): the page's messages are tested with it")
		}
		t.Skip("node is not installed; the browser tests still show the messages")
	}
	js, err := fs.ReadFile(Files, "messages.js")
	if err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(t.TempDir(), "messages.mjs") // .mjs: an ES module to Node whatever package.json says
	if err := os.WriteFile(mod, js, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-force-exit", filepath.Join("testdata", "messages.test.mjs"))
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), "SONGQUEUE_MESSAGES="+(&url.URL{Scheme: "file", Path: mod}).String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test testdata/messages.test.mjs: %v\n%s", err, out)
	}
	t.Logf("%s", lastLines(string(out), 9))
}
