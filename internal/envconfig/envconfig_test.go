package envconfig

import (
	"strings"
	"testing"
	"time"
)

func TestReadsValuesKeepsDefaultsAndListsEveryError(t *testing.T) {
	env := map[string]string{"NAME": " x ", "N": "7", "F": "2.5", "D": "150ms", "BAD_N": "0", "BAD_D": "soon", "BAD_F": "-1"}
	r := New(func(k string) string { return env[k] })
	name, n, f, d, unset := "", 1, 1.0, time.Second, "default"
	r.String("NAME", &name)
	r.String("UNSET", &unset)
	r.Int("N", &n, 1)
	r.PositiveFloat("F", &f)
	r.Duration("D", &d)
	if name != "x" || n != 7 || f != 2.5 || d != 150*time.Millisecond || unset != "default" {
		t.Fatalf("read %q %d %v %v %q", name, n, f, d, unset)
	}
	if r.Err() != nil {
		t.Fatalf("good values reported: %v", r.Err())
	}
	keep := 3
	r.Int("BAD_N", &keep, 1)
	r.Duration("BAD_D", &d)
	r.PositiveFloat("BAD_F", &f)
	err := r.Err()
	if err == nil || keep != 3 {
		t.Fatalf("bad values: err %v, kept %d", err, keep)
	}
	for _, name := range []string{"BAD_N", "BAD_D", "BAD_F"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

// TestNonNegativeFloat: zero is a value (a limit turned off); a negative
// number, NaN and infinities are not.
func TestNonNegativeFloat(t *testing.T) {
	env := map[string]string{"ZERO": "0", "HALF": "0.5", "NEG": "-1", "NAN": "NaN", "INF": "+Inf", "WORD": "fast"}
	r := New(func(k string) string { return env[k] })
	zero, half := 9.0, 9.0
	r.NonNegativeFloat("ZERO", &zero)
	r.NonNegativeFloat("HALF", &half)
	if zero != 0 || half != 0.5 || r.Err() != nil {
		t.Fatalf("read %v %v, %v", zero, half, r.Err())
	}
	for _, name := range []string{"NEG", "NAN", "INF", "WORD"} {
		keep := 3.0
		r.NonNegativeFloat(name, &keep)
		if keep != 3 || r.Err() == nil || !strings.Contains(r.Err().Error(), name) {
			t.Errorf("%s=%q: kept %v, err %v", name, env[name], keep, r.Err())
		}
	}
}
