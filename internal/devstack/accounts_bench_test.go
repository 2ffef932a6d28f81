package devstack_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/sunofake"
)

// BenchmarkAccountsThroughput: submissions a second under a backlog with
// 1, 2 and 4 Suno accounts on the fake, each account with its own window
// (10 per second here, so that a run takes seconds; Suno's is 20 per
// 10 s), against the ideal N × 10 a second. The fake refuses with 430 a
// submission beyond an account's window, as Suno does: the benchmark
// counts them, and there must be none.
//
//	go test -run '^$' -bench AccountsThroughput -benchtime 1x ./internal/devstack/
func BenchmarkAccountsThroughput(b *testing.B) {
	backlogs := []struct {
		name   string
		tierOf func(i int) generation.Tier
	}{
		{"mixed-tiers", func(i int) generation.Tier { return generation.Tiers[i%4] }},
		{"one-tier", func(int) generation.Tier { return generation.Pro }},
	}
	for _, bl := range backlogs {
		for _, n := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("%s/accounts=%d", bl.name, n), func(b *testing.B) {
				for range b.N {
					rate, refused := accountsThroughput(b, n, bl.tierOf)
					b.ReportMetric(rate, "submissions/s")
					b.ReportMetric(rate/float64(10*n), "of-ideal")
					b.ReportMetric(float64(refused), "refused-430")
				}
			})
		}
	}
}

func accountsThroughput(b *testing.B, n int, tierOf func(i int) generation.Tier) (rate float64, refused int) {
	b.Helper()
	const perAccount = 10 // per second
	var keys []string
	cfg := devstack.DefaultConfig()
	cfg.Port = 0
	cfg.Media.Dir = b.TempDir()
	cfg.Media.BaseURL = "" // no copies: the benchmark measures submissions
	cfg.Pipeline.Quotas = nil
	cfg.Requests = app.RequestLimits{} // one user's backlog is created at once
	cfg.RateLimit.Rate, cfg.RateLimit.Window = perAccount, time.Second
	cfg.Concurrency = 8
	cfg.FakeTextDelay, cfg.FakeFirstDelay, cfg.FakeCompleteDelay = 50*time.Millisecond, 100*time.Millisecond, 200*time.Millisecond
	for i := range n {
		k := fmt.Sprintf("bench-key-%d", i+1)
		keys = append(keys, k)
		cfg.SunoKeys = append(cfg.SunoKeys, app.SecretRef{Name: k, Value: k})
	}
	s, err := devstack.Start(context.Background(), cfg, devstack.Options{FakeSuno: func(c *sunofake.Config) {
		c.RateLimit, c.RateWindow = perAccount, time.Second
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	}()
	backlog := 120 * n
	tokens := map[generation.Tier]string{}
	for _, t := range generation.Tiers {
		tok, err := s.Tokens.Mint("bench-"+string(t), t, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		tokens[t] = tok
	}
	// The backlog at once, from many clients, so that the workers meet a
	// backlog from the start.
	var wg sync.WaitGroup
	errs := make(chan error, backlog)
	sem := make(chan struct{}, 16)
	for i := range backlog {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			req, _ := http.NewRequest("POST", s.URL+"/api/generation/create", strings.NewReader(fmt.Sprintf(`{"prompt":"backlog %d"}`, i)))
			req.Header.Set("Authorization", "Bearer "+tokens[tierOf(i)])
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			res.Body.Close()
			if res.StatusCode != http.StatusAccepted {
				errs <- fmt.Errorf("create: %d", res.StatusCode)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	total := func() (accepted, tooFrequent int) {
		for _, k := range keys {
			accepted += s.Fake.Accepted(k)
			tooFrequent += s.Fake.TooFrequent(k)
		}
		return
	}
	deadline := time.Now().Add(time.Minute)
	for {
		accepted, _ := total()
		if accepted >= backlog {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d submitted in a minute", accepted, backlog)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The sustained rate: the submissions after the first second (an empty
	// window's burst), over the time they took.
	var at []time.Time
	for _, k := range keys {
		at = append(at, s.Fake.AcceptedAt(k)...)
	}
	slices.SortFunc(at, time.Time.Compare)
	from := at[0].Add(time.Second)
	steady := 0
	for _, t := range at {
		if t.After(from) {
			steady++
		}
	}
	_, tooFrequent := total()
	for _, k := range keys {
		if w := s.Fake.FullestWindow(k, time.Second); w > perAccount {
			b.Errorf("account %s: %d submissions in one window of 1 s, over its %d", k, w, perAccount)
		}
	}
	return float64(steady) / at[len(at)-1].Sub(from).Seconds(), tooFrequent
}
