package porttest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// queueDelivery is the contract of sending, receiving and deleting one
// message: tiers are separate queues, an undeleted message comes back after
// the visibility timeout, and a long poll wakes when a message arrives.
func queueDelivery(t *testing.T, newQueue QueueFactory) {
	ctx := context.Background()

	t.Run("SendReceiveDelete", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t, suiteQueue)
		sent := job(generation.Pro)
		sent.TaskID = "task-1"
		sent.NotBefore = base.Add(time.Hour)
		if err := q.Send(ctx, sent, 0); err != nil {
			t.Fatal(err)
		}
		m := receiveOne(t, q, generation.Pro, 2*time.Second)
		var got service.Job
		if err := json.Unmarshal(m.Body, &got); err != nil {
			t.Fatalf("body %q: %v", m.Body, err)
		}
		if !got.EnqueuedAt.Equal(sent.EnqueuedAt) || !got.NotBefore.Equal(sent.NotBefore) {
			t.Errorf("times changed on the way: got %+v, want %+v", got, sent)
		}
		got.EnqueuedAt, got.NotBefore, sent.EnqueuedAt, sent.NotBefore = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if got != sent {
			t.Errorf("received job %+v, want %+v", got, sent)
		}
		if m.ID == "" || m.ReceiptHandle == "" || m.ReceiveCount != 1 {
			t.Errorf("message id %q, receipt %q, receive count %d; want both set and 1", m.ID, m.ReceiptHandle, m.ReceiveCount)
		}
		wantDepth(t, q, generation.Pro, service.QueueDepth{InFlight: 1})
		if err := q.Delete(ctx, generation.Pro, []string{m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
		wantDepth(t, q, generation.Pro, service.QueueDepth{})
	})

	t.Run("TiersAreSeparate", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t, suiteQueue)
		if err := q.Send(ctx, job(generation.Enterprise), 0); err != nil {
			t.Fatal(err)
		}
		receiveNone(t, q, generation.Free, time.Second)
		receiveOne(t, q, generation.Enterprise, 2*time.Second)
	})

	t.Run("VisibilityTimeoutRedelivers", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t, suiteQueue)
		if err := q.Send(ctx, job(generation.Free), 0); err != nil {
			t.Fatal(err)
		}
		first := receiveOne(t, q, generation.Free, 2*time.Second)
		receiveNone(t, q, generation.Free, 0)
		again := receiveOne(t, q, generation.Free, suiteQueue.VisibilityTimeout+3*time.Second)
		if again.ID != first.ID || again.ReceiveCount != 2 || again.ReceiptHandle == first.ReceiptHandle {
			t.Errorf("redelivery: id %s (first %s), receive count %d, same receipt %v; want the same message, count 2, a new receipt",
				again.ID, first.ID, again.ReceiveCount, again.ReceiptHandle == first.ReceiptHandle)
		}
	})

	t.Run("LongPollWakesOnSend", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t, suiteQueue)
		go func() {
			time.Sleep(300 * time.Millisecond)
			if err := q.Send(ctx, job(generation.Enterprise), 0); err != nil {
				t.Error(err)
			}
		}()
		start := time.Now()
		receiveOne(t, q, generation.Enterprise, 8*time.Second)
		if waited := time.Since(start); waited > 6*time.Second {
			t.Errorf("long poll returned after %s, not when the message arrived", waited)
		}
	})
}
