package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

func TestHandlerServesPage(t *testing.T) {
	for _, tc := range []struct{ path, contentType string }{
		{"/", "text/html"},
		{"/app.js", "text/javascript"},
		{"/style.css", "text/css"},
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
