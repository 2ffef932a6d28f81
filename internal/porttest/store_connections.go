package porttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// storeConnections is the contract of service.Connections: put, delete and
// list a user's live connections, and a per-user cap that holds under
// concurrent connects.
func storeConnections(t *testing.T, newStore StoreFactory) {
	ctx := context.Background()

	t.Run("Connections", func(t *testing.T) {
		t.Parallel()
		_, c := newStore(t)
		now := time.Now().UTC()
		conn := func(id, user string, tier generation.Tier) service.Connection {
			return service.Connection{ID: id, UserID: user, Tier: tier, ConnectedAt: now, ExpiresAt: now.Add(2 * time.Hour)}
		}
		a, b, other := conn("conn-a=", "u1", generation.Pro), conn("conn-b=", "u1", generation.Pro), conn("conn-c=", "u2", generation.Free)
		for _, x := range []service.Connection{b, a, other} {
			if err := c.PutConnection(ctx, x, 0); err != nil {
				t.Fatal(err)
			}
		}
		wantConnections(t, c, "u1", a, b)
		wantConnections(t, c, "u2", other)
		wantConnections(t, c, "u3")
		if err := c.DeleteConnection(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		wantConnections(t, c, "u1", b)
		wantConnections(t, c, "u2", other)
		if err := c.DeleteConnection(ctx, "never-existed"); err != nil {
			t.Errorf("DeleteConnection of an unknown id = %v, want nil", err)
		}
		b.Tier = generation.Premium
		if err := c.PutConnection(ctx, b, 0); err != nil {
			t.Fatal(err)
		}
		wantConnections(t, c, "u1", b)
	})

	t.Run("ConnectionCap", func(t *testing.T) {
		t.Parallel()
		_, c := newStore(t)
		now := time.Now().UTC()
		conn := func(id, user string) service.Connection {
			return service.Connection{ID: id, UserID: user, Tier: generation.Pro, ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}
		}
		for _, id := range []string{"cap-a", "cap-b"} {
			if err := c.PutConnection(ctx, conn(id, "capped"), 2); err != nil {
				t.Fatalf("connection %s within the cap: %v", id, err)
			}
		}
		if err := c.PutConnection(ctx, conn("cap-c", "capped"), 2); !errors.Is(err, service.ErrTooManyConnections) {
			t.Fatalf("a third connection with a cap of 2 = %v, want ErrTooManyConnections", err)
		}
		wantConnections(t, c, "capped", conn("cap-a", "capped"), conn("cap-b", "capped"))
		// The same connection again takes no other slot; another user's
		// are their own; an expired one and a closed one free theirs.
		again := conn("cap-b", "capped")
		again.Tier = generation.Premium
		must(t, c.PutConnection(ctx, again, 2))
		must(t, c.PutConnection(ctx, conn("other-a", "other"), 2))
		must(t, c.DeleteConnection(ctx, "cap-a"))
		must(t, c.PutConnection(ctx, conn("cap-c", "capped"), 2))
		if err := c.PutConnection(ctx, conn("cap-d", "capped"), 2); !errors.Is(err, service.ErrTooManyConnections) {
			t.Fatalf("a third connection after a close and a connect = %v, want ErrTooManyConnections", err)
		}
		brief := conn("brief", "short")
		brief.ExpiresAt = now.Add(-time.Second)
		must(t, c.PutConnection(ctx, brief, 1))
		must(t, c.PutConnection(ctx, conn("after-brief", "short"), 1))
		// Without a cap, anything goes.
		must(t, c.PutConnection(ctx, conn("cap-e", "capped"), 0))
		// What keeps the cap is no user's connection.
		users, err := c.ConnectedUsers(ctx, 10)
		slices.Sort(users)
		if err != nil || !slices.Equal(users, []string{"capped", "other", "short"}) {
			t.Errorf("ConnectedUsers = %v, %v; want capped, other, short", users, err)
		}
	})

	t.Run("ConnectionCapUnderConcurrency", func(t *testing.T) {
		t.Parallel()
		_, c := newStore(t)
		now := time.Now().UTC()
		const limit, tries = 3, 12
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted, refused := 0, 0
		for i := range tries {
			wg.Go(func() {
				err := c.PutConnection(ctx, service.Connection{ID: fmt.Sprintf("burst-%02d", i), UserID: "burst", Tier: generation.Free,
					ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}, limit)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					accepted++
				case errors.Is(err, service.ErrTooManyConnections):
					refused++
				default:
					t.Errorf("concurrent connect: %v", err)
				}
			})
		}
		wg.Wait()
		if accepted != limit || refused != tries-limit {
			t.Fatalf("%d concurrent connects with a cap of %d: %d accepted, %d refused", tries, limit, accepted, refused)
		}
		if got, err := c.UserConnections(ctx, "burst"); err != nil || len(got) != limit {
			t.Fatalf("UserConnections after the burst = %d, %v; want %d", len(got), err, limit)
		}
	})

	t.Run("ConnectedUsers", func(t *testing.T) {
		t.Parallel()
		_, c := newStore(t)
		now := time.Now().UTC()
		for i, x := range []service.Connection{
			{ID: "a1", UserID: "u1"}, {ID: "a2", UserID: "u1"}, {ID: "b1", UserID: "u2"}, {ID: "c1", UserID: "u3"},
			{ID: "gone", UserID: "u4", ExpiresAt: now.Add(-time.Hour)},
		} {
			x.Tier, x.ConnectedAt = generation.Free, now.Add(time.Duration(i)*time.Second)
			if x.ExpiresAt.IsZero() {
				x.ExpiresAt = now.Add(time.Hour)
			}
			if err := c.PutConnection(ctx, x, 0); err != nil {
				t.Fatal(err)
			}
		}
		users, err := c.ConnectedUsers(ctx, 10)
		slices.Sort(users)
		if err != nil || !slices.Equal(users, []string{"u1", "u2", "u3"}) {
			t.Errorf("ConnectedUsers = %v, %v; want u1, u2, u3 once each, not the expired u4", users, err)
		}
		if users, err := c.ConnectedUsers(ctx, 2); err != nil || len(users) != 2 || users[0] == users[1] {
			t.Errorf("ConnectedUsers(limit 2) = %v, %v; want two different users", users, err)
		}
	})

	t.Run("ExpiredConnectionsAreLeftOut", func(t *testing.T) {
		t.Parallel()
		_, c := newStore(t)
		now := time.Now().UTC()
		live := service.Connection{ID: "live", UserID: "u1", Tier: generation.Free, ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}
		forever := service.Connection{ID: "no-expiry", UserID: "u1", Tier: generation.Free, ConnectedAt: now}
		stale := service.Connection{ID: "stale", UserID: "u1", Tier: generation.Free, ConnectedAt: now.Add(-3 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
		for _, x := range []service.Connection{live, forever, stale} {
			if err := c.PutConnection(ctx, x, 0); err != nil {
				t.Fatal(err)
			}
		}
		wantConnections(t, c, "u1", live, forever)
	})
}
