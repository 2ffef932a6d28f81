package porttest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// storeCreate is the contract of Create and Get: a create is stored once,
// an idempotency key replays the first generation (or, once that was
// deleted, answers ErrKeyDeleted until the key expires), a song cancelled
// at Suno keeps its open slot until its SlotUntil, and the open and daily
// quotas hold exactly, under concurrency too, and QuotaState reads what
// they count.
func storeCreate(t *testing.T, newStore StoreFactory) {
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

	t.Run("IdempotencyKeyOfDeletedGeneration", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		first := create(t, s, newGeneration("u1", generation.Free, base), "key-gone")
		must(t, first.Cancel(base))
		first = save(t, s, first, generation.Pending)
		must(t, s.Delete(ctx, first))
		// The key is still remembered: a retry of the first create can
		// neither return its deleted song nor make a second one.
		again := newGeneration("u1", generation.Free, base.Add(time.Second))
		if got, created, err := s.Create(ctx, again, "key-gone", service.Quota{}); !errors.Is(err, service.ErrKeyDeleted) || created {
			t.Fatalf("Create with the key of a deleted generation = %+v, created %v, %v; want ErrKeyDeleted", got, created, err)
		}
		if _, err := s.Get(ctx, again.ID); !errors.Is(err, service.ErrNotFound) {
			t.Errorf("the refused create stored %s anyway (Get = %v)", again.ID, err)
		}
		// The same answer when the quota is full: it is the key's answer,
		// as a replay is.
		open := newGeneration("u1", generation.Free, base)
		open.HoldsQuota = true
		if _, created, err := s.Create(ctx, open, "", service.Quota{Open: 1}); err != nil || !created {
			t.Fatalf("create: %v %v", created, err)
		}
		if _, _, err := s.Create(ctx, newGeneration("u1", generation.Free, base), "key-gone", service.Quota{Open: 1, Daily: 1}); !errors.Is(err, service.ErrKeyDeleted) {
			t.Fatalf("Create with the key of a deleted generation and a full quota = %v; want ErrKeyDeleted", err)
		}
		wantCounts(t, s, map[generation.Tier]service.StatusCounts{generation.Free: {generation.Pending: 1}})
		// Another key, and another user's same key, are new songs.
		create(t, s, newGeneration("u1", generation.Free, base), "key-new")
		create(t, s, newGeneration("u2", generation.Free, base), "key-gone")
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

	t.Run("CancelAtSunoKeepsTheSlot", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		q := service.Quota{Open: 1}
		holding := func() generation.Generation {
			g := newGeneration("keeper", generation.Pro, base)
			g.HoldsQuota = true
			return g
		}
		g, created, err := s.Create(ctx, holding(), "", q)
		if err != nil || !created {
			t.Fatalf("create: %v %v", created, err)
		}
		must(t, g.Claim(1, base, time.Minute))
		g = save(t, s, g, generation.Pending)
		must(t, g.Submitted("task", base, time.Minute))
		g = save(t, s, g, generation.Processing)
		// Cancelled while Suno makes it: the slot stays taken until
		// SlotUntil, even once the song is deleted.
		until := time.Now().Add(2 * time.Second)
		must(t, g.Cancel(base))
		g.SlotUntil = until
		g = save(t, s, g, generation.Processing)
		must(t, s.Delete(ctx, g))
		var qe *service.QuotaError
		if _, _, err := s.Create(ctx, holding(), "", q); !errors.As(err, &qe) || qe.Limit != "open" {
			t.Fatalf("create while a cancelled song keeps its slot: %v; want the open quota", err)
		}
		if _, created, err := s.Create(ctx, newGeneration("other", generation.Pro, base), "", q); err != nil || !created {
			t.Fatalf("another user: %v %v", created, err)
		}
		time.Sleep(time.Until(until) + 50*time.Millisecond)
		next, created, err := s.Create(ctx, holding(), "", q)
		if err != nil || !created {
			t.Fatalf("create once the hold ended: %v %v", created, err)
		}
		// A cancel whose hold has already ended frees the slot at once.
		must(t, next.Claim(1, base, time.Minute))
		next = save(t, s, next, generation.Pending)
		must(t, next.Cancel(base))
		next.SlotUntil = time.Now().Add(-time.Second)
		save(t, s, next, generation.Processing)
		if _, created, err := s.Create(ctx, holding(), "", q); err != nil || !created {
			t.Fatalf("create after a cancel without a hold: %v %v", created, err)
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

	t.Run("QuotaStateIsWhatCreateCounts", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		state := func(user string) service.QuotaState {
			t.Helper()
			st, err := s.QuotaState(ctx, user)
			if err != nil {
				t.Fatalf("QuotaState(%s): %v", user, err)
			}
			return st
		}
		if st := state("counted"); st.Open != 0 || len(st.Held) != 0 || len(st.Creates) != 0 {
			t.Fatalf("QuotaState of a user who never created = %+v, want the zero state", st)
		}
		q := service.Quota{Open: 3, Daily: 5, Window: time.Hour}
		before := time.Now().Truncate(time.Millisecond)
		var gens []generation.Generation
		for range 3 {
			g := newGeneration("counted", generation.Pro, base)
			g.HoldsQuota = true
			stored, created, err := s.Create(ctx, g, "", q)
			if err != nil || !created {
				t.Fatalf("create: %v %v", created, err)
			}
			gens = append(gens, stored)
		}
		after := time.Now()
		st := state("counted")
		if st.Open != 3 || len(st.Held) != 0 || len(st.Creates) != 3 {
			t.Fatalf("QuotaState after 3 creates = %+v, want 3 open and 3 creates", st)
		}
		for i, at := range st.Creates {
			if at.Before(before) || at.After(after) || (i > 0 && at.Before(st.Creates[i-1])) {
				t.Errorf("QuotaState's creates = %v, want times from %s to %s, oldest first", st.Creates, before, after)
			}
		}
		// The open quota is full: Use counts it full, and Create agrees.
		if use := q.Use(st, time.Now()); use.Open != 3 || use.Daily != 3 {
			t.Errorf("Use of %+v = %+v, want 3 open and 3 today", st, use)
		}
		var qe *service.QuotaError
		extra := newGeneration("counted", generation.Pro, base)
		extra.HoldsQuota = true
		if _, _, err := s.Create(ctx, extra, "", q); !errors.As(err, &qe) || qe.Limit != "open" {
			t.Fatalf("a fourth open create: %v, want the open quota", err)
		}
		if st := state("counted"); st.Open != 3 || len(st.Creates) != 3 {
			t.Errorf("QuotaState after a refused create = %+v, want it unchanged", st)
		}

		// One cancelled while Suno makes it keeps its slot, held; one
		// cancelled while queued frees its slot at once.
		held := gens[0]
		must(t, held.Claim(1, base, time.Minute))
		held = save(t, s, held, generation.Pending)
		must(t, held.Submitted("task", base, time.Minute))
		held = save(t, s, held, generation.Processing)
		must(t, held.Cancel(base))
		held.SlotUntil = time.Now().Add(time.Hour)
		save(t, s, held, generation.Processing)
		queued := gens[1]
		must(t, queued.Cancel(base))
		save(t, s, queued, generation.Pending)
		st = state("counted")
		if st.Open != 1 || len(st.Held) != 1 || len(st.Creates) != 3 {
			t.Fatalf("QuotaState after two cancels = %+v, want 1 open, 1 held and 3 creates", st)
		}
		if d := st.Held[0].Sub(held.SlotUntil); d < 0 || d > time.Millisecond {
			t.Errorf("held slot until %s, want %s (rounded up at most to the millisecond)", st.Held[0], held.SlotUntil)
		}
		if use := q.Use(st, time.Now()); use.Open != 2 || use.Daily != 3 || !use.DailyFreeAt.IsZero() {
			t.Errorf("Use of %+v = %+v, want 2 open (one held) and 3 today, not full", st, use)
		}
		// Another user's quota is their own.
		if st := state("other"); st.Open != 0 || len(st.Held) != 0 || len(st.Creates) != 0 {
			t.Errorf("QuotaState of another user = %+v, want the zero state", st)
		}
	})
}
