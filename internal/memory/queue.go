package memory

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/songqueue/songqueue/internal/batch"
	"github.com/songqueue/songqueue/internal/eventsource"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// QueueConfig mirrors the SQS settings the template gives each tier queue.
type QueueConfig struct {
	VisibilityTimeout time.Duration // default 30 s
	MaxReceiveCount   int           // receives before redrive; default 5
	Now               func() time.Time
}

// Message is a received message.
type Message = batch.Record

type entry struct {
	Message
	group     string // the job's owner, as an SQS fair queue's message group
	seq       uint64
	visibleAt time.Time
	delayed   bool // not yet received since its delay was set
	inFlight  bool
}

type tierQueue struct {
	// delivered is when each message group was last delivered from.
	delivered map[string]time.Time
	messages  []*entry
	dead      []*entry
}

// Queues is one queue per tier, each with its dead-letter queue, with SQS
// standard-queue semantics: delay, visibility timeout, receive count and
// redrive after MaxReceiveCount receives.
type Queues struct {
	cfg     QueueConfig
	mu      sync.Mutex
	tiers   map[generation.Tier]*tierQueue
	seq     uint64
	changed chan struct{} // closed and replaced on every send
}

var (
	_ service.Queue      = (*Queues)(nil)
	_ eventsource.Source = (*Queues)(nil)
)

// NewQueues returns empty queues for every tier.
func NewQueues(cfg QueueConfig) *Queues {
	if cfg.VisibilityTimeout <= 0 {
		cfg.VisibilityTimeout = 30 * time.Second
	}
	if cfg.MaxReceiveCount <= 0 {
		cfg.MaxReceiveCount = 5
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	q := &Queues{cfg: cfg, tiers: map[generation.Tier]*tierQueue{}, changed: make(chan struct{})}
	for _, t := range generation.Tiers {
		q.tiers[t] = &tierQueue{}
	}
	return q
}

func (q *Queues) tier(t generation.Tier) (*tierQueue, error) {
	tq, ok := q.tiers[t]
	if !ok {
		return nil, fmt.Errorf("no queue for tier %q", t)
	}
	return tq, nil
}

// wake tells waiting receivers that something changed. Call with mu held.
func (q *Queues) wake() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// Send implements service.Queue.
func (q *Queues) Send(_ context.Context, job service.Job, delay time.Duration) error {
	body, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	return q.send(job.Tier, job.UserID, body, delay)
}

func (q *Queues) send(t generation.Tier, group string, body []byte, delay time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	tq, err := q.tier(t)
	if err != nil {
		return err
	}
	q.seq++
	now := q.cfg.Now()
	tq.messages = append(tq.messages, &entry{
		Message:   Message{ID: "m-" + strconv.FormatUint(q.seq, 10), Body: body},
		group:     group,
		seq:       q.seq,
		visibleAt: now.Add(max(delay, 0)),
		delayed:   delay > 0,
	})
	q.wake()
	return nil
}

// Receive returns up to max visible messages of tier's queue, waiting up to
// wait for one to arrive (long polling). Each is hidden for the visibility
// timeout; a message received more than MaxReceiveCount times moves to the
// dead-letter queue instead.
func (q *Queues) Receive(ctx context.Context, t generation.Tier, maxMessages int, wait time.Duration) ([]Message, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		q.mu.Lock()
		tq, err := q.tier(t)
		if err != nil {
			q.mu.Unlock()
			return nil, err
		}
		out, next := q.take(tq, maxMessages)
		changed := q.changed
		q.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
		var soon <-chan time.Time
		if !next.IsZero() {
			timer := time.NewTimer(max(next.Sub(q.cfg.Now()), time.Millisecond))
			defer timer.Stop()
			soon = timer.C
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, nil
		case <-changed:
		case <-soon:
		}
	}
}

