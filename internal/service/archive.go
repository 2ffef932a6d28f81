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

// archiving reports whether the service keeps copies at all.
func (s *Service) archiving() bool { return s.Media != nil && s.Fetcher != nil }

// sendArchive queues the first try of the copy of g's files; copyFailed
// re-sends the job itself for the later ones.
func (s *Service) sendArchive(ctx context.Context, g generation.Generation) error {
	job := Job{Kind: JobArchive, GenerationID: g.ID, Tier: g.Tier, UserID: g.UserID, Attempt: g.Attempts, TaskID: g.TaskID, EnqueuedAt: g.CreatedAt}
	return s.send(ctx, job, 0)
}

// archive runs an archive job.
func (s *Service) archive(ctx context.Context, job Job) error {
	g, err := s.Store.Get(ctx, job.GenerationID)
	if errors.Is(err, ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("load generation %s: %w", job.GenerationID, err)
	}
	saving := g.Status == generation.Processing && g.Progress == generation.ProgressSaving && g.TaskID == job.TaskID
	late := g.Status == generation.Completed && !g.Archived
	if !saving && !late || !s.archiving() {
		return nil // done, cancelled, or superseded by a later attempt
	}
	tracks, err := s.copyTracks(ctx, g)
	if err != nil {
		// The copy may have run into the invocation's deadline; what
		// follows must still be written.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return s.copyFailed(ctx, g, job, err)
	}
	next, err := s.update(ctx, g, func(g *generation.Generation) error {
		if g.TaskID != job.TaskID {
			return generation.ErrNoChange
		}
		return g.Saved(tracks, s.now())
	})
	if err != nil {
		if isSettled(err) {
			return nil
		}
		return err
	}
	s.logStep(ctx, next, stepCompleted, "taskId", next.TaskID, "archived", true)
	if saving {
		s.record(ctx, next, metrics.One(metrics.Completed))
	}
	s.push(ctx, next)
	return nil
}

// copyFailed retries a failed copy with backoff; after the last try the
// generation completes with Suno's URLs, marked as not archived, and the
// sweeper tries again later (until Suno has deleted the files).
func (s *Service) copyFailed(ctx context.Context, g generation.Generation, job Job, cause error) error {
	var fe *media.Error
	permanent := errors.As(cause, &fe) && fe.Permanent
	if !permanent && job.Polls+1 < s.cfg.ArchiveAttempts {
		delay := s.cfg.Retry.Backoff(job.Polls + 1)
		s.log.WarnContext(ctx, "copy failed; trying again", "generationId", g.ID, "try", job.Polls+1, "delay", delay, "err", cause)
		job.Polls++
		return s.send(ctx, job, delay)
	}
	retry := s.now().Add(s.cfg.ArchiveRetry)
	if s.now().Sub(g.CreatedAt) > sunoRetention {
		retry = time.Time{} // Suno no longer has the files: stop trying
	}
	next, err := s.update(ctx, g, func(g *generation.Generation) error {
		if g.TaskID != job.TaskID {
			return generation.ErrNoChange
		}
		if g.Status == generation.Processing {
			if err := g.Complete(g.Tracks, s.now()); err != nil {
				return err
			}
		} else if g.Status != generation.Completed || g.Archived {
			return generation.ErrNoChange
		}
		g.Deadline = retry // the sweeper's next try
		return nil
	})
	if err != nil {
		if isSettled(err) {
			return nil
		}
		return err
	}
	if g.Status == generation.Processing {
		s.logStep(ctx, next, stepCompleted, "taskId", next.TaskID, "archived", false)
	}
	s.logStepAt(ctx, slog.LevelWarn, next, stepNotArchived, "reason", cause.Error(), "nextTry", retry)
	s.record(ctx, next, metrics.One(metrics.NotArchived))
	if g.Status == generation.Processing {
		s.record(ctx, next, metrics.One(metrics.Completed))
		s.push(ctx, next)
	}
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
// its outcome.
const copyMargin = 3 * time.Second

// copyTracks copies every track's audio and image and returns the tracks
// pointing at the copies, Suno's URLs kept as their sources. It ends before
// the invocation does, so a slow download fails as a retryable copy rather
// than a timed-out worker.
func (s *Service) copyTracks(ctx context.Context, g generation.Generation) ([]generation.Track, error) {
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-copyMargin))
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
		u, err := s.copyFile(ctx, g, i, "audio", t.SourceAudioURL, media.Audio)
		if err != nil {
			return nil, err
		}
		t.AudioURL = u
		if t.SourceImageURL != "" {
			if t.ImageURL, err = s.copyFile(ctx, g, i, "image", t.SourceImageURL, media.Image); err != nil {
				return nil, err
			}
		}
		out[i] = t
	}
	return out, nil
}

func (s *Service) copyFile(ctx context.Context, g generation.Generation, i int, what, src string, kind media.Kind) (string, error) {
	// Checked again here, whatever was checked before: nothing is fetched
	// from a host that is not Suno's.
	if err := s.mediaURL(src); err != nil {
		return "", &media.Error{URL: src, Reason: err.Error(), Permanent: true}
	}
	f, err := s.Fetcher.Fetch(ctx, src, kind)
	if err != nil {
		return "", err
	}
	defer f.Close()
	key := mediaKey(g, i, what, media.Ext(f.ContentType))
	if err := s.Media.Put(ctx, key, f.ContentType, f, f.Size); err != nil {
		return "", fmt.Errorf("store %s: %w", key, err)
	}
	s.log.DebugContext(ctx, "file copied", "generationId", g.ID, "key", key, "bytes", f.Size, "sha256", f.SHA256)
	return s.Media.URL(key), nil
}
