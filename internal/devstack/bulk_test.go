package devstack_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// bulkUntilDone confirms body's bulk action and follows it to its end.
func bulkUntilDone(t *testing.T, op client, body map[string]any) (matched, changed float64) {
	t.Helper()
	body["dryRun"] = false
	code, started := op.do("POST", "/api/admin/bulk", body)
	if code != http.StatusAccepted || started["bulkId"] == nil {
		t.Fatalf("confirmed bulk: %d %v", code, started)
	}
	deadline := time.Now().Add(bulkWait)
	for {
		code, st := op.do("GET", fmt.Sprintf("/api/admin/bulk/%v", started["bulkId"]), nil)
		if code != http.StatusOK {
			t.Fatalf("bulk status: %d %v", code, st)
		}
		if st["status"] == "done" {
			return st["matched"].(float64), st["changed"].(float64)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bulk action is still %v after %s: %v", st["status"], bulkWait, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scenarioBulkRetryOfFailedSongs: a few hundred songs failed with a
// timeout (and some with a refused prompt); an operator's dry run counts
// the timeouts, the confirmed retry changes exactly as many, each song is
// moving again, and the same request confirmed again changes nothing.
func scenarioBulkRetryOfFailedSongs(t *testing.T, b backend) {
	// Every tier paused, with a long recheck: the retried songs wait in
	// their queues instead of loading the emulator the other scenarios
	// share while they run.
	s := startStack(t, b, func(c *devstack.Config) { c.Pipeline.PauseRecheck = time.Minute }, devstack.Options{})
	ctx := context.Background()
	op := admin(t, s)
	n := 200
	if b.name != "memory" {
		n = 60 // the emulator is shared with every other package's tests
	}
	for _, tier := range generation.Tiers {
		if code, body := op.do("POST", "/api/admin/queues/"+strings.ToLower(string(tier))+"/pause", nil); code != http.StatusOK {
			t.Fatalf("pause %s: %d %v", tier, code, body)
		}
	}
	var wg sync.WaitGroup
	ids := make([]string, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			code := generation.CodeSunoTimeout
			if i%4 == 0 {
				code = generation.CodeContentRefused
			}
			g := generation.New(newTestID(i), fmt.Sprintf("bulk-user-%d", i%7), generation.Tiers[i%4], generation.Request{Prompt: fmt.Sprintf("failed song %d", i)}, time.Now().UTC(), 0)
			stored, _, err := s.Generations.Create(ctx, g, "", service.Quota{})
			if err == nil {
				err = stored.FailWith(code, "it failed", time.Now().UTC())
			}
			if err == nil {
				_, err = s.Generations.Save(ctx, stored, generation.Pending)
			}
			if err != nil {
				t.Error(err)
			}
			ids[i] = g.ID
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	body := map[string]any{"action": "retry", "filter": map[string]any{"status": "failed", "error": "suno_timeout"}}
	code, dry := op.do("POST", "/api/admin/bulk", body) // dryRun is the default
	if sample, _ := dry["sample"].([]any); code != http.StatusOK || dry["matched"] != float64(n*3/4) || len(sample) != 10 {
		t.Fatalf("dry run: %d %v; want %d matched and a sample of 10", code, dry["matched"], n*3/4)
	}
	matched, changed := bulkUntilDone(t, op, body)
	if matched != dry["matched"] || changed != matched {
		t.Errorf("bulk retry: %v of %v changed; want the dry run's %v", changed, matched, dry["matched"])
	}
	still := 0
	for i, id := range ids {
		g, err := s.Generations.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		refused := i%4 == 0
		if refused != (g.Status == generation.Failed && g.ErrorCode == generation.CodeContentRefused) {
			still++
		}
	}
	if still != 0 {
		t.Errorf("%d songs not as the bulk retry should leave them (timeouts moving again, refused prompts still failed)", still)
	}
	if matched, changed := bulkUntilDone(t, op, body); changed != 0 {
		t.Errorf("the same retry confirmed again: %v of %v changed; want none", changed, matched)
	}
	code, audit := op.do("GET", "/api/admin/audit?limit=5", nil)
	if entries, _ := audit["entries"].([]any); code != http.StatusOK || len(entries) < 2 {
		t.Errorf("audit: %d %v; want the bulk actions listed", code, audit)
	}
}

// scenarioBulkCancelOfOneUsersQueue: with FREE paused, one user's queued
// songs are cancelled in bulk; another user's song stays queued.
func scenarioBulkCancelOfOneUsersQueue(t *testing.T, b backend) {
	s := startStack(t, b, nil, devstack.Options{})
	op := admin(t, s)
	if code, body := op.do("POST", "/api/admin/queues/free/pause", nil); code != http.StatusOK {
		t.Fatalf("pause: %d %v", code, body)
	}
	flooder, other := user(t, s, "bulk-flooder", generation.Free), user(t, s, "bulk-other", generation.Free)
	var mine []string
	for i := range 20 {
		mine = append(mine, flooder.create(fmt.Sprintf("flood %d", i)))
	}
	theirs := other.create("not the flood")
	body := map[string]any{"action": "cancel", "filter": map[string]any{"userId": "bulk-flooder", "status": "pending"}, "dryRun": true}
	code, dry := op.do("POST", "/api/admin/bulk", body)
	if code != http.StatusOK || dry["matched"] != float64(20) {
		t.Fatalf("dry run: %d %v; want 20", code, dry)
	}
	matched, changed := bulkUntilDone(t, op, body)
	if matched != 20 || changed != 20 {
		t.Errorf("bulk cancel: %v of %v changed; want 20 of 20", changed, matched)
	}
	for _, id := range mine {
		if st := flooder.status(id)["status"]; st != "cancelled" {
			t.Errorf("%s: %v, want cancelled", id, st)
		}
	}
	if st := other.status(theirs)["status"]; st != "pending" {
		t.Errorf("another user's song: %v, want pending", st)
	}
	if _, changed := bulkUntilDone(t, op, body); changed != 0 {
		t.Errorf("the same cancel confirmed again changed %v; want none", changed)
	}
}

// bulkWait bounds a bulk action of a few hundred songs: on the emulator,
// each is a transaction, a message and a push, beside the stack's work.
const bulkWait = 90 * time.Second

// newTestID is a generation id (a UUID's shape) for test i.
func newTestID(i int) string {
	return fmt.Sprintf("b0000000-0000-4000-8000-%012d", i)
}
