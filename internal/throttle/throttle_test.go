package throttle_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/porttest"
	"github.com/songqueue/songqueue/internal/throttle"
)

// The in-process buckets pass the contract the DynamoDB ones do.
func TestMemoryContract(t *testing.T) {
	porttest.Buckets(t, func(t *testing.T, now func() time.Time) func() throttle.Store {
		m := throttle.NewMemory(now)
		return func() throttle.Store { return m }
	})
}

func TestDecide(t *testing.T) {
	l := throttle.Limit{Rate: 4, Burst: 2} // 250 ms an interval
	now := time.Unix(1000, 0)
	tat, ok, _ := l.Decide(time.Time{}, now)
	if !ok || !tat.Equal(now.Add(250*time.Millisecond)) {
		t.Fatalf("first request: ok %v, tat %s", ok, tat.Sub(now))
	}
	tat, ok, _ = l.Decide(tat, now)
	if !ok || !tat.Equal(now.Add(500*time.Millisecond)) {
		t.Fatalf("second request: ok %v, tat %s", ok, tat.Sub(now))
	}
	same, ok, wait := l.Decide(tat, now)
	if ok || wait != 250*time.Millisecond || !same.Equal(tat) {
		t.Fatalf("third request at once: ok %v, wait %s, tat moved %v", ok, wait, !same.Equal(tat))
	}
	// A TAT long past is a full bucket, not credit.
	tat, ok, _ = l.Decide(now.Add(-time.Hour), now)
	if !ok || !tat.Equal(now.Add(250*time.Millisecond)) {
		t.Fatalf("after an idle hour: ok %v, tat %s", ok, tat.Sub(now))
	}
	if _, ok, _ := (throttle.Limit{}).Decide(now.Add(time.Hour), now); !ok {
		t.Fatal("the zero limit refused")
	}
}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		l    throttle.Limit
		want string
	}{
		{throttle.Limit{}, ""},
		{throttle.Limit{Rate: 5, Burst: 30}, ""},
		{throttle.Limit{Rate: 0.5, Burst: 1}, ""},
		{throttle.Limit{Rate: 5}, "BURST=0"},
		{throttle.Limit{Rate: -1, Burst: 1}, "RATE=-1"},
		{throttle.Limit{Rate: math.NaN(), Burst: 1}, "RATE=NaN"},
		{throttle.Limit{Rate: math.Inf(1), Burst: 1}, "RATE=+Inf"},
		{throttle.Limit{Rate: 2e6, Burst: 1}, "RATE=2e+06"},
	} {
		err := c.l.Check("RATE", "BURST")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.l, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: %v; want an error naming %s", c.l, err, c.want)
		}
	}
}

// TestMemoryForgetsFullBuckets: the buckets of callers gone quiet do not
// accumulate.
func TestMemoryForgetsFullBuckets(t *testing.T) {
	clock := porttest.NewClock(time.Unix(1000, 0))
	m := throttle.NewMemory(clock.Now)
	l := throttle.Limit{Rate: 10, Burst: 5}
	for i := range 1000 {
		if _, err := m.Take(context.Background(), "ws#conn-"+string(rune('a'+i%26))+time.Duration(i).String(), l); err != nil {
			t.Fatal(err)
		}
	}
	if m.Len() != 1000 {
		t.Fatalf("%d buckets kept, want 1000", m.Len())
	}
	clock.Advance(2 * time.Second)
	if _, err := m.Take(context.Background(), "ws#next", l); err != nil {
		t.Fatal(err)
	}
	if m.Len() != 1 {
		t.Fatalf("%d buckets kept after every other one was full again, want 1", m.Len())
	}
}
