package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/media"
	"github.com/songqueue/songqueue/internal/metrics"
)

// Songs that last (DESIGN.md section 11). When Suno reports a task done,
// the generation moves to saving (90 %) and an archive job copies each
// track's audio and cover into the stack's own storage; only then is it
// completed, with URLs of the copies. The copy runs in the worker, not in
// Suno's callback (which must be answered within 15 seconds), and every
// step of it is safe to repeat: the keys are fixed by the generation and
// the track, so a second copy overwrites the first, and the completion is
// a conditional write of the saving state.

// archive runs an archive job.
//
// The owner may delete a finished song (cancelled while saving, or
// completed before its copy) while the job copies its files: the delete
// removes the copies it finds, and the job may write more after. So the
// job looks for the song after writing, in the conditional write that
// records the outcome, and removes what it wrote when the song is gone;
// a job that finds its song gone before copying (another try after a
// failed copy, a delivery after such a removal failed) removes any copies
// too.
func (w *Worker) archive(ctx context.Context, job Job) error {
	g, found, err := w.load(ctx, job.GenerationID)
	if err != nil {
		return err
	}
	if !found {
		if !w.archiving() {
			return nil
		}
		return w.dropCopies(ctx, job.GenerationID)
	}
	saving := g.Status == generation.Processing && g.Progress == generation.ProgressSaving && g.TaskID == job.TaskID
	late := g.Status == generation.Completed && !g.Archived
	if !saving && !late || !w.archiving() {
		return nil // done, cancelled, or superseded by a later attempt
	}
	tracks, err := w.copyTracks(ctx, g)
	if err != nil {
		// The copy may have run into the invocation's deadline; what
		// follows must still be written.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err = w.copyFailed(ctx, g, job, err)
	} else {
		_, err = w.complete(ctx, g, completion{taskID: job.TaskID, tracks: tracks, archived: true})
		if isSettled(err) {
			err = nil
		}
	}
	if errors.Is(err, ErrNotFound) {
		// Deleted while the copy ran: what it wrote would stay for good.
		return w.dropCopies(ctx, g.ID)
	}
	return err
}

// dropCopies removes the copies of a generation that no longer exists. A
// failure comes back as the job's, so the job is delivered again and
// tries again.
func (w *Worker) dropCopies(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := w.media.Delete(ctx, id); err != nil {
		return fmt.Errorf("remove the copies of deleted generation %s: %w", id, err)
	}
	w.log.InfoContext(ctx, "copies of a generation deleted during its copy removed", "generationId", id)
	return nil
}

// copyFailed retries a failed copy with backoff; after the last try the
// generation completes with Suno's URLs, marked as not archived, and the
// sweeper tries again later (until Suno has deleted the files).
func (w *Worker) copyFailed(ctx context.Context, g generation.Generation, job Job, cause error) error {
	var fe *media.Error
	permanent := errors.As(cause, &fe) && fe.Permanent
	if !permanent && job.Tries+1 < w.cfg.ArchiveAttempts {
		delay := w.cfg.Retry.Backoff(job.Tries + 1)
		w.log.WarnContext(ctx, "copy failed; trying again", "generationId", g.ID, "try", job.Tries+1, "delay", delay, "err", cause)
		job.Tries++
		return w.send(ctx, job, delay)
	}
	again := w.now().Add(w.cfg.ArchiveRetry)
	if w.now().Sub(g.CreatedAt) > sunoRetention {
		again = time.Time{} // Suno no longer has the files: stop trying
	}
	next, err := w.complete(ctx, g, completion{taskID: job.TaskID, tracks: g.Tracks, copyAgainAt: again})
	if err != nil {
		if isSettled(err) {
			return nil
		}
		return err
	}
	w.logStepAt(ctx, slog.LevelWarn, next, stepNotArchived, "reason", cause.Error(), "nextTry", again)
	w.count(ctx, next, metrics.One(metrics.NotArchived))
	return nil
}

// sunoRetention is how long Suno keeps a task's files ("Generated files
// are retained for 15 days before being deleted"), with a day's margin.
const sunoRetention = 16 * 24 * time.Hour

// mediaKey is where a track's file is kept: fixed by the generation, the
// track's place and what the file is, so every copy of it lands on the
// same key.
func mediaKey(g generation.Generation, i int, what, ext string) string {
	return fmt.Sprintf("%s/%d-%s%s", g.ID, i, what, ext)
}

// copyMargin is what a copy leaves of the invocation's time, to record
// its outcome: at most this, and never more than a fifth of what is left,
// so a short invocation (a test's, a tight WORKER_TIMEOUT) still copies
// instead of starting past its own deadline.
const copyMargin = 3 * time.Second

// copyDeadline is when a copy with dl as its invocation's deadline stops.
func copyDeadline(now, dl time.Time) time.Time {
	return dl.Add(-min(copyMargin, dl.Sub(now)/5))
}

// copyTracks copies every track's audio and image and returns the tracks
// pointing at the copies, Suno's URLs kept as their sources. It ends before
// the invocation does, so a slow download fails as a retryable copy rather
// than a timed-out worker.
func (w *Worker) copyTracks(ctx context.Context, g generation.Generation) ([]generation.Track, error) {
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		// The wall clock, not w.now: a context's deadline is on it.
		ctx, cancel = context.WithDeadline(ctx, copyDeadline(time.Now(), dl))
		defer cancel()
	}
	out := make([]generation.Track, len(g.Tracks))
	for i, t := range g.Tracks {
		if t.SourceAudioURL == "" {
			t.SourceAudioURL = t.AudioURL
		}
		if t.SourceImageURL == "" {
			t.SourceImageURL = t.ImageURL
		}
		if t.SourceAudioURL == "" {
			return nil, &media.Error{URL: "(none)", Reason: fmt.Sprintf("track %d has no audio URL", i), Permanent: true}
		}
		u, err := w.copyFile(ctx, g, i, "audio", t.SourceAudioURL, media.Audio)
		if err != nil {
			return nil, err
		}
		t.AudioURL = u
		if t.SourceImageURL != "" {
			if t.ImageURL, err = w.copyFile(ctx, g, i, "image", t.SourceImageURL, media.Image); err != nil {
				return nil, err
			}
		}
		out[i] = t
	}
	return out, nil
}

func (w *Worker) copyFile(ctx context.Context, g generation.Generation, i int, what, src string, kind media.Kind) (string, error) {
	// Checked again here, whatever was checked before: nothing is fetched
	// from a host that is not Suno's.
	if err := mediaURL(src, w.cfg.MediaHosts); err != nil {
		return "", &media.Error{URL: src, Reason: err.Error(), Permanent: true}
	}
	f, err := w.fetcher.Fetch(ctx, src, kind)
	if err != nil {
		return "", err
	}
	defer f.Close()
	key := mediaKey(g, i, what, media.Ext(f.ContentType))
	if err := w.media.Put(ctx, key, f.ContentType, f, f.Size); err != nil {
		return "", fmt.Errorf("store %s: %w", key, err)
	}
	w.log.DebugContext(ctx, "file copied", "generationId", g.ID, "key", key, "bytes", f.Size, "sha256", f.SHA256)
	return w.media.URL(key), nil
}
