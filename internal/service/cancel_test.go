package service_test

import (
	"errors"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// mustCancel cancels g as its owner would and checks the answer.
func (h *harness) mustCancel(g generation.Generation) generation.Generation {
	h.t.Helper()
	c, err := h.cancel(g)
	if err != nil {
		h.t.Fatalf("cancel: %v", err)
	}
	if c.Status != generation.Cancelled {
		h.t.Fatalf("cancel answered %s, want cancelled", c.Status)
	}
	if again, err := h.cancel(g); err != nil || again.Version != c.Version {
		h.t.Fatalf("cancelling again: %+v, %v; want the same cancelled song, no error", again, err)
	}
	return c
}

// staysCancelled sends Suno's callback for every task of the song (done,
// whatever stage it had reached), runs every job left in the queue, and
// checks that none of it changed the cancelled song, reached Suno with a
// new submission, or copied a file.
func (h *harness) staysCancelled(cancelled generation.Generation) {
	h.t.Helper()
	subs := h.suno.submissions()
	fetches := len(h.fetcher.fetches())
	for _, s := range subs {
		h.suno.setTask(s.TaskID, generation.TaskDone)
		if err := h.callback(s.TaskID, doneReport(s.TaskID)); err != nil {
			h.t.Fatalf("callback for %s after the cancel: %v", s.TaskID, err)
		}
	}
	h.drain(cancelled.Tier, 20)
	got := h.get(cancelled.ID)
	if got.Status != generation.Cancelled || got.Version != cancelled.Version {
		h.t.Fatalf("after the cancel: %s, version %d (%+v); want it cancelled, unchanged at version %d",
			got.Status, got.Version, got, cancelled.Version)
	}
	if n := len(h.suno.submissions()); n != len(subs) {
		h.t.Fatalf("%d submissions after the cancel, want none (had %d)", n-len(subs), len(subs))
	}
	if n := len(h.fetcher.fetches()); n != fetches {
		h.t.Fatalf("%d downloads after the cancel, want none", n-fetches)
	}
}

// TestCancelPending: a song cancelled while it waits in the queue never
// reaches Suno.
func TestCancelPending(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Free, "never mind")
	c := h.mustCancel(g)
	h.staysCancelled(c)
	if n := len(h.suno.submissions()); n != 0 {
		t.Fatalf("%d submissions of a song cancelled in the queue", n)
	}
}

// TestCancelWhileClaimed: a song cancelled while its worker waits for
// Suno to accept it stays cancelled: the task id Suno answers is not
// recorded over the cancel, the poll the worker queued stops, and Suno's
// callback changes nothing.
func TestCancelWhileClaimed(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Pro, "cancel me mid-submit")
	var c generation.Generation
	h.suno.script(submitAnswer{hook: func() {
		mustBe(t, h.get(g.ID), generation.Processing, generation.ProgressPickedUp)
		c = h.mustCancel(g)
	}})
	h.mustRunNext(generation.Pro, service.JobGenerate)
	if got := h.get(g.ID); got.Status != generation.Cancelled || got.Version != c.Version {
		t.Fatalf("after the worker's submit: %+v; want the cancel to stand", got)
	}
	lookups := h.suno.taskLookups()
	h.staysCancelled(c)
	if n := len(h.suno.submissions()); n != 1 {
		t.Fatalf("%d submissions, want the 1 under way at the cancel", n)
	}
	if h.suno.taskLookups() != lookups {
		t.Errorf("Suno was asked about the task of a cancelled song")
	}
}

// TestCancelWhileADeadWorkerHoldsTheClaim: a song cancelled while the
// worker that claimed it lies dead is not picked up again when the job
// comes back: no second attempt, no submission.
func TestCancelWhileADeadWorkerHoldsTheClaim(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Pro, "cancel a stranded song")
	h.suno.script(submitAnswer{die: true})
	if _, err := h.runNext(generation.Pro); err != errDied {
		t.Fatalf("generate job: %v, want the worker dead", err)
	}
	c := h.mustCancel(h.get(g.ID))
	h.clock.Advance(testLease) // the job comes back, the lease long gone
	h.staysCancelled(c)
	if n := len(h.suno.submissions()); n != 0 {
		t.Fatalf("%d submissions of a song cancelled before Suno had it", n)
	}
}

// TestCancelSubmitted: a song cancelled once Suno has it (30 %) is not
// completed by the task finishing, by callback or by poll.
func TestCancelSubmitted(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Premium, "cancel after submit")
	h.mustRunNext(generation.Premium, service.JobGenerate)
	mustBe(t, h.get(g.ID), generation.Processing, generation.ProgressSubmitted)
	c := h.mustCancel(g)
	h.staysCancelled(c)
}

