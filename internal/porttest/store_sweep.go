package porttest

import (
	"context"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// storeSweep is the contract of Overdue, what the sweeper relies on to find
// the open generations past their deadline or lease, most overdue first.
func storeSweep(t *testing.T, newStore StoreFactory) {
	ctx := context.Background()

	t.Run("Overdue", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		now := base.Add(time.Hour)
		at := func(deadline time.Time, tier generation.Tier) generation.Generation {
			g := newGeneration("u1", tier, base)
			g.Deadline = deadline
			return create(t, s, g, "")
		}
		late2 := at(now.Add(-time.Minute), generation.Pro)
		late1 := at(now.Add(-time.Hour), generation.Free)
		lateDone := at(now.Add(-2*time.Hour), generation.Free)
		at(now.Add(time.Minute), generation.Free) // not yet due
		done := lateDone
		must(t, done.Cancel(now))
		save(t, s, done, generation.Pending)
		// Claiming keeps a generation open; a claim is due when its lease
		// ends.
		late2c := late2
		must(t, late2c.Claim(1, now.Add(-2*time.Minute), time.Minute))
		late2 = save(t, s, late2c, generation.Pending)

		got, err := s.Overdue(ctx, now, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("Overdue returned %d generations, want 2: %+v", len(got), got)
		}
		sameGeneration(t, "most overdue", late1, got[0])
		sameGeneration(t, "next overdue", late2, got[1])
		if got, err := s.Overdue(ctx, now, 1); err != nil || len(got) != 1 || got[0].ID != late1.ID {
			t.Errorf("Overdue(limit 1) = %d items, %v; want the most overdue", len(got), err)
		}
		fin := late1
		must(t, fin.Fail("gave up", now))
		save(t, s, fin, generation.Pending)
		if got, err := s.Overdue(ctx, now, 10); err != nil || len(got) != 1 || got[0].ID != late2.ID {
			t.Errorf("Overdue after one failed = %d items, %v; want only %s", len(got), err, late2.ID)
		}
	})
}
