package porttest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// storeLine is the contract of Line: each tier's pending count and the
// number that ever entered its line, exact through creates, claims,
// retries and cancels; and a generation's Ticket kept as written.
func storeLine(t *testing.T, newStore StoreFactory) {
	ctx := context.Background()

	t.Run("LineCountsEntriesAndPending", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		wantLine := func(when string, tier generation.Tier, pending, entered int64) {
			t.Helper()
			got, err := s.Line(ctx)
			if err != nil {
				t.Fatalf("Line: %v", err)
			}
			if l := got[tier]; l.Pending != pending || l.Entered != entered {
				t.Errorf("%s: Line()[%s] = %+v, want pending %d, entered %d", when, tier, l, pending, entered)
			}
		}
		wantLine("empty", generation.Pro, 0, 0)
		var gens []generation.Generation
		for i := range 3 {
			g := newGeneration("u1", generation.Pro, base.Add(time.Duration(i)*time.Second))
			g.Ticket = int64(i)
			gens = append(gens, create(t, s, g, ""))
		}
		create(t, s, newGeneration("u2", generation.Free, base), "")
		wantLine("three PRO created", generation.Pro, 3, 3)
		wantLine("one FREE created", generation.Free, 1, 1)
		if got, err := s.Get(ctx, gens[2].ID); err != nil || got.Ticket != 2 {
			t.Fatalf("Get: ticket %d, %v; want the 2 written", got.Ticket, err)
		}

		// Claimed: it leaves the line; a retry enters it again.
		g := gens[0]
		must(t, g.Claim(1, base.Add(time.Minute), time.Minute))
		g = save(t, s, g, generation.Pending)
		wantLine("one claimed", generation.Pro, 2, 3)
		must(t, g.Retry("try again", base.Add(2*time.Minute), base.Add(3*time.Minute)))
		save(t, s, g, generation.Processing)
		wantLine("one sent back to wait", generation.Pro, 3, 4)

		// A change that keeps it pending is no new entry.
		h := gens[1]
		h.Message = "still waiting"
		h = save(t, s, h, generation.Pending)
		wantLine("a pending one saved", generation.Pro, 3, 4)
		must(t, h.Cancel(base.Add(time.Hour)))
		save(t, s, h, generation.Pending)
		wantLine("one cancelled", generation.Pro, 2, 4)

		// The line's entries are not a status.
		counts, err := s.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for tier, c := range counts {
			for st := range c {
				if !slices.Contains([]generation.Status{generation.Pending, generation.Processing, generation.Completed, generation.Failed, generation.Cancelled}, st) {
					t.Errorf("Counts()[%s] has %q, not a status", tier, st)
				}
			}
		}
	})
}
