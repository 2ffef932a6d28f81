package memory

import (
	"container/heap"
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
	VisibilityTimeout time.Duration // default service.DefaultVisibilityTimeout
	MaxReceiveCount   int           // receives before redrive; default 5
	Now               func() time.Time
}

// Message is a received message.
type Message = batch.Record

// entry is a message of a tier queue.
type entry struct {
	Message
	group     *group
	seq       uint64
	visibleAt time.Time
	inFlight  bool  // received and within its visibility timeout, in hidden
	where     place // the structure that holds it
	index     int   // its index in that structure's heap
}

// place is where an entry is.
type place uint8

const (
	gone    place = iota // deleted
	visible              // in its group's visible heap
	hidden               // in its tier's hidden heap
	dead                 // in its tier's dead-letter queue
)

// group is one message group of a tier queue.
type group struct {
	id       string
	visible  entryHeap // the visible messages, oldest first
	inFlight int       // messages received and within their visibility timeout
	// delivered is when the group was last delivered from.
	delivered time.Time
	// taken counts the messages of the receive under way: they join
	// inFlight when it ends, as the order of one receive is that of its
	// start.
	taken int
	index int // in the tier's ready heap, -1 when not there
}

// tierQueue is one tier's queue and its dead-letter queue, in the
// structure an SQS fair queue implies, so that every operation costs
// O(log n) whatever the backlog:
//
//   - each message group (the job's owner) keeps its visible messages in a
//     heap by the time they became visible, then send order;
//   - the groups that have visible messages are in a heap by (messages in
//     flight, last delivered, their first message), which is the order a
//     receive serves them in;
//   - the invisible messages (delayed, or received and within their
//     visibility timeout) are in one heap by the time they become visible,
//     popped into their group at each receive and depth once that time has
//     come;
//   - the receipt handles index the messages they delete, and the counts
//     Depth reports are kept as messages move.
type tierQueue struct {
	groups   map[string]*group
	ready    groupHeap // the groups with visible messages
	hidden   entryHeap // the invisible messages, by when they become visible
	receipts map[string]*entry
	dead     []*entry
	// The counts of Depth.
	waiting, inFlight, delayed int64
	touched                    []*group // scratch of take
}

func newTierQueue() *tierQueue {
	return &tierQueue{groups: map[string]*group{}, receipts: map[string]*entry{}}
}

// group returns the group named id, made on first use. A group outlives
// its messages: when it was last delivered from still orders it.
func (tq *tierQueue) group(id string) *group {
	g := tq.groups[id]
	if g == nil {
		g = &group{id: id, index: -1}
		tq.groups[id] = g
	}
	return g
}

// show makes e visible in its group.
func (tq *tierQueue) show(e *entry) {
	e.where, e.inFlight = visible, false
	heap.Push(&e.group.visible, e)
	tq.waiting++
	tq.reposition(e.group)
}

// hide keeps e, delayed, until its visibleAt.
func (tq *tierQueue) hide(e *entry) {
	e.where = hidden
	heap.Push(&tq.hidden, e)
	tq.delayed++
}

// reveal shows the hidden messages whose time has come.
func (tq *tierQueue) reveal(now time.Time) {
	for len(tq.hidden) > 0 && !tq.hidden[0].visibleAt.After(now) {
		e := heap.Pop(&tq.hidden).(*entry)
		if e.inFlight {
			tq.inFlight--
			e.group.inFlight--
		} else {
			tq.delayed--
		}
		tq.show(e)
	}
}

// remove deletes e, visible or hidden.
func (tq *tierQueue) remove(e *entry) {
	delete(tq.receipts, e.ReceiptHandle)
	g := e.group
	switch e.where {
	case visible:
		heap.Remove(&g.visible, e.index)
		tq.waiting--
		tq.reposition(g)
	case hidden:
		heap.Remove(&tq.hidden, e.index)
		if e.inFlight {
			tq.inFlight--
			g.inFlight--
			tq.reposition(g)
		} else {
			tq.delayed--
		}
	}
	e.where = gone
}

// reposition puts g where it now belongs in the ready heap: out of it when
// it has no visible message. Call it whenever g's order may have changed.
func (tq *tierQueue) reposition(g *group) {
	switch {
	case len(g.visible) == 0:
		if g.index >= 0 {
			heap.Remove(&tq.ready, g.index)
		}
	case g.index < 0:
		heap.Push(&tq.ready, g)
	default:
		heap.Fix(&tq.ready, g.index)
	}
}

