package service_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// TestWorkerTakesASongFromQueueToReady: a created song is submitted to
// Suno once, reports its first track and then its tracks through the
// worker's polls alone, and ends completed with Suno's tracks.
func TestWorkerTakesASongFromQueueToReady(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Pro, "a song about queues")
	mustBe(t, g, generation.Pending, 0)

	h.mustRunNext(generation.Pro, service.JobGenerate)
	g = h.get(g.ID)
	mustBe(t, g, generation.Processing, generation.ProgressSubmitted)
	subs := h.suno.submissions()
	if len(subs) != 1 || g.TaskID != subs[0].TaskID || subs[0].Request.Prompt != "a song about queues" {
		t.Fatalf("Suno got %+v; generation has task %q", subs, g.TaskID)
	}
	if !strings.Contains(subs[0].CallbackURL, "g="+g.ID) {
		t.Errorf("callback URL %q does not name the generation", subs[0].CallbackURL)
	}

	h.mustRunNext(generation.Pro, service.JobPoll) // Suno is still at it
	mustBe(t, h.get(g.ID), generation.Processing, generation.ProgressSubmitted)
	h.suno.setTask(g.TaskID, generation.TaskFirstReady)
	h.mustRunNext(generation.Pro, service.JobPoll)
	mustBe(t, h.get(g.ID), generation.Processing, generation.ProgressFirst)
	h.suno.setTask(g.TaskID, generation.TaskDone)
	h.mustRunNext(generation.Pro, service.JobPoll)
	g = h.get(g.ID)
	mustBe(t, g, generation.Completed, generation.ProgressDone)
	if g.Attempts != 1 || len(g.Tracks) != 2 || g.Tracks[0].AudioURL != sunoTracks(g.TaskID)[0].AudioURL || g.Archived {
		t.Fatalf("completed generation %+v; want attempt 1 with Suno's two tracks", g)
	}
	if n := h.depth(generation.Pro); n != 0 {
		t.Fatalf("%d messages left after completion; the poll must stop", n)
	}
}

// TestClaimLostToAnotherWorker: when the queue delivers a generate job
// twice and the second copy arrives while the first holds the claim, the
// song is still submitted to Suno exactly once. The second copy does not
// vanish (the first worker might die): it comes back when the claim's
// lease ends, and then finds the song submitted and drops itself.
func TestClaimLostToAnotherWorker(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Free, "one song, two deliveries")
	var duplicate service.Job
	var requeued []sentJob
	h.suno.script(submitAnswer{hook: func() {
		// While the first worker waits for Suno, the queue delivers a
		// second copy of the job (SQS delivers at least once).
		claimed := h.get(g.ID)
		mustBe(t, claimed, generation.Processing, generation.ProgressPickedUp)
		if err := h.queue.Queues.Send(h.ctx, service.Job{Kind: service.JobGenerate, GenerationID: g.ID, Tier: g.Tier, UserID: g.UserID,
			Attempt: 1, EnqueuedAt: g.CreatedAt}, 0); err != nil {
			t.Fatal(err)
		}
		before := h.queue.count()
		duplicate = h.mustRunNext(generation.Free, service.JobGenerate)
		requeued = h.queue.sentSince(before)
		now := h.clock.Now()
		if len(requeued) != 1 || requeued[0].Job.Kind != service.JobGenerate || requeued[0].Job.Attempt != 1 ||
			!requeued[0].Job.NotBefore.Equal(claimed.LeaseUntil.Add(time.Second)) || requeued[0].Delay != claimed.LeaseUntil.Sub(now)+time.Second {
			t.Fatalf("the second copy queued %+v; want the same job again, for a second after the lease ends at %s",
				requeued, claimed.LeaseUntil)
		}
		if n := len(h.suno.submissions()); n != 0 {
			t.Fatalf("the second copy submitted (%d submissions) while the first held the claim", n)
		}
	}})
	h.mustRunNext(generation.Free, service.JobGenerate)
	if duplicate.GenerationID != g.ID {
		t.Fatalf("the second copy ran for %q", duplicate.GenerationID)
	}
	g = h.get(g.ID)
	mustBe(t, g, generation.Processing, generation.ProgressSubmitted)
	h.suno.setTask(g.TaskID, generation.TaskDone)
	// The poll completes the song; the re-queued copy comes back after the
	// lease and drops itself; nothing is left.
	jobs := h.drain(generation.Free, 10)
	var sawCopy bool
	for _, j := range jobs {
		sawCopy = sawCopy || j.Kind == service.JobGenerate
	}
	if !sawCopy {
		t.Fatalf("the re-queued copy never came back: ran %+v", jobs)
	}
	if subs := h.suno.submissions(); len(subs) != 1 {
		t.Fatalf("Suno got %d submissions, want exactly 1", len(subs))
	}
	g = h.get(g.ID)
	mustBe(t, g, generation.Completed, generation.ProgressDone)
	if g.Attempts != 1 {
		t.Fatalf("attempts = %d, want 1", g.Attempts)
	}
}

