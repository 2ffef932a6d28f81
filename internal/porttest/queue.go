package porttest

import (
	"context"
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

// Queue runs the contract of the queue adapters, one subtest per area; the
// package doc says which file holds each.
func Queue(t *testing.T, newQueue QueueFactory) {
	runArea(t, "Delivery", func(t *testing.T) { queueDelivery(t, newQueue) })
	runArea(t, "Delays", func(t *testing.T) { queueDelays(t, newQueue) })
	runArea(t, "Batches", func(t *testing.T) { queueBatches(t, newQueue) })
	runArea(t, "DeadLetters", func(t *testing.T) { queueDeadLetters(t, newQueue) })
}
