package service_test

import (
	"errors"
	"testing"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// TestCallbackCompletesTheSong: Suno's callback for a finished task
// completes the song at once, from what Suno's record says; the poll that
// comes after finds nothing left to do and stops, and a repeated callback
// changes nothing.
func TestCallbackCompletesTheSong(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Pro, "call me back")
	h.mustRunNext(generation.Pro, service.JobGenerate)
	g = h.get(g.ID)
	h.suno.setTask(g.TaskID, generation.TaskDone)
	if err := h.callback(g.TaskID, doneReport(g.TaskID)); err != nil {
		t.Fatalf("callback: %v", err)
	}
	done := h.get(g.ID)
	mustBe(t, done, generation.Completed, generation.ProgressDone)
	if len(done.Tracks) != 2 {
		t.Fatalf("completed with %d tracks, want 2", len(done.Tracks))
	}
	if err := h.callback(g.TaskID, doneReport(g.TaskID)); err != nil {
		t.Fatalf("repeated callback: %v", err)
	}
	lookups := h.suno.taskLookups()
	if jobs := h.drain(generation.Pro, 5); len(jobs) != 1 || jobs[0].Kind != service.JobPoll {
		t.Fatalf("after the callback ran %+v; want the one poll, which stops", jobs)
	}
	if h.suno.taskLookups() != lookups {
		t.Errorf("the poll asked Suno about a completed song")
	}
	if got := h.get(g.ID); got.Version != done.Version {
		t.Fatalf("a late callback or poll changed the completed song: %+v", got)
	}
}

// TestCallbackWithABadSignatureIsRefused: a callback whose URL this
// service did not sign is refused and changes nothing, so nobody but Suno
// can report on a song.
func TestCallbackWithABadSignatureIsRefused(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Pro, "forged")
	h.mustRunNext(generation.Pro, service.JobGenerate)
	g = h.get(g.ID)
	h.suno.setTask(g.TaskID, generation.TaskDone)
	lookups := h.suno.taskLookups()
	sig, err := h.roles.Callbacks.Signature(h.ctx, "another-generation")
	if err != nil {
		t.Fatal(err)
	}
	err = h.roles.Callbacks.Handle(h.ctx, service.CallbackAuth{GenerationID: g.ID, Signature: sig}, doneReport(g.TaskID))
	var se *service.Error
	if !errors.As(err, &se) || se.Kind != service.KindNotFound {
		t.Fatalf("forged callback: %v; want a not-found error", err)
	}
	if got := h.get(g.ID); got.Version != g.Version || h.suno.taskLookups() != lookups {
		t.Fatalf("a forged callback changed the song or asked Suno: %+v", got)
	}
}

// TestCallbackBeforeTheTaskIDIsSaved: when the worker dies after Suno
// accepted the song but before it saved the task id, a callback for that
// task that arrives first is ignored (answered, nothing changed), and the
// poll job the worker queued before dying adopts the task id and completes
// the song: nothing is lost, and Suno makes it only once.
func TestCallbackBeforeTheTaskIDIsSaved(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Free, "early callback")
	h.store.setOnSave(func(next generation.Generation, from generation.Status) {
		if from == generation.Processing && next.TaskID != "" && next.Progress == generation.ProgressSubmitted {
			panic(workerDeath{}) // the worker dies as it saves the task id
		}
	})
	before := h.queue.count()
	if _, err := h.runNext(generation.Free); err != errDied {
		t.Fatalf("the generate job: %v, want the worker dead", err)
	}
	h.store.setOnSave(nil)
	subs := h.suno.submissions()
	if len(subs) != 1 {
		t.Fatalf("%d submissions, want 1", len(subs))
	}
	taskID := subs[0].TaskID
	orphan := h.get(g.ID)
	mustBe(t, orphan, generation.Processing, generation.ProgressPickedUp)
	if orphan.TaskID != "" {
		t.Fatalf("task id %q saved; the test meant the worker to die first", orphan.TaskID)
	}
	if sent := h.queue.sentSince(before); len(sent) != 1 || sent[0].Job.Kind != service.JobPoll || sent[0].Job.TaskID != taskID {
		t.Fatalf("the dying worker queued %+v; want the poll job carrying %s", sent, taskID)
	}

	// Suno finishes fast and calls back before anyone saved the task id.
	h.suno.setTask(taskID, generation.TaskDone)
	lookups := h.suno.taskLookups()
	if err := h.callback(taskID, doneReport(taskID)); err != nil {
		t.Fatalf("early callback: %v; want it answered", err)
	}
	if got := h.get(g.ID); got.Version != orphan.Version {
		t.Fatalf("the early callback changed the song: %+v", got)
	}
	if h.suno.taskLookups() != lookups {
		t.Errorf("the early callback asked Suno about a task the song does not have yet")
	}

	// The poll job adopts the task id and finds the task done.
	job := h.mustRunNext(generation.Free, service.JobPoll)
	if job.TaskID != taskID {
		t.Fatalf("poll for %q, want %q", job.TaskID, taskID)
	}
	g = h.get(g.ID)
	mustBe(t, g, generation.Completed, generation.ProgressDone)
	if g.TaskID != taskID || g.Attempts != 1 || len(g.Tracks) != 2 {
		t.Fatalf("completed %+v; want task %s, attempt 1, two tracks", g, taskID)
	}
	// The dead worker's message comes back and drops itself.
	if jobs := h.drain(generation.Free, 5); len(jobs) != 1 || jobs[0].Kind != service.JobGenerate {
		t.Fatalf("then ran %+v; want the dead worker's generate job, dropped", jobs)
	}
	if n := len(h.suno.submissions()); n != 1 {
		t.Fatalf("%d submissions, want 1", n)
	}
	if got := h.get(g.ID); got.Version != g.Version {
		t.Fatalf("the redelivered generate job changed the completed song: %+v", got)
	}
}
