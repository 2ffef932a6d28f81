// Package envconfig reads settings from environment variables, collecting
// every bad value instead of stopping at the first, so one start-up error
// lists all that is wrong.
package envconfig

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Reader reads variables through a getenv function. A variable that is
// unset or blank leaves its destination, the default, as it is.
type Reader struct {
	getenv func(string) string
	errs   []error
}

// New returns a reader on getenv (os.Getenv, or a map's lookup in tests).
func New(getenv func(string) string) *Reader { return &Reader{getenv: getenv} }

func (r *Reader) lookup(name string) (string, bool) {
	v := strings.TrimSpace(r.getenv(name))
	return v, v != ""
}

// Fail records an error found by the caller's own checks.
func (r *Reader) Fail(err error) { r.errs = append(r.errs, err) }

// String reads a text setting.
func (r *Reader) String(name string, dst *string) {
	if v, ok := r.lookup(name); ok {
		*dst = v
	}
}

// Int reads a whole number of at least minimum.
func (r *Reader) Int(name string, dst *int, minimum int) {
	v, ok := r.lookup(name)
	if !ok {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < minimum {
		r.Fail(fmt.Errorf("%s=%q: want a whole number ≥ %d", name, v, minimum))
		return
	}
	*dst = n
}

// PositiveFloat reads a number greater than zero.
func (r *Reader) PositiveFloat(name string, dst *float64) {
	v, ok := r.lookup(name)
	if !ok {
		return
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		r.Fail(fmt.Errorf("%s=%q: want a positive number", name, v))
		return
	}
	*dst = f
}

// NonNegativeFloat reads a finite number of at least zero.
func (r *Reader) NonNegativeFloat(name string, dst *float64) {
	v, ok := r.lookup(name)
	if !ok {
		return
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		r.Fail(fmt.Errorf("%s=%q: want a number ≥ 0", name, v))
		return
	}
	*dst = f
}

// Duration reads a positive Go duration such as 2s or 500ms.
func (r *Reader) Duration(name string, dst *time.Duration) {
	v, ok := r.lookup(name)
	if !ok {
		return
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.Fail(fmt.Errorf("%s=%q: want a positive Go duration such as 2s or 500ms", name, v))
		return
	}
	*dst = d
}

// Err is every problem found, or nil.
func (r *Reader) Err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return fmt.Errorf("configuration: %w", errors.Join(r.errs...))
}
