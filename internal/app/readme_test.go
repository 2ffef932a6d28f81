package app_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEListsEverySetting: every environment variable the code reads is
// in README.md's configuration table, so a newcomer finds each one there.
func TestREADMEListsEverySetting(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	reads := regexp.MustCompile(`(?:r\.(?:String|Int|Duration|PositiveFloat|NonNegativeFloat)|getenv)\("([A-Z][A-Z0-9_]+)"`)
	seen := 0
	for _, pattern := range []string{"internal/app/*.go", "internal/devstack/config.go", "internal/auth/settings.go", "internal/logging/logging.go", "internal/awsinfra/config.go"} {
		files, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range reads.FindAllStringSubmatch(string(src), -1) {
				seen++
				// QUOTA_OPEN_ + tier is documented as QUOTA_OPEN_<TIER>.
				if !strings.Contains(string(readme), "`"+m[1]) {
					t.Errorf("%s reads %s, which README.md's configuration table does not list", filepath.Base(f), m[1])
				}
			}
		}
	}
	if seen < 40 {
		t.Fatalf("found only %d settings read; the pattern no longer matches the code", seen)
	}
}
