package service_test

import (
	"context"
	"encoding/json"
	"fmt"
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

// BenchmarkWorkerGenerate measures the worker's time for one generation
// while Suno takes 1 s or 60 s to make the song. The worker submits and
// returns; completion arrives later by callback or poll, so the figure must
// not grow with Suno's latency.
func BenchmarkWorkerGenerate(b *testing.B) {
	for _, latency := range []time.Duration{time.Second, 60 * time.Second} {
		b.Run(fmt.Sprintf("suno=%s", latency), func(b *testing.B) {
			fake := sunofake.New(sunofake.Config{TextDelay: latency / 6, FirstDelay: latency / 2, CompleteDelay: latency})
			srv := httptest.NewServer(fake)
			defer srv.Close()
			defer fake.Close()
			store := memory.NewStore()
			queues := memory.NewQueues(memory.QueueConfig{})
			svc := service.MustAssemble(service.Ports{
				Store: store, Connections: store, Controls: store, Queue: queues, DeadLetters: queues, Notifier: memory.NewHub(),
				Account: memory.NewLimiter(ratelimit.Policy{Rate: 1e9}, nil),
				Suno:    suno.NewClient(srv.URL, "", nil),
			}, service.Config{MediaHosts: []string{srv.Listener.Addr().String()}})
			ctx := context.Background()
			caller := identity.Caller{UserID: "bench", Tier: generation.Pro}
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				res, err := svc.API.Create(ctx, caller, generation.Request{Prompt: "a benchmark song"}, "")
				if err != nil {
					b.Fatal(err)
				}
				msgs, _ := queues.Receive(ctx, generation.Pro, 10, 0)
				b.StartTimer()
				for _, m := range msgs {
					var job service.Job
					_ = json.Unmarshal(m.Body, &job)
					if err := svc.Worker.HandleJob(ctx, job); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				g, _ := store.Get(ctx, res.Generation.ID)
				if g.Status != generation.Processing || g.TaskID == "" {
					b.Fatalf("after the worker returned, generation is %s without a task", g.Status)
				}
				var rs []string
				for _, m := range msgs {
					rs = append(rs, m.ReceiptHandle)
				}
				_ = queues.Delete(ctx, generation.Pro, rs)
				b.StartTimer()
			}
		})
	}
}