// TestLapsedClaimEndsTheAttempt: a worker that claims a song and dies
// before Suno has it does not strand the song, nor submit it twice in one
// attempt: once the claim's lease has passed, the redelivered job ends
// that attempt as a transient failure and queues attempt 2, which Suno
// gets, once.
func TestLapsedClaimEndsTheAttempt(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Pro, "the worker dies")
	h.suno.script(submitAnswer{die: true})
	if _, err := h.runNext(generation.Pro); err != errDied {
		t.Fatalf("first delivery: %v, want the worker dead", err)
	}
	claimed := h.get(g.ID)
	mustBe(t, claimed, generation.Processing, generation.ProgressPickedUp)
	if claimed.TaskID != "" || claimed.Attempts != 1 {
		t.Fatalf("claimed generation %+v", claimed)
	}

	// The message comes back after its visibility timeout, inside the
	// lease: it must wait for the lease, not act.
	before := h.queue.count()
	job := h.mustRunNext(generation.Pro, service.JobGenerate)
	if !h.clock.Now().Before(claimed.LeaseUntil) {
		t.Fatalf("redelivered at %s, after the lease (%s); the test's timings are off", h.clock.Now(), claimed.LeaseUntil)
	}
	if job.Attempt != 1 || h.get(g.ID).Version != claimed.Version {
		t.Fatalf("a redelivery inside the lease changed the generation: %+v", h.get(g.ID))
	}
	// Past the lease, the claim has lapsed: the attempt ends.
	h.mustRunNext(generation.Pro, service.JobGenerate)
	if !h.clock.Now().After(claimed.LeaseUntil) {
		t.Fatalf("the waiting copy came back at %s, inside the lease (until %s)", h.clock.Now(), claimed.LeaseUntil)
	}
	retried := h.get(g.ID)
	mustBe(t, retried, generation.Pending, 0)
	if retried.Attempts != 1 || retried.Error == "" || !retried.WaitUntil.Equal(h.clock.Now().Add(testBackoff)) {
		t.Fatalf("after the lapsed claim: %+v; want pending after attempt 1, an error, waiting %s", retried, testBackoff)
	}
	var next []service.Job
	for _, s := range h.queue.sentSince(before) {
		if s.Job.Kind == service.JobGenerate && s.Job.Attempt == 2 {
			next = append(next, s.Job)
		}
	}
	if len(next) != 1 {
		t.Fatalf("queued %+v; want one job for attempt 2", h.queue.sentSince(before))
	}
	if n := len(h.suno.submissions()); n != 0 {
		t.Fatalf("%d submissions before attempt 2", n)
	}

	job = h.mustRunNext(generation.Pro, service.JobGenerate)
	if job.Attempt != 2 {
		t.Fatalf("ran attempt %d, want 2", job.Attempt)
	}
	g = h.get(g.ID)
	mustBe(t, g, generation.Processing, generation.ProgressSubmitted)
	if g.Attempts != 2 || len(h.suno.submissions()) != 1 {
		t.Fatalf("attempt 2: %+v, %d submissions; want attempt 2 submitted once", g, len(h.suno.submissions()))
	}
	h.suno.setTask(g.TaskID, generation.TaskDone)
	h.drain(generation.Pro, 10)
	mustBe(t, h.get(g.ID), generation.Completed, generation.ProgressDone)
	if n := len(h.suno.submissions()); n != 1 {
		t.Fatalf("%d submissions in all, want 1", n)
	}
}

