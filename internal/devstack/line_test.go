package devstack_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
)

// TestPlaceInLineIsHonest: under a mixed-tier backlog, each waiting song's
// estimatedStart is compared with when it really reached Suno. The median
// error is within a quarter of the wait; no song shows fewer than zero
// ahead or an estimate in the past. Run on the memory backend, which
// measures the service; the model is docs/place-in-line.md's.
func TestPlaceInLineIsHonest(t *testing.T) {
	rec := &recordingSuno{}
	s := startStack(t, backends[0], func(c *devstack.Config) {
		// 5 a second: a person's wait is seconds long, as at Suno's 2 a
		// second it is minutes, so that a machine's scheduling jitter (a
		// loaded CI runner's: 10 a second measured a median of 27 % there,
		// 11 % on a quiet machine) is a small part of it.
		c.RateLimit.Rate, c.RateLimit.Window = 5, time.Second
		c.FakeTextDelay, c.FakeFirstDelay, c.FakeCompleteDelay = 10*time.Millisecond, 20*time.Millisecond, 30*time.Millisecond
	}, devstack.Options{Options: app.Options{WrapSuno: rec.wrap}})

	// 120 songs, 30 per tier from 5 users each, created in a mixed order.
	type song struct {
		c      client
		prompt string
		tier   generation.Tier
		id     string
	}
	var songs []song
	for _, tier := range generation.Tiers {
		for i := range 30 {
			u := user(t, s, fmt.Sprintf("%s-user-%d", tier, i%5), tier)
			songs = append(songs, song{c: u, prompt: fmt.Sprintf("%s song %d", tier, i), tier: tier})
		}
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(songs), func(i, j int) { songs[i], songs[j] = songs[j], songs[i] })
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range songs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			id, err := songs[i].c.tryCreate(songs[i].prompt)
			if err != nil {
				t.Error(err)
			}
			songs[i].id = id
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// The backlog as a person would see it, once the line counts are
	// read again (they serve a second).
	time.Sleep(1100 * time.Millisecond)
	type estimate struct {
		song
		read, start time.Time
		ahead       float64
	}
	var estimates []estimate
	for _, sg := range songs {
		read := time.Now()
		st := sg.c.status(sg.id)
		if st["status"] != "pending" {
			continue
		}
		q, ok := st["queue"].(map[string]any)
		if !ok {
			t.Fatalf("pending song %s has no queue: %v", sg.prompt, st)
		}
		ahead, _ := q["ahead"].(float64)
		at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(q["estimatedStart"]))
		if err != nil {
			t.Fatalf("%s: estimatedStart %v: %v", sg.prompt, q["estimatedStart"], err)
		}
		if ahead < 0 || at.Before(read.Truncate(time.Millisecond)) {
			t.Errorf("%s: %v ahead, estimated start %s, read at %s: negative or in the past", sg.prompt, ahead, at, read)
		}
		estimates = append(estimates, estimate{sg, read, at, ahead})
	}
	if len(estimates) < len(songs)/2 {
		t.Fatalf("only %d of %d songs were still waiting when read: no backlog to measure", len(estimates), len(songs))
	}

	deadline := time.Now().Add(60 * time.Second)
	var errs []float64
	byTier := map[generation.Tier][]float64{}
	for _, e := range estimates {
		var at time.Time
		for {
			var ok bool
			if at, ok = rec.when(e.prompt); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never reached Suno", e.prompt)
			}
			time.Sleep(20 * time.Millisecond)
		}
		wait := at.Sub(e.read)
		if wait < 500*time.Millisecond {
			continue // submitted as it was read: no wait to be wrong about
		}
		r := (e.start.Sub(at)).Abs().Seconds() / wait.Seconds()
		errs = append(errs, r)
		byTier[e.tier] = append(byTier[e.tier], r)
	}
	slices.Sort(errs)
	quantile := func(x []float64, q float64) float64 {
		if len(x) == 0 {
			return 0
		}
		x = slices.Clone(x)
		slices.Sort(x)
		return x[int(q*float64(len(x)-1))]
	}
	median, p90 := quantile(errs, 0.5), quantile(errs, 0.9)
	t.Logf("%d waiting songs measured: error of estimatedStart over the wait: median %.0f %%, 90th percentile %.0f %%", len(errs), 100*median, 100*p90)
	for _, tier := range generation.Tiers {
		t.Logf("  %s: median %.0f %% over %d songs", tier, 100*quantile(byTier[tier], 0.5), len(byTier[tier]))
	}
	if median > 0.25 {
		t.Errorf("median error %.0f %% of the wait; want within 25 %%", 100*median)
	}
}
