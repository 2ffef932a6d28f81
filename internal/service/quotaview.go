package service

import (
	"context"
	"fmt"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
)

// QuotaView is a user's own quota, as GET /api/quota answers it: their
// tier's limits and how much of each they use, counted as a create's check
// counts them.
type QuotaView struct {
	Tier  generation.Tier `json:"tier"`
	Open  OpenQuota       `json:"open"`
	Daily DailyQuota      `json:"daily"`
}

// OpenQuota is the open limit: Used of Limit slots taken (unfinished songs,
// and slots still held by songs cancelled while Suno was making them).
// Without a limit both are absent: nothing is counted then.
type OpenQuota struct {
	Used  *int `json:"used,omitempty"`
	Limit int  `json:"limit,omitempty"`
}

// DailyQuota is the daily limit: Used of Limit creates in the last
// WindowHours; NextFreeAt, only once the limit is reached, is when the
// next create fits. Without a limit every field is absent.
type DailyQuota struct {
	Used        *int       `json:"used,omitempty"`
	Limit       int        `json:"limit,omitempty"`
	WindowHours float64    `json:"windowHours,omitempty"`
	NextFreeAt  *time.Time `json:"nextFreeAt,omitempty"`
}

// Quota returns the caller's own quota: their tier's limits and their use
// of them, from one strongly consistent read of their quota state.
func (s *API) Quota(ctx context.Context, c identity.Caller) (QuotaView, error) {
	q := s.cfg.Quotas[c.Tier]
	out := QuotaView{Tier: c.Tier}
	if q.Open <= 0 && q.Daily <= 0 {
		return out, nil // nothing is counted: no read needed
	}
	st, err := s.store.QuotaState(ctx, c.UserID)
	if err != nil {
		return QuotaView{}, fmt.Errorf("quota state of %s: %w", c.UserID, err)
	}
	now := s.now()
	use := q.Use(st, now)
	use.Open = max(use.Open, 0) // never shown below zero, whatever a store holds
	if q.Open > 0 {
		out.Open = OpenQuota{Used: &use.Open, Limit: q.Open}
	}
	if q.Daily > 0 {
		out.Daily = DailyQuota{Used: &use.Daily, Limit: q.Daily, WindowHours: q.window().Hours()}
		if !use.DailyFreeAt.IsZero() {
			at := use.DailyFreeAt.UTC()
			out.Daily.NextFreeAt = &at
		}
	}
	return out, nil
}
