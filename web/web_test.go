package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/songqueue/songqueue/internal/generation"
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
