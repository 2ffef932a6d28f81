package porttest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// storeSave is the contract of Save: it is conditional on the version and
// the status, so of two workers claiming one job or two completions of one
// version only one wins, and the counters stay exact under concurrent
// workers.
func storeSave(t *testing.T, newStore StoreFactory) {
	ctx := context.Background()

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
}
