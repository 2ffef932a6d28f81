package service_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

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
// service did not sign, for this generation and attempt, is refused with
// a 403 before anything is read or asked, and changes nothing, so nobody
// but Suno can report on a song.
func TestCallbackWithABadSignatureIsRefused(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Pro, "forged")
	h.mustRunNext(generation.Pro, service.JobGenerate)
	g = h.get(g.ID)
	h.suno.setTask(g.TaskID, generation.TaskDone)
	lookups, sent := h.suno.taskLookups(), h.queue.count()
	genuine := sigOf(t, h.suno.submissions()[0].CallbackURL)
	parts := strings.Split(genuine, ".")
	if len(parts) != 3 || parts[0] != "1" {
		t.Fatalf("callback signature %q; want <attempt 1>.<expiry>.<mac>", genuine)
	}
	other, err := h.roles.Callbacks.Signature(h.ctx, "another-generation", 1)
	if err != nil {
		t.Fatal(err)
	}
	// What the service signed before: the generation id alone.
	m := hmac.New(sha256.New, []byte(testCallbackKey))
	m.Write([]byte(g.ID))
	idOnly := hex.EncodeToString(m.Sum(nil))[:32]
	for name, sig := range map[string]string{
		"another generation's":   other,
		"another attempt's":      "2." + parts[1] + "." + parts[2],
		"a later expiry":         parts[0] + "." + strconv.Itoa(mustAtoi(t, parts[1])+3600) + "." + parts[2],
		"the id-only signature":  idOnly,
		"empty":                  "",
		"a zero-padded attempt":  "01." + parts[1] + "." + parts[2],
		"a signature cut short":  parts[0] + "." + parts[1] + "." + parts[2][:31],
		"garbage in every field": "x.y.z",
		"extra fields":           genuine + ".1",
		"an all-zero mac":        parts[0] + "." + parts[1] + "." + strings.Repeat("0", 32),
	} {
		err = h.roles.Callbacks.Handle(h.ctx, service.CallbackAuth{GenerationID: g.ID, Signature: sig}, doneReport(g.TaskID))
		var se *service.Error
		if !errors.As(err, &se) || se.Kind != service.KindForbidden || se.Code != "invalid_callback_signature" {
			t.Errorf("callback with %s signature: %v; want 403 invalid_callback_signature", name, err)
		}
	}
	if got := h.get(g.ID); got.Version != g.Version || h.suno.taskLookups() != lookups || h.queue.count() != sent {
		t.Fatalf("a forged callback changed the song, asked Suno or queued a job: %+v", got)
	}
	// The genuine URL works.
	if err := h.callback(g.TaskID, doneReport(g.TaskID)); err != nil {
		t.Fatal(err)
	}
	mustBe(t, h.get(g.ID), generation.Completed, generation.ProgressDone)
}

// TestCallbackURLExpires: the URL Suno is given works until shortly after
// its attempt must have ended (the claim's lease and Suno's deadline, and
// a grace), and after that is refused with a 403 before anything is read:
// a leaked URL cannot prompt look-ups for ever. The song is finished by
// its poll job.
func TestCallbackURLExpires(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Pro, "call me back, but not for ever")
	h.mustRunNext(generation.Pro, service.JobGenerate)
	submittedAt := h.clock.Now()
	g = h.get(g.ID)
	parts := strings.Split(sigOf(t, h.suno.submissions()[0].CallbackURL), ".")
	expires := time.Unix(int64(mustAtoi(t, parts[1])), 0)
	if min := submittedAt.Add(testLease + testDeadline); expires.Before(min) || expires.After(min.Add(time.Hour)) {
		t.Fatalf("the callback URL expires at %s; want after the attempt's lease and deadline (%s), by at most an hour", expires, min)
	}
	h.clock.Advance(expires.Sub(h.clock.Now()) + time.Second)
	h.suno.setTask(g.TaskID, generation.TaskDone)
	lookups, sent := h.suno.taskLookups(), h.queue.count()
	err := h.callback(g.TaskID, doneReport(g.TaskID))
	var se *service.Error
	if !errors.As(err, &se) || se.Kind != service.KindForbidden || se.Code != "callback_expired" {
		t.Fatalf("expired callback: %v; want 403 callback_expired", err)
	}
	if got := h.get(g.ID); got.Version != g.Version || h.suno.taskLookups() != lookups || h.queue.count() != sent {
		t.Fatalf("an expired callback changed the song, asked Suno or queued a job: %+v", got)
	}
}

