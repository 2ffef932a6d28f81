package localstack_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/localstack"
	"github.com/songqueue/songqueue/internal/service"
)

// submissionClock records when each prompt first reached Suno.
type submissionClock struct {
	service.Suno
	mu sync.Mutex
	at map[string]time.Time
}

func (c *submissionClock) Submit(ctx context.Context, req generation.Request, callbackURL string) (string, error) {
	c.mu.Lock()
	if _, ok := c.at[req.Prompt]; !ok {
		c.at[req.Prompt] = time.Now()
	}
	c.mu.Unlock()
	return c.Suno.Submit(ctx, req, callbackURL)
}

func (c *submissionClock) when(prompt string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.at[prompt]
	return t, ok
}

// TestFairnessWithinATier: with Suno's rate limit at 2 a second and one FREE
// user's 40 jobs queued, another FREE user's job created a second later
// reaches Suno within a few seconds, not after the backlog. The memory
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

func fairness(t *testing.T, b backend) {
	clock := &submissionClock{at: map[string]time.Time{}}
	s := startStack(t, b, func(c *localstack.Config) {
		c.RateLimit.Rate, c.RateLimit.Burst = 3, 2 // 2 a second
		c.FakeTextDelay, c.FakeFirstDelay, c.FakeCompleteDelay = 10*time.Millisecond, 20*time.Millisecond, 30*time.Millisecond
	}, localstack.Options{WrapSuno: func(next service.Suno) service.Suno { clock.Suno = next; return clock }})
	hog := user(t, s, "backlog", generation.Free)
	for i := range 40 {
		hog.create(fmt.Sprintf("backlog song %d", i))
	}
	time.Sleep(time.Second)
	quiet := user(t, s, "quiet", generation.Free)
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
			if wait > 4*time.Second {
				t.Errorf("the quiet user waited %s behind %d backlog jobs; want a few seconds", wait, before)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the quiet user's job never reached Suno")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
