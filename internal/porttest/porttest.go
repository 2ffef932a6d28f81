// Package porttest is the contract of the service's ports, as test suites
// that run against any adapter: the in-memory ones of the local stack and
// the AWS ones on an emulator. An adapter that passes behaves, as far as the
// service can tell, like the others.
package porttest

import (
	"crypto/rand"
	"encoding/hex"
	"reflect"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// eventually retries check until it returns "" or timeout passes; adapters
// on SQS report counts that lag a little.
func eventually(t *testing.T, timeout time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// normal makes two generations that differ only in representation (time
// zone, monotonic clock, nil or empty tracks) compare equal.
func normal(g generation.Generation) generation.Generation {
	for _, p := range []*time.Time{&g.CreatedAt, &g.UpdatedAt, &g.LeaseUntil, &g.Deadline} {
		if p.IsZero() {
			*p = time.Time{}
		} else {
			*p = p.Round(0).UTC()
		}
	}
	if len(g.Tracks) == 0 {
		g.Tracks = nil
	}
	return g
}

func sameGeneration(t *testing.T, what string, want, got generation.Generation) {
	t.Helper()
	if w, g := normal(want), normal(got); !reflect.DeepEqual(w, g) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}