// TestCallbackForAnAttemptThatIsOver: the URL of an attempt that failed
// and was retried does nothing for the next attempt, whatever task id the
// callback names: no look-up, no job, no change.
func TestCallbackForAnAttemptThatIsOver(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Premium, "second time lucky")
	h.mustRunNext(generation.Premium, service.JobGenerate)
	first := h.get(g.ID)
	h.suno.mu.Lock()
	h.suno.tasks[first.TaskID] = generation.TaskReport{TaskID: first.TaskID, Stage: generation.TaskFailed,
		Failure: &generation.Failure{Kind: generation.Transient, Code: generation.CodeAudioFailed, Reason: "audio failed"}}
	h.suno.mu.Unlock()
	h.mustRunNext(generation.Premium, service.JobPoll) // attempt 1 fails
	h.mustRunNext(generation.Premium, service.JobGenerate)
	second := h.get(g.ID)
	mustBe(t, second, generation.Processing, generation.ProgressSubmitted)
	subs := h.suno.submissions()
	if second.Attempts != 2 || len(subs) != 2 || second.TaskID != subs[1].TaskID {
		t.Fatalf("attempt %d with task %q after %d submissions; want attempt 2 on the second", second.Attempts, second.TaskID, len(subs))
	}
	h.suno.setTask(second.TaskID, generation.TaskDone)
	lookups, sent := h.suno.taskLookups(), h.queue.count()
	// Attempt 1's URL, replayed with attempt 2's task.
	err := h.roles.Callbacks.Handle(h.ctx, service.CallbackAuth{GenerationID: g.ID, Signature: sigOf(t, subs[0].CallbackURL)}, doneReport(second.TaskID))
	if err != nil {
		t.Fatalf("callback of attempt 1: %v; want it answered, and ignored", err)
	}
	if got := h.get(g.ID); got.Version != second.Version || h.suno.taskLookups() != lookups || h.queue.count() != sent {
		t.Fatalf("attempt 1's callback acted on attempt 2 (lookups %d -> %d, jobs %d -> %d): %+v",
			lookups, h.suno.taskLookups(), sent, h.queue.count(), got)
	}
	// Attempt 2's own URL completes it.
	if err := h.callback(second.TaskID, doneReport(second.TaskID)); err != nil {
		t.Fatal(err)
	}
	mustBe(t, h.get(g.ID), generation.Completed, generation.ProgressDone)
}

// TestCallbackWhileSunoErrsStartsNoPollChain: while Suno's record-info
// fails, each callback (a replay of a leaked URL as much as Suno's own
// repeats) is answered and asks Suno once, and queues nothing: the
// attempt's own poll job, sent at submission, finishes the song when Suno
// answers again, and it is the only one.
func TestCallbackWhileSunoErrsStartsNoPollChain(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Pro, "replayed")
	h.mustRunNext(generation.Pro, service.JobGenerate)
	g = h.get(g.ID)
	h.suno.setTask(g.TaskID, generation.TaskDone)
	h.suno.failTasks(&generation.Failure{Kind: generation.Transient, Reason: "Suno answers 503"})
	lookups, sent := h.suno.taskLookups(), h.queue.count()
	const replays = 5
	for range replays {
		if err := h.callback(g.TaskID, doneReport(g.TaskID)); err != nil {
			t.Fatalf("callback while Suno errs: %v; want it answered", err)
		}
	}
	if jobs := h.queue.sentSince(sent); len(jobs) != 0 {
		t.Fatalf("%d callbacks while Suno errs queued %d jobs (%+v); want none", replays, len(jobs), jobs)
	}
	if n := h.suno.taskLookups() - lookups; n != replays {
		t.Errorf("%d callbacks made %d look-ups; want one each", replays, n)
	}
	mustBe(t, h.get(g.ID), generation.Processing, generation.ProgressSubmitted)

	h.suno.failTasks(nil)
	if jobs := h.drain(generation.Pro, 10); len(jobs) != 1 || jobs[0].Kind != service.JobPoll {
		t.Fatalf("then ran %+v; want the attempt's one poll job, which completes the song", jobs)
	}
	mustBe(t, h.get(g.ID), generation.Completed, generation.ProgressDone)
}

// sigOf is the sig parameter of a callback URL.
func sigOf(t *testing.T, callbackURL string) string {
	t.Helper()
	u, err := url.Parse(callbackURL)
	if err != nil || u.Query().Get("sig") == "" {
		t.Fatalf("callback URL %q has no signature (%v)", callbackURL, err)
	}
	return u.Query().Get("sig")
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
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

// TestTheEndIsPushedOnce: the callback and the sweeper both find Suno
// done. When the sweeper, holding the song as it was at saving, completes
// it between the callback's saving write and its completing write, the
// callback's write finds the song completed and changes nothing a page
// sees: one generation:complete reaches the page, not two (as on moto,
// where writes are slow and songs were pushed their end twice).
func TestTheEndIsPushedOnce(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Pro, "two paths to the end")
	h.mustRunNext(generation.Pro, service.JobGenerate)
	taskID := h.suno.submissions()[0].TaskID
	h.suno.setTask(taskID, generation.TaskDone)
	caller := callerOf(generation.Pro)
	peer := h.attach("c-1")
	if err := h.store.PutConnection(h.ctx, service.Connection{ID: "c-1", UserID: caller.UserID, Tier: caller.Tier,
		ConnectedAt: h.clock.Now(), ExpiresAt: h.clock.Now().Add(time.Hour)}, 0); err != nil {
		t.Fatal(err)
	}
	racing := true
	h.store.setOnSave(func(next generation.Generation, _ generation.Status) {
		if racing && next.Status == generation.Completed {
			racing = false // the sweeper's own write passes
			h.clock.Advance(2 * testDeadline)
			if r, err := h.roles.Sweeper.Sweep(h.ctx); err != nil || r.Finished != 1 {
				t.Errorf("the sweep: %+v, %v; want the song finished", r, err)
			}
		}
	})
	if err := h.callback(taskID, doneReport(taskID)); err != nil {
		t.Fatalf("callback: %v", err)
	}
	if racing {
		t.Fatal("the callback never wrote the end: the test raced nothing")
	}
	mustBe(t, h.get(g.ID), generation.Completed, 100)
	got, _ := peer.state()
	ends := 0
	for _, m := range got {
		if mustEvent(t, m).Event == service.EventComplete {
			ends++
		}
	}
	if ends != 1 {
		t.Fatalf("the page got %d generation:complete events, want 1: %q", ends, got)
	}
}