// TestCancelFirstTrackReady: a song cancelled after its first track can
// be streamed (70 %) stays cancelled when Suno finishes.
func TestCancelFirstTrackReady(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Enterprise, "cancel after the first track")
	h.mustRunNext(generation.Enterprise, service.JobGenerate)
	g = h.get(g.ID)
	h.suno.setTask(g.TaskID, generation.TaskFirstReady)
	h.mustRunNext(generation.Enterprise, service.JobPoll)
	mustBe(t, h.get(g.ID), generation.Processing, generation.ProgressFirst)
	c := h.mustCancel(g)
	h.staysCancelled(c)
}

// TestCancelWhileSaving: with copies kept, a song cancelled while its
// files are being copied (90 %) stays cancelled: the archive job copies
// nothing and does not complete it.
func TestCancelWhileSaving(t *testing.T) {
	h := newHarness(t, withArchive(0, 3))
	g := h.saving("cancel while saving")
	if n := h.depth(generation.Pro); n != 1 {
		t.Fatalf("%d messages while saving, want the archive job", n)
	}
	c := h.mustCancel(g)
	h.staysCancelled(c)
	if n := len(h.fetcher.fetches()); n != 0 {
		t.Fatalf("%d downloads for a cancelled song", n)
	}
}

// TestCancelCompletedIsRefused: a finished song cannot be cancelled; the
// owner is told it is already finished, and it stays completed.
func TestCancelCompletedIsRefused(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Free, "too late")
	h.mustRunNext(generation.Free, service.JobGenerate)
	g = h.get(g.ID)
	h.suno.setTask(g.TaskID, generation.TaskDone)
	h.drain(generation.Free, 5)
	done := h.get(g.ID)
	mustBe(t, done, generation.Completed, generation.ProgressDone)
	_, err := h.cancel(done)
	var se *service.Error
	if !errors.As(err, &se) || se.Code != "already_finished" || se.Kind != service.KindConflict {
		t.Fatalf("cancel of a completed song: %v; want already_finished", err)
	}
	if got := h.get(g.ID); got.Status != generation.Completed || got.Version != done.Version {
		t.Fatalf("the refused cancel changed the song: %+v", got)
	}
}

// TestCancelAtSunoKeepsTheQuotaSlot: a song cancelled while Suno makes it
// keeps its owner's open-quota slot until Suno's time for the attempt is
// up, so a loop of creates and cancels cannot keep Suno busier than the
// open quota allows; a song cancelled before it reached Suno frees its
// slot at once.
func TestCancelAtSunoKeepsTheQuotaSlot(t *testing.T) {
	h := newHarness(t, func(h *harness) {
		h.cfg.Quotas = map[generation.Tier]service.Quota{generation.Enterprise: {Open: 1}}
	})
	caller := callerOf(generation.Enterprise)
	create := func(prompt string) (service.CreateResult, error) {
		return h.roles.API.Create(h.ctx, caller, generation.Request{Prompt: prompt}, "")
	}
	g := h.create(generation.Enterprise, "at Suno")
	h.mustRunNext(generation.Enterprise, service.JobGenerate)
	atSuno := h.get(g.ID)
	if atSuno.TaskID == "" {
		t.Fatalf("not submitted: %+v", atSuno)
	}
	h.mustCancel(g)

	_, err := create("right after the cancel")
	var se *service.Error
	if !errors.As(err, &se) || se.Code != "quota_exceeded" {
		t.Fatalf("create while the cancelled song is at Suno: %v; want quota_exceeded", err)
	}
	h.clock.Advance(atSuno.SubmittedAt.Add(h.cfg.Deadline).Sub(h.clock.Now()) - time.Second)
	if _, err := create("a second before Suno's time is up"); !errors.As(err, &se) || se.Code != "quota_exceeded" {
		t.Fatalf("create a second before Suno's time is up: %v; want quota_exceeded", err)
	}
	h.clock.Advance(time.Second)
	second, err := create("once Suno's time is up")
	if err != nil {
		t.Fatalf("create once Suno's time for the cancelled song is up: %v", err)
	}
	// Not yet at Suno: its cancel frees the slot at once.
	h.mustCancel(second.Generation)
	if _, err := create("after cancelling a queued song"); err != nil {
		t.Fatalf("create after cancelling a song still in the queue: %v", err)
	}
}