// TestTransientSubmitFailureIsRetried: a submission Suno fails with a
// transient error puts the song back in line for the retry's backoff, and
// the second attempt makes it; the song shows two attempts and no error.
func TestTransientSubmitFailureIsRetried(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Premium, "try again")
	h.suno.script(submitAnswer{err: &generation.Failure{Kind: generation.Transient, Reason: "x"}})
	before := h.queue.count()
	h.mustRunNext(generation.Premium, service.JobGenerate)
	failedAt := h.clock.Now()
	retried := h.get(g.ID)
	mustBe(t, retried, generation.Pending, 0)
	if retried.Attempts != 1 || retried.Error == "" || !retried.WaitUntil.Equal(failedAt.Add(testBackoff)) {
		t.Fatalf("after the failure: %+v; want pending after attempt 1, the error shown, waiting until %s", retried, failedAt.Add(testBackoff))
	}
	sent := h.queue.sentSince(before)
	if len(sent) != 1 || sent[0].Job.Attempt != 2 || sent[0].Delay != testBackoff {
		t.Fatalf("queued %+v; want attempt 2 after %s", sent, testBackoff)
	}
	if st, err := h.roles.API.Stats(h.ctx); err != nil || st.ByTier[generation.Premium].Delayed != 1 {
		t.Fatalf("stats %+v, %v; want the song counted as delayed during its backoff", st.ByTier[generation.Premium], err)
	}

	job := h.mustRunNext(generation.Premium, service.JobGenerate)
	if job.Attempt != 2 || h.clock.Now().Before(failedAt.Add(testBackoff)) {
		t.Fatalf("attempt %d ran at %s, before the backoff ended", job.Attempt, h.clock.Now())
	}
	g = h.get(g.ID)
	mustBe(t, g, generation.Processing, generation.ProgressSubmitted)
	h.suno.setTask(g.TaskID, generation.TaskDone)
	h.drain(generation.Premium, 10)
	g = h.get(g.ID)
	mustBe(t, g, generation.Completed, generation.ProgressDone)
	if g.Attempts != 2 || g.Error != "" {
		t.Fatalf("completed %+v; want attempts 2 and no error", g)
	}
	if n := len(h.suno.submissions()); n != 1 || h.suno.refusals() != 1 {
		t.Fatalf("%d accepted and %d refused submissions, want 1 and 1", n, h.suno.refusals())
	}
}

// TestPermanentSubmitFailureFailsAtOnce: a submission Suno refuses for
// good ends the song after its one attempt, with the reason, and nothing
// is queued to try again.
func TestPermanentSubmitFailureFailsAtOnce(t *testing.T) {
	h := newHarness(t)
	g := h.create(generation.Enterprise, "a refused prompt")
	h.suno.script(submitAnswer{err: &generation.Failure{Kind: generation.Permanent, Code: generation.CodeContentRefused, Reason: "sensitive words"}})
	before := h.queue.count()
	h.mustRunNext(generation.Enterprise, service.JobGenerate)
	g = h.get(g.ID)
	mustBe(t, g, generation.Failed, g.Progress)
	if g.Attempts != 1 || g.Error == "" {
		t.Fatalf("failed %+v; want 1 attempt and the reason", g)
	}
	if sent := h.queue.sentSince(before); len(sent) != 0 {
		t.Fatalf("queued %+v after a permanent failure", sent)
	}
	if n := h.depth(generation.Enterprise); n != 0 {
		t.Fatalf("%d messages left after a permanent failure", n)
	}
	if st, err := h.roles.API.Stats(h.ctx); err != nil || st.Failed != 1 || st.Total != 1 {
		t.Fatalf("stats %+v, %v; want one failed generation", st, err)
	}
}

