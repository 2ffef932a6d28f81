package porttest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// queueDeadLetters is the contract of the dead letters: a message received
// too often is moved aside, can be looked at without being consumed, and is
// redriven as a fresh message.
func queueDeadLetters(t *testing.T, newQueue QueueFactory) {
	ctx := context.Background()

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
