package service_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/health"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/memory"
	"github.com/songqueue/songqueue/internal/metrics"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/suno"
	"github.com/songqueue/songqueue/internal/sunofake"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestSweepMovesStuckGenerationsOn(t *testing.T) {
	fake := sunofake.New(sunofake.Config{})
	srv := httptest.NewServer(fake)
	t.Cleanup(func() { srv.Close(); fake.Close() })
	clk := &clock{t: time.Now()}
	store := memory.NewStore()
	queues := memory.NewQueues(memory.QueueConfig{Now: clk.now})
	svc := service.MustAssemble(service.Ports{
		Store: store, Connections: store, Controls: store, Queue: queues, DeadLetters: queues, Notifier: memory.NewHub(),
		Account: memory.NewLimiter(ratelimit.Policy{Rate: 100}, clk.now), Suno: suno.NewClient(srv.URL, "", nil),
	}, service.Config{Now: clk.now, Deadline: time.Minute, ClaimLease: time.Minute, MediaHosts: []string{srv.Listener.Addr().String()}})
	ctx := context.Background()
	caller := identity.Caller{UserID: "u", Tier: generation.Free}

	lost, _ := svc.API.Create(ctx, caller, generation.Request{Prompt: "job lost"}, "")
	// The job is lost: received and deleted without being handled.
	msgs, _ := queues.Receive(ctx, generation.Free, 10, 0)
	_ = queues.Delete(ctx, generation.Free, []string{msgs[0].ReceiptHandle})

	clk.t = clk.t.Add(time.Hour)
	r, err := svc.Sweeper.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requeued != 1 {
		t.Fatalf("sweep = %+v, want the lost job requeued", r)
	}
	msgs, _ = queues.Receive(ctx, generation.Free, 10, 0)
	if len(msgs) != 1 {
		t.Fatalf("%d messages after the sweep, want the requeued job", len(msgs))
	}
	if err := svc.Worker.Handle(ctx, msgs[0]); err != nil {
		t.Fatalf("requeued job failed: %v", err)
	}
	g, _ := store.Get(ctx, lost.Generation.ID)
	if g.Status != generation.Processing || g.TaskID == "" {
		t.Fatalf("requeued job did not reach Suno: %+v", g)
	}
	// The fake finished long ago but neither callback nor poll came: the
	// sweeper asks Suno and completes it.
	clk.t = clk.t.Add(2 * time.Hour)
	if r, err := svc.Sweeper.Sweep(ctx); err != nil || r.Finished != 1 {
		t.Fatalf("second sweep = %+v, %v; want the generation finished", r, err)
	}
	if g, _ := store.Get(ctx, lost.Generation.ID); g.Status != generation.Completed {
		t.Fatalf("status = %s, want completed", g.Status)
	}
}

// TestEverySweepSaysWhetherEachAccountIsAvailable: the sweeper records
// each account's SunoAvailable at every run (1 while its breaker is
// closed, 0 while open), so the unavailability alarm has a sample every
// period, not only when a probe answers.
func TestEverySweepSaysWhetherEachAccountIsAvailable(t *testing.T) {
	ctx := context.Background()
	store := memory.NewStore()
	queues := memory.NewQueues(memory.QueueConfig{})
	up, down := memory.NewLimiter(ratelimit.Policy{Rate: 10}, nil), memory.NewLimiter(ratelimit.Policy{Rate: 10}, nil)
	if _, err := down.UpdateBreaker(ctx, func(b *health.Breaker) error {
		b.Failed(time.Now(), "g", generation.OutageMaintenance, "maintenance", health.DefaultPolicy())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rec := &accountSamples{}
	sweeper, err := service.NewSweeper(service.SweeperPorts{
		Core: service.NewCore(store, store, memory.NewHub()), Queue: queues, Controls: store,
		Accounts: []service.SweptAccount{{Name: "up", Suno: newScriptedSuno(), Breakers: up}, {Name: "down", Suno: newScriptedSuno(), Breakers: down}},
	}, service.Config{Metrics: rec})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := sweeper.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := rec.values("up", metrics.SunoAvailable); !slices.Equal(got, []float64{1, 1}) {
		t.Errorf("the closed account's SunoAvailable over two sweeps: %v, want [1 1]", got)
	}
	if got := rec.values("down", metrics.SunoAvailable); !slices.Equal(got, []float64{0, 0}) {
		t.Errorf("the open account's SunoAvailable over two sweeps: %v, want [0 0]", got)
	}
}

// accountSamples records the samples about accounts.
type accountSamples struct {
	mu      sync.Mutex
	samples map[string][]metrics.Sample
}

func (r *accountSamples) Record(context.Context, string, string, ...metrics.Sample) {}

func (r *accountSamples) RecordAccount(_ context.Context, account string, samples ...metrics.Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.samples == nil {
		r.samples = map[string][]metrics.Sample{}
	}
	r.samples[account] = append(r.samples[account], samples...)
}

func (r *accountSamples) values(account string, name metrics.Name) []float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []float64
	for _, s := range r.samples[account] {
		if s.Name == name {
			out = append(out, s.Value)
		}
	}
	return out
}