// take receives up to n visible messages and returns, when there are none,
// when the next one becomes visible. Call with mu held.
func (q *Queues) take(tq *tierQueue, n int) ([]Message, time.Time) {
	now := q.cfg.Now()
	var out []Message
	var next time.Time
	// As an SQS fair queue: among the visible messages, those of the
	// groups with the fewest messages in flight go first, then those of the
	// group served longest ago, so one group's backlog does not hold up the
	// others; then the oldest.
	inFlight := map[string]int{}
	for _, e := range tq.messages {
		if e.inFlight && e.visibleAt.After(now) {
			inFlight[e.group]++
		}
	}
	visible := func(e *entry) bool { return !e.visibleAt.After(now) }
	slices.SortStableFunc(tq.messages, func(a, b *entry) int {
		if va, vb := visible(a), visible(b); va != vb {
			if va {
				return -1
			}
			return 1
		} else if va {
			if c := inFlight[a.group] - inFlight[b.group]; c != 0 {
				return c
			}
			if c := tq.delivered[a.group].Compare(tq.delivered[b.group]); c != 0 {
				return c
			}
		}
		if c := a.visibleAt.Compare(b.visibleAt); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	kept := tq.messages[:0]
	for _, e := range tq.messages {
		if len(out) >= n || e.visibleAt.After(now) {
			if e.visibleAt.After(now) && (next.IsZero() || e.visibleAt.Before(next)) {
				next = e.visibleAt
			}
			kept = append(kept, e)
			continue
		}
		if e.ReceiveCount >= q.cfg.MaxReceiveCount {
			tq.dead = append(tq.dead, e)
			continue
		}
		e.ReceiveCount++
		q.seq++
		e.ReceiptHandle = e.ID + "/" + strconv.FormatUint(q.seq, 10)
		e.visibleAt = now.Add(q.cfg.VisibilityTimeout)
		e.delayed, e.inFlight = false, true
		if tq.delivered == nil {
			tq.delivered = map[string]time.Time{}
		}
		tq.delivered[e.group] = now
		out = append(out, e.Message)
		kept = append(kept, e)
	}
	clear(tq.messages[len(kept):])
	tq.messages = kept
	return out, next
}

func (q *Queues) find(t generation.Tier, receipt string) (*tierQueue, int, error) {
	tq, err := q.tier(t)
	if err != nil {
		return nil, 0, err
	}
	for i, e := range tq.messages {
		if e.ReceiptHandle == receipt && receipt != "" {
			return tq, i, nil
		}
	}
	return nil, 0, fmt.Errorf("receipt handle %q is not current", receipt)
}

// Delete removes received messages. Like SQS, it deletes what it can and
// reports the receipts that were not current.
func (q *Queues) Delete(_ context.Context, t generation.Tier, receipts []string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	var stale []string
	for _, r := range receipts {
		tq, i, err := q.find(t, r)
		if err != nil {
			stale = append(stale, r)
			continue
		}
		tq.messages = slices.Delete(tq.messages, i, i+1)
	}
	if len(stale) > 0 {
		return fmt.Errorf("delete: receipt handles not current: %v", stale)
	}
	return nil
}

// Depth implements service.Queue.
func (q *Queues) Depth(context.Context) (map[generation.Tier]service.QueueDepth, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.cfg.Now()
	out := make(map[generation.Tier]service.QueueDepth, len(q.tiers))
	for t, tq := range q.tiers {
		var d service.QueueDepth
		for _, e := range tq.messages {
			switch {
			case !e.visibleAt.After(now):
				d.Waiting++
			case e.inFlight:
				d.InFlight++
			default:
				d.Delayed++
			}
		}
		d.Dead = int64(len(tq.dead))
		out[t] = d
	}
	return out, nil
}

// DeadCount implements service.DeadLetters.
func (q *Queues) DeadCount(context.Context) (map[generation.Tier]int64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make(map[generation.Tier]int64, len(q.tiers))
	for t, tq := range q.tiers {
		out[t] = int64(len(tq.dead))
	}
	return out, nil
}

// DeadLetters implements service.DeadLetters.
func (q *Queues) DeadLetters(_ context.Context, t generation.Tier, limit int) ([]service.DeadLetter, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	tq, err := q.tier(t)
	if err != nil {
		return nil, err
	}
	var out []service.DeadLetter
	for _, e := range tq.dead {
		if len(out) == limit {
			break
		}
		out = append(out, service.DeadLetter{MessageID: e.ID, Body: slices.Clone(e.Body), ReceiveCount: e.ReceiveCount})
	}
	return out, nil
}

// Redrive implements service.DeadLetters: every dead letter of tier goes
// back to its queue with a fresh receive count.
func (q *Queues) Redrive(_ context.Context, t generation.Tier) (int, error) {
	q.mu.Lock()
	tq, err := q.tier(t)
	if err != nil {
		q.mu.Unlock()
		return 0, err
	}
	dead := tq.dead
	tq.dead = nil
	q.mu.Unlock()
	for _, e := range dead {
		_ = q.send(t, e.group, e.Body, 0) // as SQS's redrive, in its message group
	}
	return len(dead), nil
}
