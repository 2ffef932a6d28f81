package service_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/memory"
	"github.com/songqueue/songqueue/internal/porttest"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/throttle"
)

// pings sends n pings over connection conn through the instances in turn
// and counts the pongs.
func pings(t *testing.T, instances []*service.Realtime, conn string, n int) (pongs int) {
	t.Helper()
	c := identity.Caller{UserID: "u-1", Tier: generation.Pro}
	for i := range n {
		ev, err := instances[i%len(instances)].HandleMessage(context.Background(), c, conn, []byte(`{"action":"ping"}`))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case ev.Event == service.EventPong:
			pongs++
		case ev.Event != service.EventBadAction || ev.Data.(map[string]string)["code"] != "rate_limited":
			t.Fatalf("answer %d: %+v", i+1, ev)
		}
	}
	return pongs
}

// TestMessageLimitHoldsAcrossInstances: a connection's messages served by
// several instances of the WebSocket function (as Lambda spreads them)
// share one bucket when the instances share the store of buckets, as they
// do in AWS (dynamo.Buckets): the burst, not a burst per instance. Without
// a shared store each instance keeps its own, which is what a client
// spreading its messages over instances used to get.
func TestMessageLimitHoldsAcrossInstances(t *testing.T) {
	clock := porttest.NewClock(time.Unix(1_800_000_000, 0))
	store := memory.NewStore()
	cfg := service.Config{MessageRate: 2, MessageBurst: 4, Now: clock.Now}
	shared := throttle.NewMemory(clock.Now)
	var together, apart []*service.Realtime
	for range 3 {
		together = append(together, newRealtime(t, service.RealtimePorts{Store: store, Connections: store, Messages: shared}, cfg))
		apart = append(apart, newRealtime(t, service.RealtimePorts{Store: store, Connections: store}, cfg))
	}
	if got := pings(t, together, "conn-1", 30); got != 4 {
		t.Fatalf("30 pings over 3 instances sharing the buckets: %d answered; want the burst, 4", got)
	}
	if got := pings(t, together, "conn-2", 4); got != 4 {
		t.Fatalf("another connection: %d of 4 answered", got)
	}
	clock.Advance(time.Second)
	if got := pings(t, together, "conn-1", 30); got != 2 {
		t.Fatalf("a second later: %d answered; want the rate, 2", got)
	}
	if got := pings(t, apart, "conn-3", 30); got != 12 {
		t.Fatalf("3 instances with buckets of their own: %d answered; want 3 bursts, 12", got)
	}
}

type failingBuckets struct{}

func (failingBuckets) Take(context.Context, string, throttle.Limit) (throttle.Decision, error) {
	return throttle.Decision{}, errors.New("throttled by DynamoDB")
}

// TestMessageLimitFailsOpen: a store of buckets that fails lets messages
// through rather than failing them.
func TestMessageLimitFailsOpen(t *testing.T) {
	store := memory.NewStore()
	rt := newRealtime(t, service.RealtimePorts{Store: store, Connections: store, Messages: failingBuckets{}}, service.Config{MessageRate: 1, MessageBurst: 1, Logger: slog.New(slog.DiscardHandler)})
	if got := pings(t, []*service.Realtime{rt}, "conn-1", 5); got != 5 {
		t.Fatalf("%d of 5 answered", got)
	}
}

// newRealtime is the WebSocket side on p, with a hub and buckets in this
// process where p gives none.
func newRealtime(t *testing.T, p service.RealtimePorts, cfg service.Config) *service.Realtime {
	t.Helper()
	if p.Notifier == nil {
		p.Notifier = memory.NewHub()
	}
	if p.Messages == nil {
		p.Messages = throttle.NewMemory(cfg.Now)
	}
	rt, err := service.NewRealtime(p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}
