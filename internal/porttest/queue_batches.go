package porttest

import (
	"context"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// queueBatches is the contract of batches and depth: deletes of more
// receipts than one SQS batch takes, and Depth by message state.
func queueBatches(t *testing.T, newQueue QueueFactory) {
	ctx := context.Background()

	t.Run("BatchDeleteBeyondTen", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t, suiteQueue)
		const n = 13
		for range n {
			if err := q.Send(ctx, job(generation.Pro), 0); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]string{}
		for try := 0; len(seen) < n && try < 20; try++ {
			msgs, err := q.Receive(ctx, generation.Pro, 10, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) > 10 {
				t.Fatalf("Receive(max 10) returned %d messages", len(msgs))
			}
			for _, m := range msgs {
				seen[m.ID] = m.ReceiptHandle
			}
		}
		if len(seen) != n {
			t.Fatalf("received %d distinct messages of %d", len(seen), n)
		}
		var receipts []string
		for _, r := range seen {
			receipts = append(receipts, r)
		}
		if err := q.Delete(ctx, generation.Pro, receipts); err != nil {
			t.Fatal(err)
		}
		wantDepth(t, q, generation.Pro, service.QueueDepth{})
	})

	t.Run("DepthByState", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t, suiteQueue)
		for _, d := range []time.Duration{0, 0, time.Hour} {
			if err := q.Send(ctx, job(generation.Premium), d); err != nil {
				t.Fatal(err)
			}
		}
		wantDepth(t, q, generation.Premium, service.QueueDepth{Waiting: 2, Delayed: 1})
		receiveOne(t, q, generation.Premium, 2*time.Second)
		wantDepth(t, q, generation.Premium, service.QueueDepth{Waiting: 1, InFlight: 1, Delayed: 1})
	})
}
