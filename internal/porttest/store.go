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

// Store runs the contract of service.Store and service.Connections.
func Store(t *testing.T, newStore StoreFactory) {
	ctx := context.Background()

	t.Run("CreateThenGet", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		g := newGeneration("u1", generation.Pro, base)
		g.Tracks = []generation.Track{{ID: "t1", AudioURL: "https://a/1.mp3", Title: "One", Duration: 12.5}}
		stored := create(t, s, g, "")
		if stored.Version != 1 {
			t.Errorf("version after Create = %d, want 1", stored.Version)
		}
		g.Version = 1
		sameGeneration(t, "Create's result", g, stored)
		got, err := s.Get(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameGeneration(t, "Get after Create", g, got)
	})

	t.Run("GetMissingIsNotFound", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		if _, err := s.Get(ctx, newID()); !errors.Is(err, service.ErrNotFound) {
			t.Fatalf("Get(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("CreateExistingIDIsConflict", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		g := create(t, s, newGeneration("u1", generation.Free, base), "")
		if _, _, err := s.Create(ctx, g, "", service.Quota{}); !errors.Is(err, service.ErrConflict) {
			t.Fatalf("second Create of %s = %v, want ErrConflict", g.ID, err)
		}
		wantCounts(t, s, map[generation.Tier]service.StatusCounts{generation.Free: {generation.Pending: 1}})
	})

	t.Run("IdempotencyKeyReturnsFirst", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		first := create(t, s, newGeneration("u1", generation.Free, base), "key-1")
		again := newGeneration("u1", generation.Free, base.Add(time.Second))
		got, created, err := s.Create(ctx, again, "key-1", service.Quota{})
		if err != nil || created {
			t.Fatalf("Create with a used key = created %v, %v; want the first generation", created, err)
		}
		sameGeneration(t, "replayed generation", first, got)
		if _, err := s.Get(ctx, again.ID); !errors.Is(err, service.ErrNotFound) {
			t.Errorf("the replayed create stored %s anyway (Get = %v)", again.ID, err)
		}
		// Keys are per user, and another key is another generation.
		create(t, s, newGeneration("u2", generation.Free, base), "key-1")
		create(t, s, newGeneration("u1", generation.Free, base), "key-2")
		wantCounts(t, s, map[generation.Tier]service.StatusCounts{generation.Free: {generation.Pending: 3}})
	})

	t.Run("IdempotencyKeyRace", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		const n = 8
		ids := make([]string, n)
		createdN := 0
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				g, created, err := s.Create(ctx, newGeneration("racer", generation.Premium, base), "same-key", service.Quota{})
				if err != nil {
					t.Errorf("concurrent Create: %v", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				ids[i] = g.ID
				if created {
					createdN++
				}
			})
		}
		wg.Wait()
		if createdN != 1 {
			t.Errorf("%d of %d concurrent creates with one key stored a generation, want 1", createdN, n)
		}
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("concurrent creates with one key returned different generations: %v", ids)
			}
		}
		wantCounts(t, s, map[generation.Tier]service.StatusCounts{generation.Premium: {generation.Pending: 1}})
	})

	t.Run("OpenQuotaIsExactUnderConcurrency", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		q := service.Quota{Open: 3}
		var accepted sync.WaitGroup
		var mu sync.Mutex
		var ok []generation.Generation
		var refusals int
		for range 20 {
			accepted.Go(func() {
				g := newGeneration("greedy", generation.Free, base)
				g.HoldsQuota = true
				stored, created, err := s.Create(ctx, g, "", q)
				var qe *service.QuotaError
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.As(err, &qe) && qe.Limit == "open" && qe.Max == 3 && qe.RetryAfter > 0:
					refusals++
				case err == nil && created:
					ok = append(ok, stored)
				default:
					t.Errorf("create: %v %v", created, err)
				}
			})
		}
		accepted.Wait()
		if len(ok) != 3 || refusals != 17 {
			t.Fatalf("20 concurrent creates with an open quota of 3: %d accepted, %d refused; want 3 and 17", len(ok), refusals)
		}
		// A refused create stored nothing.
		if p, _ := s.ListByUser(ctx, "greedy", 50, ""); len(p.Items) != 3 {
			t.Fatalf("the user has %d generations, want the 3 accepted", len(p.Items))
		}
		wantCounts(t, s, map[generation.Tier]service.StatusCounts{generation.Free: {generation.Pending: 3}})
		// Ending one frees its slot, for one more create.
		done := ok[0]
		must(t, done.Cancel(base))
		save(t, s, done, generation.Pending)
		g := newGeneration("greedy", generation.Free, base)
		g.HoldsQuota = true
		if _, created, err := s.Create(ctx, g, "", q); err != nil || !created {
			t.Fatalf("create after a cancel freed a slot: %v %v", created, err)
		}
		if _, _, err := s.Create(ctx, newGeneration("greedy", generation.Free, base), "", q); err == nil {
			t.Fatal("a fourth open generation was accepted")
		}
		// Another user's quota is their own.
		if _, _, err := s.Create(ctx, newGeneration("modest", generation.Free, base), "", q); err != nil {
			t.Fatalf("another user: %v", err)
		}
	})

	t.Run("DailyQuotaAndReplays", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		q := service.Quota{Daily: 2, Window: 3 * time.Second}
		first := newGeneration("daily", generation.Pro, base)
		if _, _, err := s.Create(ctx, first, "key-a", q); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Create(ctx, newGeneration("daily", generation.Pro, base), "", q); err != nil {
			t.Fatal(err)
		}
		_, _, err := s.Create(ctx, newGeneration("daily", generation.Pro, base), "", q)
		refusedBy := time.Now() // the store decided at or before this
		var qe *service.QuotaError
		if !errors.As(err, &qe) || qe.Limit != "daily" || qe.Max != 2 {
			t.Fatalf("third create in the window: %v, want the daily quota", err)
		}
		// The first create leaves the window 3 s after it was made.
		if qe.RetryAfter <= 0 || qe.RetryAfter > 3*time.Second {
			t.Errorf("retry after %s, want when the oldest create leaves the 3 s window", qe.RetryAfter)
		}
		// A replay is never refused, and is no create.
		again, created, err := s.Create(ctx, newGeneration("daily", generation.Pro, base), "key-a", q)
		if err != nil || created || again.ID != first.ID {
			t.Fatalf("replay with a full quota: %s %v %v; want the first generation", again.ID, created, err)
		}
		time.Sleep(time.Until(refusedBy.Add(qe.RetryAfter)) + 50*time.Millisecond)
		if _, created, err := s.Create(ctx, newGeneration("daily", generation.Pro, base), "", q); err != nil || !created {
			t.Fatalf("create once the oldest left the window: %v %v", created, err)
		}
	})

	t.Run("SaveIsConditional", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		g := create(t, s, newGeneration("u1", generation.Pro, base), "")
		next := g
		next.Message = "still waiting"
		next.UpdatedAt = base.Add(time.Second)
		saved := save(t, s, next, generation.Pending)
		if saved.Version != g.Version+1 {
			t.Errorf("version after Save = %d, want %d", saved.Version, g.Version+1)
		}
		got, err := s.Get(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameGeneration(t, "Get after Save", saved, got)

		stale := g
		stale.Message = "stale"
		if _, err := s.Save(ctx, stale, generation.Pending); !errors.Is(err, service.ErrConflict) {
			t.Errorf("Save of a stale version = %v, want ErrConflict", err)
		}
		wrongFrom := saved
		wrongFrom.Status = generation.Failed
		if _, err := s.Save(ctx, wrongFrom, generation.Processing); !errors.Is(err, service.ErrConflict) {
			t.Errorf("Save from a status the generation is not in = %v, want ErrConflict", err)
		}
		missing := newGeneration("u1", generation.Pro, base)
		missing.Version = 1
		if _, err := s.Save(ctx, missing, generation.Pending); !errors.Is(err, service.ErrNotFound) {
			t.Errorf("Save of an unknown generation = %v, want ErrNotFound", err)
		}
		got, _ = s.Get(ctx, g.ID)
		sameGeneration(t, "generation after refused saves", saved, got)
		wantCounts(t, s, map[generation.Tier]service.StatusCounts{generation.Pro: {generation.Pending: 1}})
	})

	t.Run("TwoWorkersClaimOneJob", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		g := create(t, s, newGeneration("u1", generation.Enterprise, base), "")
		const workers = 6
		var wins, conflicts int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				mine := g
				if err := mine.Claim(1, base.Add(time.Duration(w)*time.Millisecond), time.Minute); err != nil {
					t.Errorf("Claim: %v", err)
					return
				}
				_, err := s.Save(ctx, mine, generation.Pending)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, service.ErrConflict):
					conflicts++
				default:
					t.Errorf("Save of a claim: %v", err)
				}
			})
		}
		wg.Wait()
		if wins != 1 || conflicts != workers-1 {
			t.Fatalf("%d workers claimed one job: %d won and %d got ErrConflict, want 1 and %d", workers, wins, conflicts, workers-1)
		}
		got, _ := s.Get(ctx, g.ID)
		if got.Status != generation.Processing || got.Attempts != 1 || got.Version != 2 {
			t.Errorf("after the race: status %s, attempts %d, version %d; want processing, 1, 2", got.Status, got.Attempts, got.Version)
		}
		wantCounts(t, s, map[generation.Tier]service.StatusCounts{generation.Enterprise: {generation.Processing: 1}})
	})

	t.Run("NoDoubleCompleteNoGoingBack", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		g := create(t, s, newGeneration("u1", generation.Pro, base), "")
		claimed := g
		must(t, claimed.Claim(1, base, time.Minute))
		claimed = save(t, s, claimed, generation.Pending)
		submitted := claimed
		must(t, submitted.Submitted("task-1", base, 10*time.Minute))
		submitted = save(t, s, submitted, generation.Processing)

		// The callback and the poll both complete the same version.
		results := make(chan error, 2)
		for range 2 {
			go func() {
				done := submitted
				if err := done.Complete([]generation.Track{{ID: "t", AudioURL: "https://a/t.mp3"}}, base); err != nil {
					results <- err
					return
				}
				_, err := s.Save(ctx, done, generation.Processing)
				results <- err
			}()
		}
		var ok, conflict int
		for range 2 {
			switch err := <-results; {
			case err == nil:
				ok++
			case errors.Is(err, service.ErrConflict):
				conflict++
			default:
				t.Fatalf("completing: %v", err)
			}
		}
		if ok != 1 || conflict != 1 {
			t.Fatalf("two completions of one version: %d succeeded, %d conflicted; want 1 and 1", ok, conflict)
		}
		// A late worker holding the claimed copy cannot put it back.
		late := claimed
		must(t, late.Retry("timeout", base, base.Add(time.Second)))
		if _, err := s.Save(ctx, late, generation.Processing); !errors.Is(err, service.ErrConflict) {
			t.Fatalf("Save of a stale retry over a completed generation = %v, want ErrConflict", err)
		}
		got, _ := s.Get(ctx, g.ID)
		if got.Status != generation.Completed {
			t.Fatalf("status = %s, want completed", got.Status)
		}
		wantCounts(t, s, map[generation.Tier]service.StatusCounts{generation.Pro: {generation.Completed: 1}})
	})

	t.Run("CountersUnderConcurrentWorkers", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		const n = 8
		tiers := []generation.Tier{generation.Free, generation.Enterprise}
		var wg sync.WaitGroup
		for i := range n {
			g := create(t, s, newGeneration(fmt.Sprintf("user%d", i), tiers[i%2], base), "")
			for range 2 { // two deliveries of the same job race for it
				wg.Go(func() {
					if err := runJob(ctx, s, g, i%4 == 3); err != nil {
						t.Error(err)
					}
				})
			}
		}
		wg.Wait()
		wantCounts(t, s, map[generation.Tier]service.StatusCounts{
			generation.Free:       {generation.Completed: 4},
			generation.Enterprise: {generation.Completed: 2, generation.Failed: 2},
		})
	})

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
	operators(t, newStore)
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
