// Package porttest is the contract of the service's ports, as test suites
// that run against any adapter: the in-memory ones of the local stack and
// the AWS ones on an emulator. An adapter that passes behaves, as far as the
// service can tell, like the others.
//
// Each suite is one exported entry point that runs its areas as subtests,
// each area in a file of its own, as riverdrivertest splits its driver
// contract; the shared factories and helpers stay in the entry point's file.
//
//   - Store (store.go) runs storeCreate (store_create.go: Create, Get,
//     idempotency keys, quotas), storeSave (store_save.go: conditional Save,
//     concurrent claims and completions, counters), storeListing
//     (store_listing.go: ListByUser), storeSweep (store_sweep.go: Overdue),
//     storeConnections (store_connections.go) and storeOperators
//     (store_operators.go: delayed counts, Delete, ListAll, pause switches).
//   - Queue (queue.go) runs queueDelivery (queue_delivery.go: send, receive,
//     delete, visibility timeout, long poll), queueDelays (queue_delays.go),
//     queueBatches (queue_batches.go: batch deletes, depth) and
//     queueDeadLetters (queue_deadletters.go: redrive, DeadLetters).
//   - Limiter (limiter.go), Buckets (buckets.go: the request buckets of
//     package throttle) and Notifier (notifier.go) are one file each.
//
// A test's name is its area's, then its own, as in
// TestStoreContract/Create/IdempotencyKeyRace.
package porttest

import (
	"crypto/rand"
	"encoding/hex"
	"reflect"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// runArea runs one area of a suite as a subtest. The area is parallel, so
// every test of a suite still runs alongside all the others, whatever area
// it is in.
func runArea(t *testing.T, name string, run func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		run(t)
	})
}

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
	for _, p := range []*time.Time{&g.CreatedAt, &g.UpdatedAt, &g.LeaseUntil, &g.Deadline, &g.SlotUntil} {
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
