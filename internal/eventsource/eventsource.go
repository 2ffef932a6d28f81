// Package eventsource emulates Lambda's SQS event source mapping for the
// local stack: it long-polls a tier's queue, hands batches to the same
// batch processor the worker Lambda runs (package batch) with at most a set
// number of invocations at once, deletes what the processor reports done
// and leaves failed messages to reappear after their visibility timeout
// (partial batch response), so the queue's redrive policy applies exactly
// as in AWS.
package eventsource

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/songqueue/songqueue/internal/batch"
	"github.com/songqueue/songqueue/internal/generation"
)

// Source is a set of per-tier queues that can be consumed.
type Source interface {
	Receive(ctx context.Context, tier generation.Tier, maxMessages int, wait time.Duration) ([]batch.Record, error)
	Delete(ctx context.Context, tier generation.Tier, receipts []string) error
}

// Options are the event source mapping's settings.
type Options struct {
	// MaxConcurrency is the most invocations at once (ScalingConfig).
	MaxConcurrency int
	// BatchSize is the most messages per invocation.
	BatchSize int
	// Wait is the long-poll wait of one receive.
	Wait time.Duration
	// Timeout bounds one invocation, like the function's timeout.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Run consumes tier's queue until ctx ends, then waits for the invocations
// in flight to finish: they run on their own context so that a shutdown
// does not abandon a job half done.
func Run(ctx context.Context, src Source, tier generation.Tier, opt Options, h batch.Handler) {
	if opt.MaxConcurrency <= 0 {
		opt.MaxConcurrency = 1
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 1
	}
	if opt.Wait <= 0 {
		opt.Wait = time.Second
	}
	if opt.Timeout <= 0 {
		opt.Timeout = time.Minute
	}
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	var wg sync.WaitGroup
	for range opt.MaxConcurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				batch, err := src.Receive(ctx, tier, opt.BatchSize, opt.Wait)
				if err != nil {
					if ctx.Err() == nil {
						log.Warn("receive failed", "tier", tier, "err", err)
						sleep(ctx, time.Second)
					}
					continue
				}
				if len(batch) > 0 {
					invoke(context.WithoutCancel(ctx), src, tier, opt, h, batch, log)
				}
			}
		})
	}
	wg.Wait()
}

func invoke(ctx context.Context, src Source, tier generation.Tier, opt Options, h batch.Handler, records []batch.Record, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	failed, err := batch.Process(ctx, records, h, log.With("tier", tier))
	if err != nil {
		// A function error: Lambda deletes nothing of the batch.
		log.ErrorContext(ctx, "worker invocation failed", "tier", tier, "err", err)
		return
	}
	bad := make(map[string]bool, len(failed))
	for _, id := range failed {
		bad[id] = true
	}
	var done []string
	for _, r := range records {
		if !bad[r.ID] {
			done = append(done, r.ReceiptHandle)
		}
	}
	if len(done) == 0 {
		return
	}
	if err := src.Delete(ctx, tier, done); err != nil {
		log.WarnContext(ctx, "delete processed messages", "tier", tier, "err", err)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
