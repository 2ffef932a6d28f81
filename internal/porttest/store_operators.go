package porttest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// storeOperators is the contract of what operators and owners rely on: exact
// delayed counts, deletes, the listing of everyone's generations and the
// pause switches.
func storeOperators(t *testing.T, newStore StoreFactory) {
	ctx := context.Background()

	t.Run("DelayedCountsWaitingGenerations", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		create(t, s, newGeneration("u1", generation.Pro, base), "") // ready at once
		backoff := create(t, s, newGeneration("u2", generation.Pro, base), "")
		limited := create(t, s, newGeneration("u3", generation.Free, base), "")
		claim := func(g generation.Generation) generation.Generation {
			must(t, g.Claim(1, base, time.Minute))
			return save(t, s, g, generation.Pending)
		}
		b := claim(backoff)
		must(t, b.Retry("boom", base, base.Add(10*time.Second)))
		b = save(t, s, b, generation.Processing)
		// Suno's own rate limit (430) defers the attempt, uncounted.
		l := claim(limited)
		must(t, l.Defer(base, base.Add(30*time.Second)))
		l = save(t, s, l, generation.Processing)

		wantDelayed(t, s, base, map[generation.Tier]int64{generation.Pro: 1, generation.Free: 1})
		// Time alone makes a waiting generation ready: no write needed.
		wantDelayed(t, s, base.Add(15*time.Second), map[generation.Tier]int64{generation.Free: 1})
		wantDelayed(t, s, base.Add(time.Minute), nil)
		// A claim ends the wait whatever the clock says.
		claim(l)
		wantDelayed(t, s, base, map[generation.Tier]int64{generation.Pro: 1})
		wantCounts(t, s, map[generation.Tier]service.StatusCounts{
			generation.Pro:  {generation.Pending: 2},
			generation.Free: {generation.Processing: 1},
		})
	})

	t.Run("HeldCountsHeldGenerationsApart", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		create(t, s, newGeneration("u1", generation.Pro, base), "") // ready at once
		held := create(t, s, newGeneration("u2", generation.Pro, base), "")
		must(t, held.Hold("suno_unavailable", "Suno is unavailable", base, base.Add(10*time.Second)))
		held = save(t, s, held, generation.Pending)
		wantHeld(t, s, map[generation.Tier]int64{generation.Pro: 1})
		// Held, not delayed, whether its recheck is ahead or past.
		wantDelayed(t, s, base, nil)
		wantDelayed(t, s, base.Add(time.Minute), nil)
		// Released by its claim.
		must(t, held.Claim(1, base, time.Minute))
		save(t, s, held, generation.Pending)
		wantHeld(t, s, nil)
	})

	t.Run("DeleteFinished", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		open := create(t, s, newGeneration("u1", generation.Premium, base), "")
		if err := s.Delete(ctx, open); !errors.Is(err, service.ErrConflict) {
			t.Fatalf("Delete(pending) = %v, want ErrConflict", err)
		}
		g := open
		must(t, g.Cancel(base))
		g = save(t, s, g, generation.Pending)
		stale := g
		stale.Version--
		if err := s.Delete(ctx, stale); !errors.Is(err, service.ErrConflict) {
			t.Fatalf("Delete(stale version) = %v, want ErrConflict", err)
		}
		if err := s.Delete(ctx, g); err != nil {
			t.Fatalf("Delete(cancelled) = %v", err)
		}
		if _, err := s.Get(ctx, g.ID); !errors.Is(err, service.ErrNotFound) {
			t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, g); !errors.Is(err, service.ErrNotFound) {
			t.Fatalf("second Delete = %v, want ErrNotFound", err)
		}
		wantCounts(t, s, nil)
		page, err := s.ListByUser(ctx, "u1", 10, "")
		if err != nil || len(page.Items) != 0 {
			t.Fatalf("ListByUser after Delete = %+v, %v; want nothing", page, err)
		}
	})

	t.Run("ListAllFiltersNewestFirst", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		var all []generation.Generation
		for i, c := range []struct {
			user string
			tier generation.Tier
			end  generation.Status
		}{
			{"ann", generation.Free, generation.Failed}, {"bob", generation.Pro, generation.Pending},
			{"ann", generation.Pro, generation.Completed}, {"cy", generation.Free, generation.Processing},
			{"bob", generation.Free, generation.Failed}, {"ann", generation.Free, generation.Pending},
			{"cy", generation.Enterprise, generation.Cancelled}, {"bob", generation.Pro, generation.Failed},
		} {
			g := create(t, s, newGeneration(c.user, c.tier, base.Add(time.Duration(i)*time.Second)), "")
			if c.end != generation.Pending {
				must(t, g.Claim(1, base, time.Minute))
				g = save(t, s, g, generation.Pending)
			}
			switch c.end {
			case generation.Failed:
				must(t, g.Fail("boom", base))
			case generation.Cancelled:
				must(t, g.Cancel(base))
			case generation.Completed:
				must(t, g.Submitted("task", base, time.Minute))
				must(t, g.Complete(nil, base))
			}
			if c.end != generation.Pending && c.end != generation.Processing {
				g = save(t, s, g, generation.Processing)
			}
			all = append(all, g)
		}
		newestFirst := func(f service.Filter) []string {
			var ids []string
			for i := len(all) - 1; i >= 0; i-- {
				if f.Match(all[i]) {
					ids = append(ids, all[i].ID)
				}
			}
			return ids
		}
		for _, f := range []service.Filter{
			{}, {Status: generation.Failed}, {Tier: generation.Free}, {Status: generation.Failed, Tier: generation.Pro},
			{Status: generation.Pending}, {Status: generation.Processing, Tier: generation.Free}, {UserID: "ann"},
			{UserID: "bob", Status: generation.Failed}, {UserID: "ann", Tier: generation.Pro}, {Status: generation.Cancelled},
		} {
			want := newestFirst(f)
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > len(all) {
					t.Fatalf("ListAll(%+v) does not end", f)
				}
				p, err := s.ListAll(ctx, f, 2, cursor)
				if err != nil {
					t.Fatalf("ListAll(%+v, cursor %q): %v", f, cursor, err)
				}
				if len(p.Items) > 2 {
					t.Fatalf("ListAll(%+v) page of %d, want at most 2", f, len(p.Items))
				}
				for _, g := range p.Items {
					got = append(got, g.ID)
				}
				if cursor = p.NextCursor; cursor == "" {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("ListAll(%+v) = %v, want %v", f, got, want)
			}
		}
		if _, err := s.ListAll(ctx, service.Filter{}, 2, "bogus"); !errors.Is(err, service.ErrInvalidCursor) {
			t.Errorf("ListAll(bogus cursor) = %v, want ErrInvalidCursor", err)
		}
	})

	t.Run("PauseSwitches", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		c, ok := s.(service.Controls)
		if !ok {
			t.Fatalf("%T does not keep the operators' controls", s)
		}
		wantPaused := func(want ...generation.Tier) {
			t.Helper()
			got, err := c.Paused(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, tier := range generation.Tiers {
				if got[tier] {
					n++
				}
			}
			for _, tier := range want {
				if !got[tier] {
					t.Fatalf("Paused() = %v, want %v", got, want)
				}
			}
			if n != len(want) {
				t.Fatalf("Paused() = %v, want %v", got, want)
			}
		}
		wantPaused()
		must(t, c.SetPaused(ctx, generation.Free, true))
		must(t, c.SetPaused(ctx, generation.Pro, true))
		must(t, c.SetPaused(ctx, generation.Free, true))
		wantPaused(generation.Free, generation.Pro)
		must(t, c.SetPaused(ctx, generation.Free, false))
		must(t, c.SetPaused(ctx, generation.Enterprise, false))
		wantPaused(generation.Pro)
	})
}