// TestArchiveRetriesAFailedCopy: with copies kept, a download that fails
// once is tried again after a backoff, and the song completes pointing at
// the stack's copies, Suno's URLs kept as their sources.
func TestArchiveRetriesAFailedCopy(t *testing.T) {
	h := newHarness(t, withArchive(1, 3))
	g := h.create(generation.Pro, "keep it")
	h.mustRunNext(generation.Pro, service.JobGenerate)
	g = h.get(g.ID)
	h.suno.setTask(g.TaskID, generation.TaskDone)
	before := h.queue.count()
	h.mustRunNext(generation.Pro, service.JobPoll)
	mustBe(t, h.get(g.ID), generation.Processing, generation.ProgressSaving)
	if sent := h.queue.sentSince(before); len(sent) != 1 || sent[0].Job.Kind != service.JobArchive || sent[0].Delay != 0 {
		t.Fatalf("queued %+v, want one archive job at once", sent)
	}

	before = h.queue.count()
	h.mustRunNext(generation.Pro, service.JobArchive) // the first download fails
	mustBe(t, h.get(g.ID), generation.Processing, generation.ProgressSaving)
	sent := h.queue.sentSince(before)
	if len(sent) != 1 || sent[0].Job.Kind != service.JobArchive || sent[0].Job.Tries != 1 || sent[0].Delay != testBackoff {
		t.Fatalf("after a failed copy queued %+v; want the archive job again after %s", sent, testBackoff)
	}
	h.mustRunNext(generation.Pro, service.JobArchive)
	g = h.get(g.ID)
	mustBe(t, g, generation.Completed, generation.ProgressDone)
	if !g.Archived || len(g.Tracks) != 2 {
		t.Fatalf("completed %+v; want archived with two tracks", g)
	}
	src := sunoTracks(g.TaskID)
	for i, tr := range g.Tracks {
		for _, c := range []struct{ url, source, key, what string }{
			{tr.AudioURL, tr.SourceAudioURL, g.ID + "/" + strconv.Itoa(i) + "-audio.mp3", src[i].AudioURL},
			{tr.ImageURL, tr.SourceImageURL, g.ID + "/" + strconv.Itoa(i) + "-image.png", src[i].ImageURL},
		} {
			if c.url != h.media.URL(c.key) || c.source != c.what {
				t.Errorf("track %d: URL %q (source %q), want the copy %q of %q", i, c.url, c.source, h.media.URL(c.key), c.what)
			}
			body, err := os.ReadFile(filepath.Join(h.mediaDir, filepath.FromSlash(c.key)))
			if err != nil || string(body) != "bytes of "+c.what {
				t.Errorf("copy %s: %q, %v", c.key, body, err)
			}
		}
	}
	if n := h.depth(generation.Pro); n != 0 {
		t.Fatalf("%d messages left after the copy", n)
	}
}

// TestArchiveGivesUpWithSunoURLs: when every download fails, the song
// still completes after ArchiveAttempts tries, with Suno's URLs and marked
// as not archived (the sweeper tries the copy again later).
func TestArchiveGivesUpWithSunoURLs(t *testing.T) {
	h := newHarness(t, withArchive(-1, 2))
	g := h.saving("keep it if you can")
	h.mustRunNext(generation.Pro, service.JobArchive)
	mustBe(t, h.get(g.ID), generation.Processing, generation.ProgressSaving)
	h.mustRunNext(generation.Pro, service.JobArchive)
	g = h.get(g.ID)
	mustBe(t, g, generation.Completed, generation.ProgressDone)
	if g.Archived || len(g.Tracks) != 2 || g.Tracks[0].AudioURL != sunoTracks(g.TaskID)[0].AudioURL {
		t.Fatalf("completed %+v; want Suno's tracks, not archived", g)
	}
	if !g.Deadline.Equal(h.clock.Now().Add(h.cfg.ArchiveRetry)) {
		t.Errorf("next copy try at %s, want %s", g.Deadline, h.clock.Now().Add(h.cfg.ArchiveRetry))
	}
	if n := len(h.fetcher.fetches()); n != 2 {
		t.Errorf("%d downloads, want 2 (one per try; each stops at the first failure)", n)
	}
	if n := h.depth(generation.Pro); n != 0 {
		t.Fatalf("%d messages left after giving up the copy", n)
	}
}

// TestSweepOfAFinishedTaskSavesIt: a sweep that finds Suno done with an
// overdue task moves the song to saving and sends its copy; it does not
// also count the attempt as too slow (the song Suno made is kept, not
// made again).
func TestSweepOfAFinishedTaskSavesIt(t *testing.T) {
	h := newHarness(t, withArchive(0, 3))
	g := h.create(generation.Pro, "finished while nobody asked")
	h.mustRunNext(generation.Pro, service.JobGenerate)
	g = h.get(g.ID)
	h.suno.setTask(g.TaskID, generation.TaskDone)
	h.clock.Advance(testDeadline + time.Second)
	before := h.queue.count()
	r, err := h.roles.Sweeper.Sweep(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	g = h.get(g.ID)
	mustBe(t, g, generation.Processing, generation.ProgressSaving)
	if g.Attempts != 1 || r.Retried != 0 || r.Finished != 1 {
		t.Fatalf("sweep %+v left attempt %d; want the first attempt saving, nothing retried", r, g.Attempts)
	}
	if sent := h.queue.sentSince(before); len(sent) != 1 || sent[0].Job.Kind != service.JobArchive {
		t.Fatalf("the sweep queued %+v; want the archive job only", sent)
	}
}
