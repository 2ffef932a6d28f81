package devstack_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/sunofake"
)

// kind is one way a generation can go, scripted through the fake's prompt
// directives, with the end it must reach.
type kind struct {
	name      string
	directive string
	status    string // the terminal status it must reach
	attempts  int    // how many attempts that takes; 0: not checked
	cancel    string // "", "queued" or "running"
}

var kinds = []kind{
	{name: "plain", status: "completed", attempts: 1},
	{name: "transient then fine", directive: "[fake:fail=1]", status: "completed", attempts: 2},
	{name: "transient to the end", directive: "[fake:fail=9]", status: "failed", attempts: 3},
	{name: "permanent", directive: "[fake:sensitive]", status: "failed", attempts: 1},
	{name: "audio failed", directive: "[fake:audio-failed]", status: "failed", attempts: 3},
	{name: "no callback", directive: "[fake:nocallback]", status: "completed", attempts: 1},
	{name: "rate limited", directive: "[fake:ratelimit=2]", status: "completed", attempts: 1},
	{name: "cancel queued", directive: "[fake:slow=30s]", status: "cancelled", cancel: "queued"},
	{name: "cancel running", directive: "[fake:slow=30s]", status: "cancelled", cancel: "running"},
}

// accountingSize is how many generations TestAccounting makes on backend;
// make soak sets SOAK_GENERATIONS for a long run on the memory backend.
func accountingSize(t *testing.T, backend string) int {
	if v := os.Getenv("SOAK_GENERATIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("SOAK_GENERATIONS=%q: want a positive number", v)
		}
		return n
	}
	if backend == "aws" {
		return 72 // every kind eight times: moto serialises DynamoDB, and it is the bottleneck
	}
	return 300
}

// TestAccounting drives a few hundred generations across users and tiers
// through the local stack as a frontend would, with every kind of outcome,
// every queue message sent twice now and then and every Suno callback
// posted twice, and accounts for each one: the terminal state its prompt
// asked for, exactly one terminal event to its owner and nothing after it,
// versions that only grow, nothing to anyone else, one Suno submission per
// attempt, and queue statistics that add up.
func TestAccounting(t *testing.T) {
	for _, b := range backends {
		if os.Getenv("SOAK_GENERATIONS") != "" && b.name != "memory" {
			continue // the soak is the memory backend's
		}
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			r := runAccounting(t, b, accountingSize(t, b.name))
			t.Logf("%s: %d generations in %s (%.0f/s): %v; %d duplicate messages injected, %d events checked",
				b.name, r.n, r.took.Round(time.Millisecond), float64(r.n)/r.took.Seconds(), r.outcomes, r.duplicates, r.events)
		})
	}
}

type accountingReport struct {
	n          int
	took       time.Duration
	outcomes   map[string]int
	duplicates int64
	events     int
}

// duplicatingQueue delivers some messages twice, as SQS may.
type duplicatingQueue struct {
	service.Queue
	n, every, sent atomic.Int64
}

func (d *duplicatingQueue) Send(ctx context.Context, job service.Job, delay time.Duration) error {
	if err := d.Queue.Send(ctx, job, delay); err != nil {
		return err
	}
	if d.n.Add(1)%d.every.Load() == 0 {
		d.sent.Add(1)
		return d.Queue.Send(ctx, job, delay+5*time.Millisecond)
	}
	return nil
}

