package porttest

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/throttle"
)

// BucketsFactory returns fresh, empty buckets on clock now, as a function
// that hands out one instance's view of them: every view it returns shares
// the buckets, like the instances of every function share the DynamoDB
// items, but each keeps what it remembers (the TATs it saw) to itself.
type BucketsFactory func(t *testing.T, now func() time.Time) (instance func() throttle.Store)

func takeBucket(t *testing.T, s throttle.Store, key string, l throttle.Limit) throttle.Decision {
	t.Helper()
	d, err := s.Take(context.Background(), key, l)
	if err != nil {
		t.Fatalf("Take(%q): %v", key, err)
	}
	return d
}

// Buckets runs the contract of the request buckets (package throttle):
// Burst at once then one per Interval, an honest RetryAfter, keys apart,
// a full bucket again after an idle while, exactly the allowed number
// passing among concurrent requests from many instances, and any key.
func Buckets(t *testing.T, newBuckets BucketsFactory) {
	// 10 a second, 5 at once: an interval of 100 ms.
	limit := throttle.Limit{Rate: 10, Burst: 5}
	start := time.Now().Truncate(time.Second)

	t.Run("BurstThenOneAnInterval", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		b := newBuckets(t, clock.Now)()
		for i := range limit.Burst {
			if d := takeBucket(t, b, "user#burst", limit); !d.OK {
				t.Fatalf("request %d of a full bucket of %d refused", i+1, limit.Burst)
			}
		}
		d := takeBucket(t, b, "user#burst", limit)
		if d.OK || d.RetryAfter != limit.Interval() {
			t.Fatalf("request past the burst: %+v; want a refusal with RetryAfter %s", d, limit.Interval())
		}
		// A microsecond early is still too early; then exactly one.
		clock.Advance(d.RetryAfter - time.Microsecond)
		if d := takeBucket(t, b, "user#burst", limit); d.OK || d.RetryAfter != time.Microsecond {
			t.Fatalf("a microsecond before the RetryAfter: %+v; want a refusal with RetryAfter 1µs", d)
		}
		clock.Advance(time.Microsecond)
		if d := takeBucket(t, b, "user#burst", limit); !d.OK {
			t.Fatalf("refused after waiting the RetryAfter: %+v", d)
		}
		if d := takeBucket(t, b, "user#burst", limit); d.OK {
			t.Fatal("two requests allowed in one interval after the burst")
		}
	})

	t.Run("SteadyRate", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		b := newBuckets(t, clock.Now)()
		// Asking every 10 ms for 3 s: the burst, then one per 100 ms.
		passed := 0
		for range 300 {
			if takeBucket(t, b, "user#steady", limit).OK {
				passed++
			}
			clock.Advance(10 * time.Millisecond)
		}
		if want := limit.Burst + 29; passed != want {
			t.Fatalf("%d requests passed in 3 s of asking every 10 ms; want the burst and one per interval, %d", passed, want)
		}
	})

	t.Run("KeysAreApart", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		b := newBuckets(t, clock.Now)()
		for takeBucket(t, b, "user#greedy", limit).OK {
		}
		for i := range limit.Burst {
			if d := takeBucket(t, b, "user#quiet", limit); !d.OK {
				t.Fatalf("request %d of another key refused while the first key is empty: %+v", i+1, d)
			}
		}
		if d := takeBucket(t, b, "ip#192.0.2.1", limit); !d.OK {
			t.Fatalf("a third key refused: %+v", d)
		}
	})

	t.Run("FullAgainAfterIdle", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		b := newBuckets(t, clock.Now)()
		for takeBucket(t, b, "user#idle", limit).OK {
		}
		clock.Advance(limit.Tolerance())
		for i := range limit.Burst {
			if d := takeBucket(t, b, "user#idle", limit); !d.OK {
				t.Fatalf("request %d after the bucket refilled refused: %+v", i+1, d)
			}
		}
		if takeBucket(t, b, "user#idle", limit).OK {
			t.Fatal("a refilled bucket held more than its burst")
		}
		// Long idle (past any TTL of the store): full, not more.
		clock.Advance(time.Hour)
		passed := 0
		for takeBucket(t, b, "user#idle", limit).OK {
			passed++
		}
		if passed != limit.Burst {
			t.Fatalf("%d requests passed after an hour idle; want the burst, %d", passed, limit.Burst)
		}
	})

	t.Run("NoLimitAsksNothing", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		b := newBuckets(t, clock.Now)()
		for range 50 {
			if d := takeBucket(t, b, "user#free", throttle.Limit{}); !d.OK {
				t.Fatal("the zero limit refused a request")
			}
		}
	})

	t.Run("ConcurrentInstancesPassExactlyTheAllowed", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		instance := newBuckets(t, clock.Now)
		const n = 32
		race := func(key string) (passed int) {
			var ok atomic.Int32
			var wg sync.WaitGroup
			ready := make(chan struct{})
			for range n {
				b := instance() // each request its own instance, as in Lambda
				wg.Go(func() {
					<-ready
					d, err := b.Take(context.Background(), key, limit)
					if err != nil {
						t.Errorf("Take: %v", err)
						return
					}
					if d.OK {
						ok.Add(1)
					} else if d.RetryAfter <= 0 || d.RetryAfter > limit.Tolerance() {
						t.Errorf("refused with RetryAfter %s; want within (0, %s]", d.RetryAfter, limit.Tolerance())
					}
				})
			}
			close(ready)
			wg.Wait()
			return int(ok.Load())
		}
		if got := race("user#crowd"); got != limit.Burst {
			t.Fatalf("%d of %d concurrent requests on a full bucket passed; want exactly the burst, %d", got, n, limit.Burst)
		}
		// Three intervals later, three more and no more, whoever asks.
		clock.Advance(3 * limit.Interval())
		if got := race("user#crowd"); got != 3 {
			t.Fatalf("%d of %d concurrent requests passed three intervals after the burst; want exactly 3", got, n)
		}
	})

	t.Run("InstancesShareTheBucket", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		instance := newBuckets(t, clock.Now)
		a, b := instance(), instance()
		for i := range limit.Burst {
			if !takeBucket(t, []throttle.Store{a, b}[i%2], "ws#conn-1", limit).OK {
				t.Fatalf("request %d refused", i+1)
			}
		}
		// Neither instance has seen the bucket empty; both refuse.
		for name, s := range map[string]throttle.Store{"first": a, "second": b, "new": instance()} {
			if d := takeBucket(t, s, "ws#conn-1", limit); d.OK || d.RetryAfter != limit.Interval() {
				t.Errorf("the %s instance past the shared burst: %+v; want a refusal with RetryAfter %s", name, d, limit.Interval())
			}
		}
	})

	t.Run("AnyKey", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		b := newBuckets(t, clock.Now)()
		long := "user#" + strings.Repeat("ü/ #", 400) // 2,000 bytes
		for _, key := range []string{"user#a user/with spaces", "user#ünïcødé 用户", "ip#2001:db8::/64", long, long[:len(long)-1]} {
			for i := range limit.Burst {
				if d := takeBucket(t, b, key, limit); !d.OK {
					t.Fatalf("key %.40q: request %d refused: %+v", key, i+1, d)
				}
			}
			if takeBucket(t, b, key, limit).OK {
				t.Fatalf("key %.40q: more than the burst passed (does it share a bucket with another key?)", key)
			}
		}
	})
}
