package service

import (
	"testing"
	"time"
)

// A copy leaves time to record its outcome, but never all of a short
// invocation's: with WORKER_TIMEOUT under the margin every copy once
// started past its own deadline and failed.
func TestCopyDeadlineLeavesTimeToCopy(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ left, copy time.Duration }{
		{left: 30 * time.Second, copy: 27 * time.Second},
		{left: 2500 * time.Millisecond, copy: 2 * time.Second},
		{left: 0, copy: 0},
	} {
		if got := copyDeadline(now, now.Add(tc.left)).Sub(now); got != tc.copy {
			t.Errorf("with %s left the copy gets %s, want %s", tc.left, got, tc.copy)
		}
	}
}
