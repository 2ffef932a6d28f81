package devstack_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// recordingSuno notes the order in which prompts reach Suno, and when
// each first did.
type recordingSuno struct {
	service.Suno
	mu    sync.Mutex
	order []string
	at    map[string]time.Time
}

// wrap is a devstack.Options.WrapSuno that records through r.
func (r *recordingSuno) wrap(next service.Suno) service.Suno { r.Suno = next; return r }

func (r *recordingSuno) Submit(ctx context.Context, req generation.Request, callbackURL string) (string, error) {
	r.mu.Lock()
	r.order = append(r.order, req.Prompt)
	if r.at == nil {
		r.at = map[string]time.Time{}
	}
	if _, ok := r.at[req.Prompt]; !ok {
		r.at[req.Prompt] = time.Now()
	}
	r.mu.Unlock()
	return r.Suno.Submit(ctx, req, callbackURL)
}

func (r *recordingSuno) submitted() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.order...)
}

// when is when prompt first reached Suno.
func (r *recordingSuno) when(prompt string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.at[prompt]
	return t, ok
}

func scenarioHigherTiersOvertakeABacklogWithoutStarvingIt(t *testing.T, b backend) {
	rec := &recordingSuno{}
	s := startStack(t, b, func(c *devstack.Config) {
		// Tokens must be the bottleneck even where every step is slow (an
		// emulator on a loaded machine): 2 a second for 30 jobs.
		c.RateLimit.Rate, c.RateLimit.Burst = 3, 2 // 2 a second: at most 3 in any second
		c.RateLimit.AgingStep = 20 * time.Second   // promotion (unit-tested in ratelimit) stays out of the way here
	}, devstack.Options{Options: app.Options{WrapSuno: rec.wrap}})

	free := user(t, s, "free-user", generation.Free)
	boss := user(t, s, "boss", generation.Enterprise)
	const backlog, urgent = 20, 10
	freeIDs := createAll(t, free, backlog, "free %02d")
	time.Sleep(300 * time.Millisecond) // the backlog is being worked on
	createAll(t, boss, urgent, "enterprise %d")
	// Counted once every ENTERPRISE job is queued: a FREE job submitted
	// while they were still being created did not pass any of them.
	arrived := len(rec.submitted())
	if waiting := backlog - arrived; waiting < backlog/2 {
		t.Fatalf("only %d of the FREE backlog was still waiting when the ENTERPRISE jobs arrived; the test needs a backlog", waiting)
	}

	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) && len(rec.submitted()) < backlog+urgent {
		time.Sleep(50 * time.Millisecond)
	}
	order := rec.submitted()
	if len(order) < backlog+urgent {
		t.Fatalf("only %d of %d jobs reached Suno: FREE jobs starved? order: %v", len(order), backlog+urgent, order)
	}
	lastUrgent, freeBefore := 0, 0
	for i, p := range order {
		if strings.HasPrefix(p, "enterprise") {
			lastUrgent = i
		}
	}
	for _, p := range order[arrived:lastUrgent] {
		if strings.HasPrefix(p, "free") {
			freeBefore++
		}
	}
	// Up to a tier's concurrency of FREE jobs may already hold a token
	// when the last ENTERPRISE job arrives, and on a loaded machine a few
	// more slip through while ENTERPRISE jobs wait for the emulator; without
	// priority, half or more of the waiting backlog passes them.
	waiting := backlog - arrived
	if allowed := max(5, waiting/3); freeBefore > allowed {
		t.Errorf("%d of the %d waiting FREE jobs reached Suno between the ENTERPRISE jobs' arrival and the last one's submission, want at most %d; order: %v", freeBefore, waiting, allowed, order)
	}
	for _, id := range freeIDs {
		for time.Now().Before(deadline) && free.status(id)["status"] != "completed" {
			time.Sleep(50 * time.Millisecond)
		}
		if st := free.status(id)["status"]; st != "completed" {
			t.Errorf("FREE generation %s is %v, want completed: %v", id, st, free.status(id))
		}
	}
	t.Logf("FREE jobs submitted after ENTERPRISE arrived and before the last of it: %d of %d waiting", freeBefore, backlog-arrived)
}

// createAll creates n generations at once, so that creating them takes
// little time even where each create is slow (an emulator on a busy
// machine), and returns their ids.
func createAll(t *testing.T, c client, n int, format string) []string {
	t.Helper()
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 10)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ids[i], errs[i] = c.tryCreate(fmt.Sprintf(format, i))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return ids
}
