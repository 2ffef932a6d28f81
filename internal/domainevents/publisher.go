package domainevents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// MaxBatch is the most events a Sink is given at once: PutEvents' limit.
const MaxBatch = 10

// Sink delivers events.
type Sink interface {
	// Send delivers up to MaxBatch events and returns the indexes of those
	// it could not deliver (after whatever retries it makes), with why; nil
	// when every one was delivered.
	Send(ctx context.Context, events []Event) (failed []int, err error)
}

// Change is one stored change of a generation, in the order the store
// made it: Old is nil for a new generation, New nil for a removed one.
type Change struct {
	Old, New *generation.Generation
}

// Publisher turns a store's changes into events and delivers them.
type Publisher struct {
	sink Sink
	log  *slog.Logger
}

// NewPublisher publishes to sink.
func NewPublisher(sink Sink, log *slog.Logger) *Publisher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Publisher{sink: sink, log: log}
}

// Publish delivers the events of changes, in order, MaxBatch at a time,
// and returns how many of the changes are done: all of them, or the
// index of the first change whose event was not delivered, with why.
// The caller gives that change and the ones after it again (the stream's
// retry from the first failed record): an event of a later change that
// was delivered meanwhile is delivered twice, which its id makes
// harmless; none is lost.
func (p *Publisher) Publish(ctx context.Context, changes []Change) (done int, err error) {
	type pending struct {
		change int
		event  Event
	}
	var events []pending
	for i, c := range changes {
		if ev, ok := FromChange(c.Old, c.New); ok {
			events = append(events, pending{i, ev})
		}
	}
	for start := 0; start < len(events); start += MaxBatch {
		chunk := events[start:min(start+MaxBatch, len(events))]
		batch := make([]Event, len(chunk))
		for i, pe := range chunk {
			batch[i] = pe.event
		}
		failed, err := p.sink.Send(ctx, batch)
		if len(failed) == 0 && err == nil {
			for _, ev := range batch {
				p.log.DebugContext(ctx, "event published", "eventId", ev.ID, "detailType", ev.DetailType)
			}
			continue
		}
		first := len(chunk)
		for _, i := range failed {
			if i >= 0 && i < first {
				first = i
			}
		}
		if first == len(chunk) {
			first = 0 // an error that names no event: none is known delivered
		}
		if err == nil {
			err = errors.New("not delivered")
		}
		return chunk[first].change, fmt.Errorf("event %s (%s): %w", chunk[first].event.ID, chunk[first].event.DetailType, err)
	}
	return len(changes), nil
}

// backoff is the wait before retry n (from 0) of a sink's delivery:
// base, doubling, at most max.
func backoff(base, max time.Duration, n int) time.Duration {
	d := base
	for range n {
		d *= 2
		if d >= max {
			return max
		}
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