// Queues is one queue per tier, each with its dead-letter queue, with SQS
// fair-queue semantics: message groups, delay, visibility timeout, receive
// count and redrive after MaxReceiveCount receives.
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
		cfg.VisibilityTimeout = service.DefaultVisibilityTimeout
	}
	if cfg.MaxReceiveCount <= 0 {
		cfg.MaxReceiveCount = service.DefaultMaxReceiveCount
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	q := &Queues{cfg: cfg, tiers: map[generation.Tier]*tierQueue{}, changed: make(chan struct{})}
	for _, t := range generation.Tiers {
		q.tiers[t] = newTierQueue()
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
	q.mu.Lock()
	defer q.mu.Unlock()
	tq, err := q.tier(job.Tier)
	if err != nil {
		return err
	}
	q.add(tq, job.UserID, body, delay)
	q.wake()
	return nil
}

// add queues a new message in group. Call with mu held.
func (q *Queues) add(tq *tierQueue, group string, body []byte, delay time.Duration) {
	q.seq++
	now := q.cfg.Now()
	e := &entry{
		Message:   Message{ID: "m-" + strconv.FormatUint(q.seq, 10), Body: body},
		group:     tq.group(group),
		seq:       q.seq,
		visibleAt: now.Add(max(delay, 0)),
	}
	if e.visibleAt.After(now) {
		tq.hide(e)
	} else {
		tq.show(e)
	}
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
	tq.reveal(now)
	var out []Message
	if n > 0 && tq.waiting > 0 {
		out = make([]Message, 0, min(int64(n), tq.waiting))
	}
	// As an SQS fair queue: among the visible messages, those of the
	// groups with the fewest messages in flight go first, then those of the
	// group served longest ago, so one group's backlog does not hold up the
	// others; then the oldest. The groups are ordered as they stood when the
	// receive began: what it takes counts from the next one on.
	touched := tq.touched[:0]
	for len(out) < n && len(tq.ready) > 0 {
		g := tq.ready[0]
		e := heap.Pop(&g.visible).(*entry)
		tq.waiting--
		if e.ReceiveCount >= q.cfg.MaxReceiveCount {
			delete(tq.receipts, e.ReceiptHandle)
			e.where = dead
			tq.dead = append(tq.dead, e)
			tq.reposition(g)
			continue
		}
		e.ReceiveCount++
		q.seq++
		delete(tq.receipts, e.ReceiptHandle)
		e.ReceiptHandle = e.ID + "/" + strconv.FormatUint(q.seq, 10)
		tq.receipts[e.ReceiptHandle] = e
		e.visibleAt = now.Add(q.cfg.VisibilityTimeout)
		e.where, e.inFlight = hidden, true
		heap.Push(&tq.hidden, e)
		tq.inFlight++
		if g.taken == 0 {
			touched = append(touched, g)
		}
		g.taken++
		tq.reposition(g)
		out = append(out, e.Message)
	}
	for _, g := range touched {
		g.inFlight += g.taken
		g.taken = 0
		g.delivered = now
		tq.reposition(g)
	}
	clear(touched)
	tq.touched = touched[:0]
	var next time.Time
	if len(tq.hidden) > 0 {
		next = tq.hidden[0].visibleAt
	}
	return out, next
}

// Delete removes received messages. Like SQS, it deletes what it can and
// reports the receipts that were not current.
func (q *Queues) Delete(_ context.Context, t generation.Tier, receipts []string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	tq := q.tiers[t]
	var stale []string
	for _, r := range receipts {
		var e *entry
		if tq != nil {
			e = tq.receipts[r]
		}
		if e == nil {
			stale = append(stale, r)
			continue
		}
		tq.remove(e)
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
		tq.reveal(now)
		out[t] = service.QueueDepth{
			Waiting: tq.waiting, InFlight: tq.inFlight, Delayed: tq.delayed, Dead: int64(len(tq.dead)),
		}
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
	defer q.mu.Unlock()
	tq, err := q.tier(t)
	if err != nil {
		return 0, err
	}
	dead := tq.dead
	tq.dead = nil
	for _, e := range dead {
		q.add(tq, e.group.id, e.Body, 0) // as SQS's redrive, in its message group
	}
	if len(dead) > 0 {
		q.wake()
	}
	return len(dead), nil
}
