package service_test

import (
	"errors"
	"testing"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// TestIdempotencyKeyOfDeletedGeneration: a key is for retries of one
// create. Once its song is deleted, a retry with the key is refused with a
// conflict that says so (not a 500), makes no second song, and queues
// nothing; a new key makes a new song.
func TestIdempotencyKeyOfDeletedGeneration(t *testing.T) {
	h := newHarness(t)
	caller := callerOf(generation.Pro)
	req := generation.Request{Prompt: "once only"}
	first, err := h.roles.API.Create(h.ctx, caller, req, "key-1")
	if err != nil {
		t.Fatal(err)
	}
	h.mustCancel(first.Generation)
	if err := h.roles.API.Delete(h.ctx, caller, first.Generation.ID); err != nil {
		t.Fatal(err)
	}
	sent := h.queue.count()

	_, err = h.roles.API.Create(h.ctx, caller, req, "key-1")
	var se *service.Error
	if !errors.As(err, &se) || se.Kind != service.KindConflict || se.Code != "generation_deleted" || se.Message == "" {
		t.Fatalf("create with the key of a deleted generation: %v; want a conflict with code generation_deleted", err)
	}
	if p, err := h.roles.API.List(h.ctx, caller, 10, ""); err != nil || len(p.Items) != 0 {
		t.Fatalf("the refused retry left generations: %+v, %v", p.Items, err)
	}
	if n := h.queue.count() - sent; n != 0 {
		t.Fatalf("the refused retry queued %d jobs", n)
	}
	if res, err := h.roles.API.Create(h.ctx, caller, req, "key-2"); err != nil || res.Replayed {
		t.Fatalf("create with a new key: %+v, %v; want a new song", res, err)
	}
}
