package service_test

import (
	"errors"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/service"
)

// TestQuotaIsWhatCreateCounts: a user's quota view counts what a create's
// check counts (open songs, slots held by songs cancelled at Suno, the
// creates of the window), says when the daily limit frees once it is
// reached, and shows no numbers for a limit the tier does not have.
func TestQuotaIsWhatCreateCounts(t *testing.T) {
	h := newHarness(t, func(h *harness) {
		h.cfg.Quotas = map[generation.Tier]service.Quota{generation.Pro: {Open: 2, Daily: 3}, generation.Premium: {Daily: 5}}
	})
	caller := callerOf(generation.Pro)
	want := func(open, daily int, nextFree time.Time) {
		t.Helper()
		v, err := h.roles.API.Quota(h.ctx, caller)
		if err != nil {
			t.Fatalf("Quota: %v", err)
		}
		if v.Tier != generation.Pro || v.Open.Limit != 2 || v.Open.Used == nil || *v.Open.Used != open ||
			v.Daily.Limit != 3 || v.Daily.Used == nil || *v.Daily.Used != daily || v.Daily.WindowHours != 24 {
			t.Fatalf("Quota = %+v (open used %v, daily used %v); want %d of 2 open, %d of 3 in 24 hours", v, deref(v.Open.Used), deref(v.Daily.Used), open, daily)
		}
		switch {
		case nextFree.IsZero() && v.Daily.NextFreeAt != nil:
			t.Fatalf("nextFreeAt = %s before the daily limit is reached", v.Daily.NextFreeAt)
		case !nextFree.IsZero() && (v.Daily.NextFreeAt == nil || !v.Daily.NextFreeAt.Equal(nextFree)):
			t.Fatalf("nextFreeAt = %v, want %s", v.Daily.NextFreeAt, nextFree)
		}
	}
	create := func(prompt string) (service.CreateResult, error) {
		return h.roles.API.Create(h.ctx, caller, generation.Request{Prompt: prompt}, "")
	}
	want(0, 0, time.Time{})

	first := h.create(generation.Pro, "at Suno")
	firstAt := h.clock.Now()
	want(1, 1, time.Time{})
	h.mustRunNext(generation.Pro, service.JobGenerate)
	atSuno := h.get(first.ID)
	h.mustCancel(first)
	want(1, 1, time.Time{}) // its slot is held while Suno makes it

	h.clock.Advance(time.Minute)
	second, err := create("queued")
	if err != nil {
		t.Fatal(err)
	}
	want(2, 2, time.Time{})
	var se *service.Error
	if _, err := create("one too many"); !errors.As(err, &se) || se.Code != "quota_exceeded" {
		t.Fatalf("a create beyond 2 of 2 open: %v; want quota_exceeded", err)
	}
	h.mustCancel(second.Generation) // cancelled in the queue: frees at once
	want(1, 2, time.Time{})

	if _, err := create("the day's last"); err != nil {
		t.Fatal(err)
	}
	want(2, 3, firstAt.Add(24*time.Hour))

	// Suno's time for the cancelled song is up: its slot frees.
	h.clock.Advance(atSuno.SubmittedAt.Add(h.cfg.Deadline).Sub(h.clock.Now()))
	want(1, 3, firstAt.Add(24*time.Hour))
	// The first create leaves the window.
	h.clock.Advance(firstAt.Add(24 * time.Hour).Sub(h.clock.Now()))
	want(1, 2, time.Time{})

	// Another user's quota is their own.
	other, err := h.roles.API.Quota(h.ctx, identity.Caller{UserID: "someone-else", Tier: generation.Pro})
	if err != nil || *other.Open.Used != 0 || *other.Daily.Used != 0 {
		t.Fatalf("another user's quota: %+v, %v; want nothing used", other, err)
	}
	// Limits a tier does not have show no numbers.
	v, err := h.roles.API.Quota(h.ctx, callerOf(generation.Premium))
	if err != nil || v.Open != (service.OpenQuota{}) || v.Daily.Limit != 5 || *v.Daily.Used != 0 {
		t.Fatalf("PREMIUM with a daily limit only: %+v, %v; want no open limit and 0 of 5 today", v, err)
	}
	v, err = h.roles.API.Quota(h.ctx, callerOf(generation.Enterprise))
	if err != nil || v != (service.QuotaView{Tier: generation.Enterprise}) {
		t.Fatalf("ENTERPRISE without limits: %+v, %v; want neither limit", v, err)
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}
