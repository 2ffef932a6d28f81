package porttest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/batch"
	"github.com/songqueue/songqueue/internal/eventsource"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// QueueUnderTest is what the queue adapters offer: the service's port and
// the event source's, and the operators' look at the dead letters. Depth
// reports the dead-letter queues too.
type QueueUnderTest interface {
	service.Queue
	service.DeadLetters
	eventsource.Source
	Depth(ctx context.Context) (map[generation.Tier]service.QueueDepth, error)
}

// QueueOptions are the queue settings the suite needs.
type QueueOptions struct {
	VisibilityTimeout time.Duration
	MaxReceiveCount   int
}

// QueueFactory returns fresh, empty queues with opt.
type QueueFactory func(t *testing.T, opt QueueOptions) QueueUnderTest

// suiteQueue is short enough to watch a timeout expire in a test and long
// enough that a message is not redelivered while a test holds it.
var suiteQueue = QueueOptions{VisibilityTimeout: 2 * time.Second, MaxReceiveCount: 2}

func job(tier generation.Tier) service.Job {
	return service.Job{Kind: service.JobGenerate, GenerationID: newID(), Tier: tier, Attempt: 1, EnqueuedAt: base}
}

func receiveOne(t *testing.T, q QueueUnderTest, tier generation.Tier, wait time.Duration) batch.Record {
	t.Helper()
	msgs, err := q.Receive(context.Background(), tier, 1, wait)
	if err != nil {
		t.Fatalf("Receive(%s): %v", tier, err)
	}
	if len(msgs) != 1 {
		t.Fatalf("Receive(%s, wait %s) got %d messages, want 1", tier, wait, len(msgs))
	}
	return msgs[0]
}

func receiveNone(t *testing.T, q QueueUnderTest, tier generation.Tier, wait time.Duration) {
	t.Helper()
	msgs, err := q.Receive(context.Background(), tier, 10, wait)
	if err != nil {
		t.Fatalf("Receive(%s): %v", tier, err)
	}
	if len(msgs) != 0 {
		t.Fatalf("Receive(%s) got %d messages, want none: %+v", tier, len(msgs), msgs)
	}
}

func wantDepth(t *testing.T, q QueueUnderTest, tier generation.Tier, want service.QueueDepth) {
	t.Helper()
	eventually(t, 5*time.Second, func() string {
		d, err := q.Depth(context.Background())
		if err != nil {
			return fmt.Sprintf("Depth: %v", err)
		}
		if d[tier] != want {
			return fmt.Sprintf("Depth()[%s] = %+v, want %+v", tier, d[tier], want)
		}
		return ""
	})
}

// Queue runs the contract of the queue adapters.
func Queue(t *testing.T, newQueue QueueFactory) {
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

	t.Run("RedriveAfterMaxReceiveCount", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t, suiteQueue)
		sent := job(generation.Free)
		if err := q.Send(ctx, sent, 0); err != nil {
			t.Fatal(err)
		}
		var id string
		wait := 2 * time.Second
		for n := 1; n <= suiteQueue.MaxReceiveCount; n++ {
			m := receiveOne(t, q, generation.Free, wait)
			if m.ReceiveCount != n {
				t.Fatalf("receive %d: receive count %d", n, m.ReceiveCount)
			}
			id = m.ID
			// The worker failed and did not delete it: it comes back once
			// the visibility timeout has passed.
			wait = suiteQueue.VisibilityTimeout + 3*time.Second
		}
		// The next receive, once it is visible again, finds it over the
		// limit and moves it aside.
		receiveNone(t, q, generation.Free, suiteQueue.VisibilityTimeout+3*time.Second)
		wantDepth(t, q, generation.Free, service.QueueDepth{Dead: 1})
		if dead, err := q.DeadCount(ctx); err != nil || dead[generation.Free] != 1 || dead[generation.Pro] != 0 {
			t.Fatalf("DeadCount = %v, %v; want the one FREE dead letter", dead, err)
		}
		// Looking at the dead letters leaves them there.
		for range 2 {
			dead, err := q.DeadLetters(ctx, generation.Free, 10)
			if err != nil || len(dead) != 1 {
				t.Fatalf("DeadLetters = %v, %v; want the one message", dead, err)
			}
			var got service.Job
			if err := json.Unmarshal(dead[0].Body, &got); err != nil || got.GenerationID != sent.GenerationID || dead[0].MessageID == "" {
				t.Fatalf("dead letter %+v (%v), want the job for %s", dead[0], err, sent.GenerationID)
			}
		}
		wantDepth(t, q, generation.Free, service.QueueDepth{Dead: 1})
		moved, err := q.Redrive(ctx, generation.Free)
		if err != nil || moved != 1 {
			t.Fatalf("Redrive = %d, %v; want 1 message moved", moved, err)
		}
		m := receiveOne(t, q, generation.Free, 2*time.Second)
		var got service.Job
		if err := json.Unmarshal(m.Body, &got); err != nil || got.GenerationID != sent.GenerationID {
			t.Fatalf("redriven message %q (%v), want the job for %s", m.Body, err, sent.GenerationID)
		}
		if m.ReceiveCount != 1 {
			t.Errorf("redriven message has receive count %d, want a fresh 1 (was message %s)", m.ReceiveCount, id)
		}
		wantDepth(t, q, generation.Free, service.QueueDepth{InFlight: 1})
	})
}
