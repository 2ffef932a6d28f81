package devstack_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
)

// TestFairnessWithinATier: with Suno's rate limit at 2 a second and one FREE
// user's 40 jobs queued, another FREE user's job created a second later
// reaches Suno after a few of the backlog's, not after all of them. The memory
// queues deliver as SQS fair queues do (message group = user); moto does
// not, and there the worker's yielding to other users does it alone.
func TestFairnessWithinATier(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fairness(t, b)
		})
	}
}

func fairness(t *testing.T, b backend) { fairnessBetween(t, b, "backlog", "quiet") }

// fairnessBetween is the fairness scenario with the backlog's and the
// quiet job's owners named hogID and quietID.
func fairnessBetween(t *testing.T, b backend, hogID, quietID string) {
	clock := &recordingSuno{}
	s := startStack(t, b, func(c *devstack.Config) {
		c.RateLimit.Rate, c.RateLimit.Burst = 2, 2 // 2 a second
		c.FakeTextDelay, c.FakeFirstDelay, c.FakeCompleteDelay = 10*time.Millisecond, 20*time.Millisecond, 30*time.Millisecond
	}, devstack.Options{Options: app.Options{WrapSuno: clock.wrap}})
	hog := user(t, s, hogID, generation.Free)
	for i := range 40 {
		hog.create(fmt.Sprintf("backlog song %d", i))
	}
	time.Sleep(time.Second)
	quiet := user(t, s, quietID, generation.Free)
	created := time.Now()
	quiet.create("one quiet song")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if at, ok := clock.when("one quiet song"); ok {
			wait := at.Sub(created)
			before := 0
			for i := range 40 {
				if b, ok := clock.when(fmt.Sprintf("backlog song %d", i)); ok && b.After(created) && b.Before(at) {
					before++
				}
			}
			t.Logf("the quiet user's job reached Suno %s after its create, behind %d of the backlog", wait.Round(10*time.Millisecond), before)
			// Unfair, it would wait for the rest of the backlog: about 38
			// jobs. Counted in jobs, not seconds, so that a slow machine
			// does not read as unfair. moto has no fair queues and its
			// latency grows with the machine's load (the worker's yielding
			// alone makes room there), so it gets half the backlog.
			bound := 8
			if b.name != "memory" {
				bound = 20
			}
			if before > bound {
				t.Errorf("the quiet user's job went to Suno behind %d backlog jobs (%s after its create); want at most %d", before, wait.Round(10*time.Millisecond), bound)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the quiet user's job never reached Suno")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
