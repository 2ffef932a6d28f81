package service_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/service"
)

var operator = identity.Caller{UserID: "op", Tier: generation.Enterprise, Groups: []string{"admin"}}

// runBulk runs the bulk jobs in the ENTERPRISE queue until the action is
// done.
func runBulk(t *testing.T, h *harness, id string) service.Bulk {
	t.Helper()
	for range 100 {
		b, err := h.roles.Operators.BulkStatus(h.ctx, operator, id)
		if err != nil {
			t.Fatal(err)
		}
		if b.Status == service.BulkDone {
			return b
		}
		h.mustRunNext(generation.Enterprise, service.JobBulk)
	}
	t.Fatal("the bulk action never finished")
	return service.Bulk{}
}

// TestBulkRetryOfFailedSongs: a dry run counts the failed songs a filter
// matches; confirmed, exactly those are retried, page after page; a second
// confirmation of the same request changes nothing; the audit lists both.
func TestBulkRetryOfFailedSongs(t *testing.T) {
	h := newHarness(t)
	var failed []generation.Generation
	for i := range 60 {
		g := h.create(generation.Pro, fmt.Sprintf("song %d", i))
		code := generation.CodeSunoTimeout
		if i%3 == 0 {
			code = generation.CodeContentRefused
		}
		if err := g.FailWith(code, "it failed", h.clock.Now()); err != nil {
			t.Fatal(err)
		}
		g, err := h.store.Save(h.ctx, g, generation.Pending)
		if err != nil {
			t.Fatal(err)
		}
		if code == generation.CodeSunoTimeout {
			failed = append(failed, g)
		}
	}
	h.create(generation.Pro, "still waiting") // not failed: never retried
	h.clock.Advance(time.Second)
	req := service.BulkRequest{Action: service.BulkRetry, Filter: service.Filter{Status: generation.Failed, ErrorCode: generation.CodeSunoTimeout}, DryRun: true}
	dry, err := h.roles.Operators.StartBulk(h.ctx, operator, req)
	if err != nil || dry.Matched != len(failed) || dry.BulkID != "" || len(dry.Sample) != 10 {
		t.Fatalf("dry run = %d matched, id %q, %d in sample, %v; want %d, no id, a sample of 10", dry.Matched, dry.BulkID, len(dry.Sample), err, len(failed))
	}
	req.DryRun = false
	started, err := h.roles.Operators.StartBulk(h.ctx, operator, req)
	if err != nil || started.BulkID == "" || started.Matched != dry.Matched {
		t.Fatalf("confirmed = %+v, %v; want an id and the dry run's %d", started, err, dry.Matched)
	}
	b := runBulk(t, h, started.BulkID)
	if b.Changed != dry.Matched || b.Matched != dry.Matched {
		t.Errorf("done: %d of %d changed; want the dry run's %d", b.Changed, b.Matched, dry.Matched)
	}
	for _, g := range failed {
		if got := h.get(g.ID); got.Status != generation.Pending || got.Attempts != 0 {
			t.Errorf("%s after the bulk retry: %s, attempts %d; want pending afresh", g.Request.Prompt, got.Status, got.Attempts)
		}
	}
	// The same request again: nothing has failed since, so nothing.
	again, err := h.roles.Operators.StartBulk(h.ctx, operator, req)
	if err != nil || again.Matched != 0 {
		t.Fatalf("the same request again: %+v, %v; want nothing matched (none failed since)", again, err)
	}
	entries, err := h.roles.Operators.Audit(h.ctx, operator, 10)
	if err != nil || len(entries) < 2 || entries[0].Operator != "op" {
		t.Fatalf("audit = %+v, %v; want the bulk's lines, by op", entries, err)
	}
}

// TestBulkCancelOfOneUsersQueue: cancel every queued song of one user; the
// others' songs and the user's finished ones are left alone.
func TestBulkCancelOfOneUsersQueue(t *testing.T) {
	h := newHarness(t)
	var mine []generation.Generation
	for i := range 30 {
		mine = append(mine, h.create(generation.Free, fmt.Sprintf("mine %d", i)))
	}
	other := h.create(generation.Pro, "someone else's")
	h.clock.Advance(time.Second)
	req := service.BulkRequest{Action: service.BulkCancel, Filter: service.Filter{UserID: callerOf(generation.Free).UserID}, DryRun: true}
	dry, err := h.roles.Operators.StartBulk(h.ctx, operator, req)
	if err != nil || dry.Matched != 30 {
		t.Fatalf("dry run = %+v, %v; want 30", dry, err)
	}
	req.DryRun = false
	started, err := h.roles.Operators.StartBulk(h.ctx, operator, req)
	if err != nil {
		t.Fatal(err)
	}
	late := h.create(generation.Free, "created after the bulk began") // not its to cancel
	b := runBulk(t, h, started.BulkID)
	if b.Changed != 30 {
		t.Errorf("changed %d; want 30", b.Changed)
	}
	for _, g := range mine {
		if st := h.get(g.ID).Status; st != generation.Cancelled {
			t.Errorf("%s: %s, want cancelled", g.Request.Prompt, st)
		}
	}
	if st := h.get(other.ID).Status; st != generation.Pending {
		t.Errorf("another user's song: %s, want pending", st)
	}
	if st := h.get(late.ID).Status; st != generation.Pending {
		t.Errorf("a song created after the bulk began: %s, want pending", st)
	}
	again, err := h.roles.Operators.StartBulk(h.ctx, operator, service.BulkRequest{Action: service.BulkCancel, Filter: req.Filter})
	if err != nil || again.BulkID == "" {
		t.Fatal(err)
	}
	if b := runBulk(t, h, again.BulkID); b.Changed != 1 || b.Matched != 1 {
		t.Errorf("the same cancel again: %d of %d changed; want only the song created since", b.Changed, b.Matched)
	}
}

// TestBulkRefusesBadRequests: a bulk request that makes no sense is
// refused with a specific code, and a user who is not an operator may not.
func TestBulkRefusesBadRequests(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		req  service.BulkRequest
		code string
	}{
		{service.BulkRequest{Action: "delete"}, "invalid_action"},
		{service.BulkRequest{Action: service.BulkRetry, Filter: service.Filter{Tier: "GOLD"}}, "unknown_tier"},
		{service.BulkRequest{Action: service.BulkRetry, Filter: service.Filter{ErrorCode: "oops"}}, "invalid_error_code"},
		{service.BulkRequest{Action: service.BulkRetry, Filter: service.Filter{CreatedAfter: time.Unix(2, 0), CreatedBefore: time.Unix(1, 0)}}, "invalid_range"},
	} {
		_, err := h.roles.Operators.StartBulk(h.ctx, operator, tc.req)
		if se, ok := err.(*service.Error); !ok || se.Code != tc.code {
			t.Errorf("%+v: %v; want %s", tc.req, err, tc.code)
		}
	}
	if _, err := h.roles.Operators.StartBulk(h.ctx, callerOf(generation.Pro), service.BulkRequest{Action: service.BulkCancel, DryRun: true}); err == nil {
		t.Error("a user who is not an operator started a bulk action")
	}
}
