package porttest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// storeConnections is the contract of service.Connections: put, delete and
// list a user's live connections.
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
			if err := c.PutConnection(ctx, x); err != nil {
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
		if err := c.PutConnection(ctx, b); err != nil {
			t.Fatal(err)
		}
		wantConnections(t, c, "u1", b)
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
			if err := c.PutConnection(ctx, x); err != nil {
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
			if err := c.PutConnection(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		wantConnections(t, c, "u1", live, forever)
	})
}
