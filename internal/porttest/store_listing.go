package porttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// storeListing is the contract of ListByUser: newest first, paged by a
// cursor, showing the latest state, and refusing a cursor it did not make.
func storeListing(t *testing.T, newStore StoreFactory) {
	ctx := context.Background()

	t.Run("ListByUserNewestFirst", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		var mine []generation.Generation
		for i := range 7 {
			created := base.Add(time.Duration(i) * time.Second)
			if i == 4 {
				created = base.Add(3 * time.Second) // a tie, broken by id
			}
			mine = append(mine, create(t, s, newGeneration("lister", generation.Free, created), ""))
		}
		create(t, s, newGeneration("someone-else", generation.Free, base.Add(time.Hour)), "")
		slices.SortFunc(mine, func(a, b generation.Generation) int {
			if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
				return c
			}
			if a.ID > b.ID {
				return -1
			}
			return 1
		})
		var got []generation.Generation
		cursor := ""
		for page := 0; ; page++ {
			p, err := s.ListByUser(ctx, "lister", 3, cursor)
			if err != nil {
				t.Fatalf("page %d: %v", page, err)
			}
			if len(p.Items) > 3 {
				t.Fatalf("page %d has %d items, limit 3", page, len(p.Items))
			}
			got = append(got, p.Items...)
			if p.NextCursor == "" {
				break
			}
			if page > 5 {
				t.Fatal("listing does not end")
			}
			cursor = p.NextCursor
		}
		if len(got) != len(mine) {
			t.Fatalf("listing returned %d generations, want %d", len(got), len(mine))
		}
		for i := range mine {
			sameGeneration(t, fmt.Sprintf("item %d", i), mine[i], got[i])
		}
		p, err := s.ListByUser(ctx, "lister", 7, "")
		if err != nil || len(p.Items) != 7 || p.NextCursor != "" {
			t.Errorf("a page as large as the history: %d items, cursor %q, %v; want 7 and no cursor", len(p.Items), p.NextCursor, err)
		}
		p, err = s.ListByUser(ctx, "nobody", 10, "")
		if err != nil || len(p.Items) != 0 || p.NextCursor != "" {
			t.Errorf("listing of a user without generations = %+v, %v", p, err)
		}
	})

	t.Run("ListShowsLatestState", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		g := create(t, s, newGeneration("u1", generation.Free, base), "")
		c := g
		must(t, c.Cancel(base))
		c = save(t, s, c, generation.Pending)
		p, err := s.ListByUser(ctx, "u1", 10, "")
		if err != nil || len(p.Items) != 1 {
			t.Fatalf("ListByUser = %+v, %v", p, err)
		}
		sameGeneration(t, "listed generation", c, p.Items[0])
	})

	t.Run("ListRejectsForeignCursor", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		for _, cur := range []string{"not a cursor!", "bm90IGpzb24", "e30"} {
			if _, err := s.ListByUser(ctx, "u1", 10, cur); !errors.Is(err, service.ErrInvalidCursor) {
				t.Errorf("ListByUser(cursor %q) = %v, want ErrInvalidCursor", cur, err)
			}
		}
	})
}