func runAccounting(t *testing.T, b backend, n int) accountingReport {
	dup := &duplicatingQueue{}
	dup.every.Store(7)
	s := startStack(t, b, func(c *devstack.Config) {
		c.Pipeline.Retry.BackoffBase = 20 * time.Millisecond
		c.Pipeline.PollInterval = 50 * time.Millisecond
		c.Pipeline.Deadline = 20 * time.Second
		c.Concurrency = 8
		c.RateLimit.Rate = 5000
		c.FakeTextDelay, c.FakeFirstDelay, c.FakeCompleteDelay = 5*time.Millisecond, 15*time.Millisecond, 30*time.Millisecond
		// A loaded emulator may take seconds over one step: no step may be
		// mistaken for a dead worker.
		c.WorkerTimeout, c.Pipeline.ClaimLease, c.QueueSettings.VisibilityTimeout = 20*time.Second, 25*time.Second, 30*time.Second
	}, devstack.Options{
		Options:  app.Options{WrapQueue: func(q service.Queue) service.Queue { dup.Queue = q; return dup }},
		FakeSuno: func(c *sunofake.Config) { c.DuplicateCallbacks = true },
	})

	// Two users of each tier, each with a connection open.
	type person struct {
		c  client
		ws *socket
	}
	var people []person
	for _, tier := range generation.Tiers {
		for i := range 2 {
			u := user(t, s, fmt.Sprintf("acct-%s-%d", tier, i), tier)
			people = append(people, person{u, u.dial()})
		}
	}

	type made struct {
		id, prompt string
		owner      int
		kind       kind
	}
	gens := make([]made, n)
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Value
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				k := kinds[i%len(kinds)]
				owner := rand.IntN(len(people))
				prompt := fmt.Sprintf("accounting song %d", i)
				if k.directive != "" {
					prompt += " " + k.directive
				}
				id, err := people[owner].c.tryCreate(prompt)
				if err != nil {
					failed.Store(err)
					continue
				}
				gens[i] = made{id, prompt, owner, k}
				if err := cancelAsScripted(people[owner].c, id, k.cancel); err != nil {
					failed.Store(err)
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}

	// Wait for every owner to hear the end of every generation.
	terminal := func(e event) bool {
		return e.Event == service.EventComplete || e.Event == service.EventError || e.Event == service.EventCancelled
	}
	byOwner := make([][]string, len(people))
	for _, g := range gens {
		byOwner[g.owner] = append(byOwner[g.owner], g.id)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for p := range people {
		want := map[string]bool{}
		for _, id := range byOwner[p] {
			want[id] = true
		}
		for {
			ended := map[string]bool{}
			for _, e := range people[p].ws.events("") {
				if terminal(e) && want[e.id()] {
					ended[e.id()] = true
				}
			}
			if len(ended) == len(want) {
				break
			}
			if time.Now().After(deadline) {
				for id := range want {
					if !ended[id] {
						t.Errorf("no end heard of %s: %v; events %v", id, people[p].c.status(id), people[p].ws.events(id))
					}
				}
				t.Fatalf("user %d heard the end of %d of %d generations", p, len(ended), len(want))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	took := time.Since(start)
	quiet() // late callbacks, polls and duplicates get their chance to misbehave

	report := accountingReport{n: n, took: took, outcomes: map[string]int{}, duplicates: dup.sent.Load()}
	owners := map[string]int{}
	for _, g := range gens {
		owners[g.id] = g.owner
	}
	// Nothing reaches anyone but the owner.
	for p, person := range people {
		for _, e := range person.ws.events("") {
			if o, ours := owners[e.id()]; ours && o != p {
				t.Errorf("user %d received %s of user %d's generation %s", p, e, o, e.id())
			}
		}
	}
	for _, g := range gens {
		evs := people[g.owner].ws.events(g.id)
		report.events += len(evs)
		st := people[g.owner].c.status(g.id)
		report.outcomes[st["status"].(string)]++
		where := fmt.Sprintf("%s (%s, %q)", g.id, g.kind.name, g.prompt)
		if st["status"] != g.kind.status {
			t.Errorf("%s ended %v, want %s: %v", where, st["status"], g.kind.status, st)
			continue
		}
		attempts := int(st["attempts"].(float64))
		if g.kind.attempts > 0 && attempts != g.kind.attempts {
			t.Errorf("%s took %d attempts, want %d", where, attempts, g.kind.attempts)
		}
		if subs := s.Fake.SubmissionsFor(g.prompt) - s.Fake.RateLimitedFor(g.prompt); subs != attempts {
			t.Errorf("%s: %d Suno submissions for %d attempts, want one per attempt", where, subs, attempts)
		}
		var last int64 = -1
		ends := 0
		for i, e := range evs {
			v, ok := e.Data["version"].(float64)
			if !ok || int64(v) <= last {
				t.Errorf("%s: event %d (%s) has version %v after %d: %v", where, i, e, e.Data["version"], last, evs)
			}
			last = int64(v)
			if terminal(e) {
				ends++
				if i != len(evs)-1 {
					t.Errorf("%s: events after the end: %v", where, evs)
				}
				if e.status() != g.kind.status {
					t.Errorf("%s: the terminal event says %s, want %s", where, e.status(), g.kind.status)
				}
			}
		}
		if ends != 1 {
			t.Errorf("%s: %d terminal events, want exactly 1: %v", where, ends, evs)
		}
		if v := st["version"].(float64); int64(v) != last {
			t.Errorf("%s: GET status has version %v, the last event %d", where, v, last)
		}
	}

	// The statistics count every finished generation once, in its end state.
	_, stats := people[0].c.do("GET", "/api/queue/stats", nil)
	for _, k := range []string{"completed", "failed", "cancelled"} {
		if got := int(stats[k].(float64)); got != report.outcomes[k] {
			t.Errorf("stats: %s = %d, want %d (%v)", k, got, report.outcomes[k], stats)
		}
	}
	return report
}

// cancelAsScripted cancels a generation of the cancel kinds: at once
// (still queued, or just picked up), or once the owner can see it running.
func cancelAsScripted(c client, id, when string) error {
	switch when {
	case "":
		return nil
	case "running":
		// Past the sweeper's two minutes: on a loaded emulator a job may
		// be late, or lost with its send, and the sweeper sends it again.
		deadline := time.Now().Add(150 * time.Second)
		for {
			code, st, err := c.try("GET", "/api/generation/status/"+id, nil)
			if err != nil {
				return err
			}
			if code == http.StatusOK && st["status"] == "processing" && st["progress"].(float64) >= generation.ProgressSubmitted {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s never ran: %v", id, st)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	code, body, err := c.try("POST", "/api/generation/"+id+"/cancel", nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("cancel %s (%s): %d %v", id, when, code, body)
	}
	return nil
}
