package porttest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// storeBulk is the contract of BulkStore and AuditLog: a bulk action is
// created once, read back as written and saved only from the version
// read; audit entries come back newest first.
func storeBulk(t *testing.T, newStore StoreFactory) {
	ctx := context.Background()

	t.Run("BulkActions", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		b := service.Bulk{ID: newID(), Action: service.BulkRetry, By: "op", Status: service.BulkRunning, Matched: 7,
			Filter:    service.Filter{Status: generation.Failed, ErrorCode: "suno_timeout", CreatedBefore: base},
			CreatedAt: base, UpdatedAt: base, Version: 1}
		if err := s.CreateBulk(ctx, b); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateBulk(ctx, b); !errors.Is(err, service.ErrConflict) {
			t.Errorf("a second CreateBulk of one id = %v, want ErrConflict", err)
		}
		got, err := s.Bulk(ctx, b.ID)
		if err != nil || got.Matched != 7 || got.Filter != b.Filter || got.Version != 1 || !got.CreatedAt.Equal(base) {
			t.Fatalf("Bulk = %+v, %v; want it as written, version 1", got, err)
		}
		got.Changed, got.Cursor = 3, "next"
		saved, err := s.SaveBulk(ctx, got)
		if err != nil || saved.Version != 2 {
			t.Fatalf("SaveBulk = %+v, %v; want version 2", saved, err)
		}
		if _, err := s.SaveBulk(ctx, got); !errors.Is(err, service.ErrConflict) {
			t.Errorf("SaveBulk from a stale version = %v, want ErrConflict", err)
		}
		if got, _ := s.Bulk(ctx, b.ID); got.Changed != 3 || got.Cursor != "next" {
			t.Errorf("after the save: %+v", got)
		}
		if _, err := s.Bulk(ctx, "no-such-bulk"); !errors.Is(err, service.ErrNotFound) {
			t.Errorf("Bulk of an unknown id = %v, want ErrNotFound", err)
		}
	})

	t.Run("AuditNewestFirst", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		now := time.Now().UTC()
		for i, a := range []string{"pause", "resume", "retry"} {
			if err := s.RecordAudit(ctx, service.AuditEntry{At: now.Add(time.Duration(i) * time.Second), Operator: "op", Action: a, Target: "tier FREE", Outcome: "done"}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.RecentAudit(ctx, 2)
		if err != nil || len(got) != 2 || got[0].Action != "retry" || got[1].Action != "resume" || got[0].Operator != "op" {
			t.Fatalf("RecentAudit(2) = %+v, %v; want retry, resume", got, err)
		}
	})
}
