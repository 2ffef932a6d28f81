package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
)

// TestPlaceInLine: a waiting song's place counts the higher tiers' songs
// and the earlier songs of its own tier, moves up as they go, and its
// estimate is the accounts' combined rate; a held song keeps its place
// but has no estimate.
func TestPlaceInLine(t *testing.T) {
	h := newHarness(t, func(h *harness) {
		// Two accounts at Suno's 20 per 10 s: 4 submissions a second.
		h.cfg.Line = service.LinePolicy{Limit: ratelimit.Policy{Rate: 20, Window: 10 * time.Second}, Accounts: 2}
	})
	place := func(g generation.Generation) service.Place {
		t.Helper()
		p, ok := h.roles.API.Places(h.ctx, h.get(g.ID))[g.ID]
		if !ok {
			t.Fatalf("%s has no place in line", g.Request.Prompt)
		}
		return p
	}
	// The estimate is the accounts' 4 a second, plus the queue's second
	// of lag, in milliseconds up.
	wantPlace := func(when string, g generation.Generation, ahead int64) {
		t.Helper()
		p := place(g)
		at := h.clock.Now().Add(time.Second + time.Duration(ahead)*time.Second/4)
		if p.Ahead != ahead || p.EstimatedStart == nil || p.EstimatedStart.Before(at) || !p.EstimatedStart.Before(at.Add(time.Millisecond)) {
			t.Errorf("%s: %s is %+v (start %v); want %d ahead, starting at %v", when, g.Request.Prompt, p, p.EstimatedStart, ahead, at)
		}
	}
	var free []generation.Generation
	for _, p := range []string{"free 1", "free 2", "free 3"} {
		free = append(free, h.create(generation.Free, p))
	}
	res, err := h.roles.API.Create(h.ctx, callerOf(generation.Enterprise), generation.Request{Prompt: "enterprise 1"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Place == nil || res.Place.Ahead != 0 {
		t.Fatalf("the create answered place %+v; an ENTERPRISE song is first in line", res.Place)
	}
	for _, p := range []string{"enterprise 2", "enterprise 3"} {
		h.create(generation.Enterprise, p)
	}
	// Three ENTERPRISE songs, then the FREE songs before it.
	wantPlace("queued", free[1], 4)
	wantPlace("queued", free[2], 5)

	h.mustRunNext(generation.Enterprise, service.JobGenerate)
	h.mustRunNext(generation.Free, service.JobGenerate)
	h.clock.Advance(2 * time.Second) // the counts are read at most once a second
	wantPlace("one ENTERPRISE and the first FREE song submitted", free[2], 3)
	if _, ok := h.roles.API.Places(h.ctx, h.get(free[0].ID))[free[0].ID]; ok {
		t.Error("a submitted song still has a place in line")
	}
	if _, err := h.cancel(free[1]); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(2 * time.Second)
	wantPlace("the one before it cancelled", free[2], 2)

	// Held: the place stays, the estimate goes.
	g := h.get(free[2].ID)
	if err := g.Hold("suno_unavailable", "Suno is unavailable", h.clock.Now(), h.clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Save(h.ctx, g, generation.Pending); err != nil {
		t.Fatal(err)
	}
	if p := place(free[2]); p.Ahead != 2 || p.EstimatedStart != nil {
		t.Errorf("held: %+v; want 2 ahead and no estimate", p)
	}
}

// TestSweepPushesPlacesThatMoved: the sweeper tells a person with the
// page open where their waiting song is in line, again when the place
// has moved, and not when it has not.
func TestSweepPushesPlacesThatMoved(t *testing.T) {
	h := newHarness(t, func(h *harness) {
		// No promotion while the test's clock jumps between sweeps.
		h.cfg.Line = service.LinePolicy{Limit: ratelimit.Policy{Rate: 10, AgingStep: time.Hour}, Accounts: 1}
	})
	var mu sync.Mutex
	var events []service.ProgressData
	h.hub.Attach("page", func(_ context.Context, b []byte) error {
		var ev struct {
			Event string
			Data  service.ProgressData
		}
		if err := json.Unmarshal(b, &ev); err != nil || ev.Event != service.EventProgress {
			t.Errorf("pushed %s (%v); want generation:progress", b, err)
		}
		mu.Lock()
		defer mu.Unlock()
		events = append(events, ev.Data)
		return nil
	}, func() {})
	caller := callerOf(generation.Free)
	if err := h.store.PutConnection(h.ctx, service.Connection{ID: "page", UserID: caller.UserID, Tier: caller.Tier, ConnectedAt: h.clock.Now(), ExpiresAt: h.clock.Now().Add(time.Hour)}, 0); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		h.create(generation.Enterprise, fmt.Sprintf("enterprise %d", i))
	}
	mine := h.create(generation.Free, "mine")
	sweep := func(want ...int64) {
		t.Helper()
		h.clock.Advance(6 * time.Second) // a round at most every 5 s
		mu.Lock()
		events = nil
		mu.Unlock()
		if _, err := h.roles.Sweeper.Sweep(h.ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		var got []int64
		for _, e := range events {
			if e.GenerationID != mine.ID || e.Queue == nil || e.Queue.EstimatedStart == nil || e.Version != h.get(mine.ID).Version {
				t.Errorf("pushed %+v; want my song's place with its version", e)
				continue
			}
			got = append(got, e.Queue.Ahead)
		}
		if !slices.Equal(got, want) {
			t.Errorf("places pushed: %v, want %v", got, want)
		}
	}
	sweep(3)
	sweep() // nothing moved
	h.mustRunNext(generation.Enterprise, service.JobGenerate)
	sweep(2)
	h.mustRunNext(generation.Enterprise, service.JobGenerate)
	h.mustRunNext(generation.Enterprise, service.JobGenerate)
	sweep(0)
	h.mustRunNext(generation.Free, service.JobGenerate)
	sweep() // submitted: no place any more
}

// TestOperatorsSeeEachAccountsWindow: the admin view shows an account's
// limit and how many tokens the window that ends now holds.
func TestOperatorsSeeEachAccountsWindow(t *testing.T) {
	h := newHarness(t) // one account, 100 a second
	op := identity.Caller{UserID: "op", Tier: generation.Enterprise, Groups: []string{"admin"}}
	used := func() service.AccountRate {
		t.Helper()
		accs, err := h.roles.Operators.SunoAccounts(h.ctx, op)
		if err != nil || len(accs) != 1 || accs[0].Rate == nil {
			t.Fatalf("SunoAccounts = %+v, %v; want one account with its rate", accs, err)
		}
		return *accs[0].Rate
	}
	if r := used(); r.Limit != 100 || r.WindowSeconds != 1 || r.Used != 0 {
		t.Fatalf("before any song: %+v; want 100 per 1 s, none used", r)
	}
	for i := range 3 {
		h.create(generation.Pro, fmt.Sprintf("song %d", i))
		h.mustRunNext(generation.Pro, service.JobGenerate)
	}
	if r := used(); r.Used != 3 {
		t.Errorf("after three submissions: %+v; want 3 used", r)
	}
	h.clock.Advance(2 * time.Second)
	if r := used(); r.Used != 0 {
		t.Errorf("a window later: %+v; want none used", r)
	}
}

// TestAJobFarBackInLineWaitsForItsTurn: a job the limiter turns away
// again waits longer each time, up to about half the time its place says
// its turn is away, rather than asking every second for a token the songs
// ahead will take; turned away the first time it waits as the limiter
// says.
func TestAJobFarBackInLineWaitsForItsTurn(t *testing.T) {
	h := newHarness(t, func(h *harness) {
		h.rate = ratelimit.Policy{Rate: 1, Window: time.Second}
		h.cfg.Line = service.LinePolicy{Limit: h.rate, Accounts: 1}
	})
	var last generation.Generation
	for i := range 30 {
		last = h.create(generation.Free, fmt.Sprintf("song %d", i))
	}
	h.mustRunNext(generation.Free, service.JobGenerate) // takes the one token
	h.clock.Advance(10 * time.Millisecond)
	waitOf := func(waits int) time.Duration {
		t.Helper()
		before := h.queue.count()
		job := service.Job{Kind: service.JobGenerate, GenerationID: last.ID, Tier: last.Tier, UserID: last.UserID, Attempt: 1, EnqueuedAt: last.CreatedAt, Waits: waits}
		if err := h.roles.Worker.HandleJob(h.ctx, job); err != nil {
			t.Fatal(err)
		}
		sent := h.queue.sentSince(before)
		if len(sent) != 1 || sent[0].Job.Waits != waits+1 {
			t.Fatalf("turned away after %d waits, it sent %+v; want the job again, its waits counted", waits, sent)
		}
		return sent[0].Delay
	}
	first, later := waitOf(0), waitOf(4)
	t.Logf("the last of 30 songs at one a second, turned away: first %s, the fifth time %s", first, later)
	if first > 2*time.Second {
		t.Errorf("turned away the first time it waits %s; want the limiter's second", first)
	}
	// 28 songs ahead at one a second: its turn is about 29 s away.
	if later < 10*time.Second || later > 20*time.Second {
		t.Errorf("turned away the fifth time it waits %s; want about half the 29 s to its turn", later)
	}
}

// TestAPausedTiersSongSaysWhyItWaits: a song of a paused tier is held
// with tier_paused and a plain message, keeps its place but shows no
// estimate; once resumed it is submitted and the reason clears.
func TestAPausedTiersSongSaysWhyItWaits(t *testing.T) {
	h := newHarness(t)
	if err := h.roles.Operators.SetPaused(h.ctx, operator, generation.Free, true); err != nil {
		t.Fatal(err)
	}
	g := h.create(generation.Free, "wait for the resume")
	h.mustRunNext(generation.Free, service.JobGenerate)
	g = h.get(g.ID)
	if g.Status != generation.Pending || g.WaitReason != "tier_paused" || g.Message == "" || g.Attempts != 0 {
		t.Fatalf("a paused tier's song: %s, reason %q, message %q, attempts %d; want pending, tier_paused, a message, no attempt", g.Status, g.WaitReason, g.Message, g.Attempts)
	}
	h.clock.Advance(2 * time.Second)
	if p := h.roles.API.Places(h.ctx, g)[g.ID]; p.EstimatedStart != nil {
		t.Errorf("a paused tier's song shows an estimate: %+v", p)
	}
	if err := h.roles.Operators.SetPaused(h.ctx, operator, generation.Free, false); err != nil {
		t.Fatal(err)
	}
	h.mustRunNext(generation.Free, service.JobGenerate)
	if g = h.get(g.ID); g.Status != generation.Processing || g.WaitReason != "" {
		t.Errorf("after the resume: %s, reason %q; want processing, no reason", g.Status, g.WaitReason)
	}
}

// TestATierThatRanOutStopsCappingTheTiersBelow: while ENTERPRISE is
// present a PRO song may fill the window only to PRO's ceiling (7 of 10),
// which keeps slots for ENTERPRISE songs that wait in the queue. The
// worker tells the limiter which tiers have no song waiting (the store's
// counts), so once ENTERPRISE's last song has gone PRO fills the window at
// once; with one ENTERPRISE song still waiting it stays at its ceiling.
func TestATierThatRanOutStopsCappingTheTiersBelow(t *testing.T) {
	for _, c := range []struct {
		name       string
		enterprise int // songs created; the first is submitted
		want       int // PRO songs submitted of nine, in a window
	}{
		{"ENTERPRISE ran out", 1, 9},
		{"ENTERPRISE still waiting", 2, 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(h *harness) {
				h.rate = ratelimit.Policy{Rate: 10, Window: time.Second, Burst: 10}
				h.cfg.Line = service.LinePolicy{Limit: h.rate, Accounts: 1}
			})
			for i := range c.enterprise {
				h.create(generation.Enterprise, fmt.Sprintf("enterprise %d", i))
			}
			h.mustRunNext(generation.Enterprise, service.JobGenerate)
			var pro []generation.Generation
			for i := range 9 {
				pro = append(pro, h.create(generation.Pro, fmt.Sprintf("pro %d", i)))
			}
			// One ask an interval, all within the window of ENTERPRISE's
			// grant.
			for _, g := range pro {
				h.clock.Advance(100 * time.Millisecond)
				job := service.Job{Kind: service.JobGenerate, GenerationID: g.ID, Tier: g.Tier, UserID: g.UserID, Attempt: 1, EnqueuedAt: g.CreatedAt}
				if err := h.roles.Worker.HandleJob(h.ctx, job); err != nil {
					t.Fatal(err)
				}
			}
			if got := len(h.suno.submissions()) - 1; got != c.want {
				t.Errorf("PRO songs submitted in ENTERPRISE's window: %d, want %d", got, c.want)
			}
		})
	}
}
