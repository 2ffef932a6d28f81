// Package throttle is the limit per caller of DESIGN.md section 16: a
// token bucket per key (a user, a source address, a WebSocket connection),
// kept where every instance of a function sees it, so that one client
// cannot take the throughput that API Gateway's stage throttle shares
// among everyone.
//
// A bucket is a GCRA (generic cell rate algorithm): its whole state is one
// time, the theoretical arrival time (TAT) of the next request at the
// steady rate. A request at now is allowed when max(TAT, now) + Interval
// − Burst×Interval ≤ now, and then moves TAT to max(TAT, now) + Interval.
// So Burst requests may come at once, then one each Interval; an idle
// bucket (TAT in the past, or no state at all) is full. TAT only grows, so
// a store keeps it in one item and changes it with one conditional write
// (internal/dynamo.Buckets), and a TAT once seen proves a refusal for as
// long as it is ahead of now by more than the burst allows, without asking
// the store again.
package throttle

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"
)

// Limit is a bucket's rate and size. The zero Limit (Rate 0) is no limit:
// every request passes and no store is asked.
type Limit struct {
	// Rate is the steady rate, in requests a second.
	Rate float64
	// Burst is how many requests may come at once (at least 1).
	Burst int
}

// MaxRate bounds Rate: the stores keep times to the microsecond.
const MaxRate = 1e6

// Off reports whether l limits nothing.
func (l Limit) Off() bool { return l.Rate <= 0 }

// Check says what is wrong with l, naming the settings it was read from.
func (l Limit) Check(rateName, burstName string) error {
	switch {
	case math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0) || l.Rate < 0 || l.Rate > MaxRate:
		return fmt.Errorf("%s=%v: want requests a second between 0 (no limit) and %g", rateName, l.Rate, float64(MaxRate))
	case !l.Off() && l.Burst < 1:
		return fmt.Errorf("%s=%d: at least 1 while %s is set", burstName, l.Burst, rateName)
	}
	return nil
}

// Interval is the time one request takes of the bucket: 1/Rate.
func (l Limit) Interval() time.Duration {
	if l.Off() {
		return 0
	}
	return max(time.Microsecond, time.Duration(float64(time.Second)/l.Rate))
}

// Tolerance is how far TAT may run ahead of now after a request:
// Burst×Interval.
func (l Limit) Tolerance() time.Duration { return time.Duration(max(l.Burst, 1)) * l.Interval() }

// String is the limit as a person reads it.
func (l Limit) String() string {
	if l.Off() {
		return "no limit"
	}
	return fmt.Sprintf("%g a second, %d at once", l.Rate, max(l.Burst, 1))
}

// Decide is the GCRA on a bucket whose TAT is tat (zero: no state, a full
// bucket) at now: the TAT to keep when the request is allowed, or how long
// to wait before one would be.
func (l Limit) Decide(tat, now time.Time) (next time.Time, ok bool, retryAfter time.Duration) {
	if l.Off() {
		return tat, true, 0
	}
	next = tat
	if next.Before(now) {
		next = now
	}
	next = next.Add(l.Interval())
	if allowAt := next.Add(-l.Tolerance()); allowAt.After(now) {
		return tat, false, allowAt.Sub(now)
	}
	return next, true, 0
}

// Decision is the answer to a Take.
type Decision struct {
	OK bool
	// RetryAfter is, when not OK, how long until a request would be
	// allowed.
	RetryAfter time.Duration
}

// Store keeps buckets by key: Memory in one process, internal/dynamo's
// Buckets for every instance of every function. Each user of a store
// declares the one method it needs.
type Store interface {
	// Take takes one request's worth of key's bucket under l.
	Take(ctx context.Context, key string, l Limit) (Decision, error)
}

// Memory is the buckets of one process: the local stack's memory
// backend, and the default of a role given no store.
type Memory struct {
	now func() time.Time

	mu    sync.Mutex
	tats  map[string]time.Time
	swept time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns empty buckets on clock now (nil: the wall clock).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, tats: map[string]time.Time{}}
}

// Take implements Store.
func (m *Memory) Take(_ context.Context, key string, l Limit) (Decision, error) {
	if l.Off() {
		return Decision{OK: true}, nil
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	next, ok, wait := l.Decide(m.tats[key], now)
	if !ok {
		return Decision{RetryAfter: wait}, nil
	}
	m.tats[key] = next
	return Decision{OK: true}, nil
}

// Len is how many buckets are kept (not yet full again), for tests.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tats)
}

// sweep forgets the buckets that are full again (TAT in the past, as
// good as none), at most once a second, so departed callers do not
// accumulate.
func (m *Memory) sweep(now time.Time) {
	if now.Sub(m.swept) < time.Second {
		return
	}
	m.swept = now
	for k, tat := range m.tats {
		if !tat.After(now) {
			delete(m.tats, k)
		}
	}
}
