package service

import (
	"context"
	"log/slog"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/metrics"
)

// The steps of a generation's life. Each is one log line ("lifecycle")
// carrying the generation, its owner, tier and attempt, and the request
// that took it (the logger adds requestId), so that an operator can follow
// one song by its id (DESIGN.md section 10).
const (
	stepCreated    = "created"
	stepClaimed    = "claimed"
	stepSubmitted  = "submitted"
	stepFirstReady = "first_ready"
	stepSaving     = "saving"
	stepCompleted  = "completed"
	stepFailed     = "failed"
	stepRetried    = "retried"
	stepWaiting    = "waiting" // for a rate limit: the limiter's or Suno's
	stepPaused     = "paused"  // its tier is paused; the job looks again later
	stepCancelled  = "cancelled"
	stepDeleted    = "deleted"
	stepRevived    = "revived" // an operator gave a failed generation new attempts
	// stepNotArchived: its files could not be copied; it completed with
	// Suno's URLs and the sweeper tries again later.
	stepNotArchived = "not_archived"
)

func (s *Service) logStep(ctx context.Context, g generation.Generation, step string, attrs ...any) {
	s.logStepAt(ctx, slog.LevelInfo, g, step, attrs...)
}

func (s *Service) logStepAt(ctx context.Context, level slog.Level, g generation.Generation, step string, attrs ...any) {
	s.log.Log(ctx, level, "lifecycle", append([]any{
		"step", step, "generationId", g.ID, "userId", g.UserID, "tier", g.Tier, "attempt", g.Attempts, "status", g.Status,
	}, attrs...)...)
}

func (s *Service) record(ctx context.Context, g generation.Generation, samples ...metrics.Sample) {
	s.cfg.Metrics.Record(ctx, string(g.Tier), g.ID, samples...)
}
