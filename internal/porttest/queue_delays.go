package porttest

import (
	"context"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// queueDelays is the contract of delayed sends, including delays beyond
// what SQS allows.
func queueDelays(t *testing.T, newQueue QueueFactory) {
	ctx := context.Background()

	t.Run("DelayedSend", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t, suiteQueue)
		start := time.Now()
		if err := q.Send(ctx, job(generation.Pro), 1500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		wantDepth(t, q, generation.Pro, service.QueueDepth{Delayed: 1})
		receiveNone(t, q, generation.Pro, 0)
		receiveOne(t, q, generation.Pro, 5*time.Second)
		if waited := time.Since(start); waited < 1500*time.Millisecond {
			t.Errorf("a message delayed 1.5 s arrived after %s", waited)
		}
	})

	t.Run("DelayBeyondQueueMaximum", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t, suiteQueue)
		// SQS delays at most 15 minutes; the adapter must still accept the
		// send (the job's NotBefore makes the worker defer it again).
		if err := q.Send(ctx, job(generation.Free), 2*time.Hour); err != nil {
			t.Fatalf("Send with a 2 h delay: %v", err)
		}
		wantDepth(t, q, generation.Free, service.QueueDepth{Delayed: 1})
		receiveNone(t, q, generation.Free, time.Second)
	})
}
