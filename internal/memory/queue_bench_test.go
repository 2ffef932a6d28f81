package memory_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/memory"
	"github.com/songqueue/songqueue/internal/service"
)

// BenchmarkReceive measures one receive-and-delete cycle of a tier queue
// holding a backlog of n messages: Receive(batch), Delete of what came, and
// as many new sends so that the backlog stays at n. One op is one cycle.
// The cost must not grow with the backlog: a receive is O(log n).
func BenchmarkReceive(b *testing.B) {
	shapes := []struct {
		name string
		// groups is how many message groups (users) the backlog spans.
		groups func(n int) int
		// inFlight is how many of the backlog are received (and not
		// deleted) before the measure; delayed how many are sent with a
		// delay: both are invisible, waiting for their time.
		inFlight, delayed func(n int) int
	}{
		{name: "groups=0.1n", groups: func(n int) int { return n / 10 }},
		{name: "groups=4", groups: func(int) int { return 4 }},
		{
			name:     "groups=0.1n,half-invisible",
			groups:   func(n int) int { return n / 10 },
			inFlight: func(n int) int { return n / 4 },
			delayed:  func(n int) int { return n / 4 },
		},
	}
	for _, shape := range shapes {
		for _, batch := range []int{1, 10} {
			for _, n := range []int{1_000, 10_000, 100_000} {
				b.Run(fmt.Sprintf("%s/batch=%d/n=%d", shape.name, batch, n), func(b *testing.B) {
					benchReceive(b, n, shape.groups(n), orZero(shape.inFlight, n), orZero(shape.delayed, n), batch)
				})
			}
		}
	}
}

func orZero(f func(int) int, n int) int {
	if f == nil {
		return 0
	}
	return f(n)
}

func benchReceive(b *testing.B, n, groups, inFlight, delayed, batch int) {
	ctx := context.Background()
	const tier = generation.Pro
	q := memory.NewQueues(memory.QueueConfig{VisibilityTimeout: time.Hour, MaxReceiveCount: 1 << 30})
	users := make([]string, groups)
	for i := range users {
		users[i] = "user-" + strconv.Itoa(i)
	}
	next := 0
	send := func(delay time.Duration) {
		job := service.Job{Kind: service.JobGenerate, GenerationID: "g-" + strconv.Itoa(next), Tier: tier, UserID: users[next%groups], Attempt: 1}
		next++
		if err := q.Send(ctx, job, delay); err != nil {
			b.Fatal(err)
		}
	}
	for i := range n {
		if i < delayed {
			send(time.Hour)
		} else {
			send(0)
		}
	}
	// Received and never deleted: in flight for the hour of the timeout.
	for held := 0; held < inFlight; {
		msgs, err := q.Receive(ctx, tier, 10, 0)
		if err != nil || len(msgs) == 0 {
			b.Fatalf("receive the in-flight part: %d messages, %v", len(msgs), err)
		}
		held += len(msgs)
	}
	receipts := make([]string, 0, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		msgs, err := q.Receive(ctx, tier, batch, 0)
		if err != nil || len(msgs) != batch {
			b.Fatalf("receive: %d messages, %v", len(msgs), err)
		}
		receipts = receipts[:0]
		for _, m := range msgs {
			receipts = append(receipts, m.ReceiptHandle)
		}
		if err := q.Delete(ctx, tier, receipts); err != nil {
			b.Fatal(err)
		}
		for range msgs {
			send(0)
		}
	}
}
