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

// StoreFactory returns a fresh, empty store and connection registry.
type StoreFactory func(t *testing.T) (service.Store, service.Connections)

var base = time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)

func newGeneration(user string, tier generation.Tier, created time.Time) generation.Generation {
	req := generation.Request{Prompt: "a calm piano piece about " + user, Style: "ambient", Title: "Calm", Model: "V4_5", CustomMode: true, NegativeTags: "drums"}
	return generation.New(newID(), user, tier, req, created, 10*time.Minute)
}

func create(t *testing.T, s service.Store, g generation.Generation, key string) generation.Generation {
	t.Helper()
	stored, created, err := s.Create(context.Background(), g, key, service.Quota{})
	if err != nil || !created {
		t.Fatalf("Create(%s, %q) = created %v, %v; want a new generation", g.ID, key, created, err)
	}
	return stored
}

func save(t *testing.T, s service.Store, g generation.Generation, from generation.Status) generation.Generation {
	t.Helper()
	saved, err := s.Save(context.Background(), g, from)
	if err != nil {
		t.Fatalf("Save(%s, from %s to %s) = %v", g.ID, from, g.Status, err)
	}
	return saved
}

func count(c map[generation.Tier]service.StatusCounts, tier generation.Tier, st generation.Status) int64 {
	return c[tier][st] // a missing tier or status is zero
}

func wantCounts(t *testing.T, s service.Store, want map[generation.Tier]service.StatusCounts) {
	t.Helper()
	got, err := s.Counts(context.Background())
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	for _, tier := range generation.Tiers {
		for _, st := range []generation.Status{generation.Pending, generation.Processing, generation.Completed, generation.Failed, generation.Cancelled} {
			if g, w := count(got, tier, st), count(want, tier, st); g != w {
				t.Errorf("Counts()[%s][%s] = %d, want %d (all: %v)", tier, st, g, w, got)
			}
		}
	}
}

// Store runs the contract of service.Store and service.Connections, one
// subtest per area; the package doc says which file holds each.
func Store(t *testing.T, newStore StoreFactory) {
	runArea(t, "Create", func(t *testing.T) { storeCreate(t, newStore) })
	runArea(t, "Save", func(t *testing.T) { storeSave(t, newStore) })
	runArea(t, "Listing", func(t *testing.T) { storeListing(t, newStore) })
	runArea(t, "Sweep", func(t *testing.T) { storeSweep(t, newStore) })
	runArea(t, "Connections", func(t *testing.T) { storeConnections(t, newStore) })
	runArea(t, "Operators", func(t *testing.T) { storeOperators(t, newStore) })
	runArea(t, "Line", func(t *testing.T) { storeLine(t, newStore) })
	runArea(t, "Bulk", func(t *testing.T) { storeBulk(t, newStore) })
}

// runJob claims g and takes it to the end, as a worker would; losing the
// claim to another delivery is not an error.
func runJob(ctx context.Context, s service.Store, g generation.Generation, fail bool) error {
	claimed := g
	if err := claimed.Claim(1, base, time.Minute); err != nil {
		return err
	}
	claimed, err := s.Save(ctx, claimed, generation.Pending)
	if errors.Is(err, service.ErrConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("claim: %w", err)
	}
	if fail {
		if err := claimed.Fail("bad prompt", base); err != nil {
			return err
		}
	} else {
		if err := claimed.Submitted("task", base, time.Minute); err != nil {
			return err
		}
		if claimed, err = s.Save(ctx, claimed, generation.Processing); err != nil {
			return fmt.Errorf("submitted: %w", err)
		}
		if err := claimed.Complete(nil, base); err != nil {
			return err
		}
	}
	if _, err := s.Save(ctx, claimed, generation.Processing); err != nil {
		return fmt.Errorf("finish: %w", err)
	}
	return nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantConnections checks a user's connections, sorted by id. Expiry times
// may be rounded to the second, as DynamoDB's TTL attribute is.
func wantConnections(t *testing.T, c service.Connections, user string, want ...service.Connection) {
	t.Helper()
	got, err := c.UserConnections(context.Background(), user)
	if err != nil {
		t.Fatalf("UserConnections(%s): %v", user, err)
	}
	slices.SortFunc(want, func(a, b service.Connection) int {
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	if len(got) != len(want) {
		t.Fatalf("UserConnections(%s) = %+v, want %+v", user, got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.UserID != w.UserID || g.Tier != w.Tier || !g.ConnectedAt.Equal(w.ConnectedAt) ||
			g.ExpiresAt.IsZero() != w.ExpiresAt.IsZero() || g.ExpiresAt.Sub(w.ExpiresAt).Abs() > time.Second {
			t.Errorf("UserConnections(%s)[%d] = %+v, want %+v", user, i, g, w)
		}
	}
}

// wantHeld checks Held for every tier; a tier want leaves out is 0.
func wantHeld(t *testing.T, s service.Store, want map[generation.Tier]int64) {
	t.Helper()
	got, err := s.Held(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tier := range generation.Tiers {
		if got[tier] != want[tier] {
			t.Errorf("Held()[%s] = %d, want %d (all: %v)", tier, got[tier], want[tier], got)
		}
	}
}

// wantDelayed checks Delayed(now) for every tier; a tier want leaves out is
// zero.
func wantDelayed(t *testing.T, s service.Store, now time.Time, want map[generation.Tier]int64) {
	t.Helper()
	got, err := s.Delayed(context.Background(), now)
	if err != nil {
		t.Fatalf("Delayed: %v", err)
	}
	for _, tier := range generation.Tiers {
		if got[tier] != want[tier] {
			t.Errorf("Delayed(%s)[%s] = %d, want %d (all: %v)", now.Format(time.TimeOnly), tier, got[tier], want[tier], got)
		}
	}
}
