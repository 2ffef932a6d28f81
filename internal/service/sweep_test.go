package service_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/memory"
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
