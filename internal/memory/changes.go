package memory

import (
	"context"
	"sync"

	"github.com/songqueue/songqueue/internal/generation"
)

// Change is one stored change of a generation, as a DynamoDB stream
// record has it: Old is nil for a new generation, New nil for a removed
// one.
type Change struct {
	Seq      int64
	Old, New *generation.Generation
}

// ChangeLog is the memory store's outbox, the stand-in for the
// generations table's stream: every create, save and delete appends its
// change in the same critical section as the write, in the order the
// writes were made, so a reader that publishes them later loses none. One
// reader takes them with Read and drops them with Ack once handled.
type ChangeLog struct {
	mu      sync.Mutex
	entries []Change
	next    int64
	ready   chan struct{} // signalled when entries are appended
}

func newChangeLog() *ChangeLog { return &ChangeLog{next: 1, ready: make(chan struct{}, 1)} }

// WithChanges keeps a ChangeLog of every change (Store.Changes).
func WithChanges() StoreOption { return func(s *Store) { s.changes = newChangeLog() } }

// Changes is the store's change log, nil unless made WithChanges.
func (s *Store) Changes() *ChangeLog { return s.changes }

// record appends the change from old to new; the store holds its lock.
func (l *ChangeLog) record(old, new *generation.Generation) {
	if l == nil {
		return
	}
	c := Change{Old: cloneRef(old), New: cloneRef(new)}
	l.mu.Lock()
	c.Seq = l.next
	l.next++
	l.entries = append(l.entries, c)
	l.mu.Unlock()
	select {
	case l.ready <- struct{}{}:
	default:
	}
}

func cloneRef(g *generation.Generation) *generation.Generation {
	if g == nil {
		return nil
	}
	c := clone(*g)
	return &c
}

// Read returns up to max of the oldest changes not yet acknowledged,
// waiting until there is one or ctx ends. The same changes come again
// until Ack drops them.
func (l *ChangeLog) Read(ctx context.Context, max int) ([]Change, error) {
	for {
		l.mu.Lock()
		if n := min(len(l.entries), max); n > 0 {
			out := make([]Change, n)
			copy(out, l.entries)
			l.mu.Unlock()
			return out, nil
		}
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-l.ready:
		}
	}
}

// Ack drops the changes up to and including seq.
func (l *ChangeLog) Ack(seq int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	for i < len(l.entries) && l.entries[i].Seq <= seq {
		i++
	}
	l.entries = append(l.entries[:0:0], l.entries[i:]...)
}

// Len is how many changes wait to be acknowledged.
func (l *ChangeLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}
