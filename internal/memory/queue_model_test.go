package memory

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// modelQueue is the memory queue as it was before its heaps: one list of
// messages per tier, sorted at every receive. It is slow and plainly
// right, and the model the queue is checked against.
type modelQueue struct {
	cfg   QueueConfig
	tiers map[generation.Tier]*modelTier
	seq   uint64
}

type modelEntry struct {
	Message
	group     string
	seq       uint64
	visibleAt time.Time
	inFlight  bool
}

type modelTier struct {
	delivered map[string]time.Time
	messages  []*modelEntry
	dead      []*modelEntry
}

func newModelQueue(cfg QueueConfig) *modelQueue {
	m := &modelQueue{cfg: cfg, tiers: map[generation.Tier]*modelTier{}}
	for _, t := range generation.Tiers {
		m.tiers[t] = &modelTier{delivered: map[string]time.Time{}}
	}
	return m
}

func (m *modelQueue) send(t generation.Tier, group string, body []byte, delay time.Duration) {
	tq := m.tiers[t]
	m.seq++
	tq.messages = append(tq.messages, &modelEntry{
		Message:   Message{ID: "m-" + strconv.FormatUint(m.seq, 10), Body: body},
		group:     group,
		seq:       m.seq,
		visibleAt: m.cfg.Now().Add(max(delay, 0)),
	})
}

func (m *modelQueue) receive(t generation.Tier, n int) []Message {
	tq := m.tiers[t]
	now := m.cfg.Now()
	var out []Message
	inFlight := map[string]int{}
	for _, e := range tq.messages {
		if e.inFlight && e.visibleAt.After(now) {
			inFlight[e.group]++
		}
	}
	visible := func(e *modelEntry) bool { return !e.visibleAt.After(now) }
	slices.SortStableFunc(tq.messages, func(a, b *modelEntry) int {
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
			kept = append(kept, e)
			continue
		}
		if e.ReceiveCount >= m.cfg.MaxReceiveCount {
			tq.dead = append(tq.dead, e)
			continue
		}
		e.ReceiveCount++
		m.seq++
		e.ReceiptHandle = e.ID + "/" + strconv.FormatUint(m.seq, 10)
		e.visibleAt = now.Add(m.cfg.VisibilityTimeout)
		e.inFlight = true
		tq.delivered[e.group] = now
		out = append(out, e.Message)
		kept = append(kept, e)
	}
	clear(tq.messages[len(kept):])
	tq.messages = kept
	return out
}

func (m *modelQueue) delete(t generation.Tier, receipts []string) []string {
	tq := m.tiers[t]
	var stale []string
	for _, r := range receipts {
		i := slices.IndexFunc(tq.messages, func(e *modelEntry) bool { return r != "" && e.ReceiptHandle == r })
		if i < 0 {
			stale = append(stale, r)
			continue
		}
		tq.messages = slices.Delete(tq.messages, i, i+1)
	}
	return stale
}

func (m *modelQueue) depth() map[generation.Tier]service.QueueDepth {
	now := m.cfg.Now()
	out := map[generation.Tier]service.QueueDepth{}
	for t, tq := range m.tiers {
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
	return out
}

func (m *modelQueue) deadLetters(t generation.Tier) []service.DeadLetter {
	var out []service.DeadLetter
	for _, e := range m.tiers[t].dead {
		out = append(out, service.DeadLetter{MessageID: e.ID, Body: slices.Clone(e.Body), ReceiveCount: e.ReceiveCount})
	}
	return out
}

func (m *modelQueue) redrive(t generation.Tier) int {
	tq := m.tiers[t]
	dead := tq.dead
	tq.dead = nil
	for _, e := range dead {
		m.send(t, e.group, e.Body, 0)
	}
	return len(dead)
}

// TestQueueMatchesModel drives the queue and the model with the same
// random sends, receives, deletes (current receipts and stale ones),
// depths, redrives and clock moves, and wants the same answers from both:
// the same messages in the same order, with the same receipts.
func TestQueueMatchesModel(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			checkAgainstModel(t, seed, 3000)
		})
	}
}

func checkAgainstModel(t *testing.T, seed uint64, steps int) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, seed*7919+1))
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	cfg := QueueConfig{VisibilityTimeout: 5 * time.Second, MaxReceiveCount: 1 + rng.IntN(3), Now: clock}
	q, m := NewQueues(cfg), newModelQueue(cfg)
	tiers := generation.Tiers[:1+rng.IntN(2)]
	groups := 1 + rng.IntN(8)
	var receipts []string // every receipt handed out, current or not
	for step := range steps {
		tier := tiers[rng.IntN(len(tiers))]
		switch op := rng.IntN(100); {
		case op < 35:
			group := "u" + strconv.Itoa(rng.IntN(groups))
			var delay time.Duration
			if rng.IntN(3) == 0 {
				delay = time.Duration(rng.IntN(8)) * time.Second
			}
			body := []byte(strconv.Itoa(step))
			q.mu.Lock()
			q.add(q.tiers[tier], group, body, delay)
			q.mu.Unlock()
			m.send(tier, group, body, delay)
		case op < 65:
			n := 1 + rng.IntN(4)
			got, err := q.Receive(ctx, tier, n, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := m.receive(tier, n)
			if len(got) == 0 && len(want) == 0 {
				break
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("step %d: Receive(%s, %d) = %+v, model %+v", step, tier, n, got, want)
			}
			for _, r := range got {
				receipts = append(receipts, r.ReceiptHandle)
			}
		case op < 80 && len(receipts) > 0:
			var batch []string
			for range 1 + rng.IntN(3) {
				batch = append(batch, receipts[rng.IntN(len(receipts))])
			}
			if rng.IntN(10) == 0 {
				batch = append(batch, "")
			}
			err := q.Delete(ctx, tier, batch)
			stale := m.delete(tier, batch)
			if (err == nil) != (len(stale) == 0) || err != nil && err.Error() != fmt.Sprintf("delete: receipt handles not current: %v", stale) {
				t.Fatalf("step %d: Delete(%s, %v) = %v, model stale %v", step, tier, batch, err, stale)
			}
		case op < 92:
			now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
		case op < 96:
			got, err := q.Depth(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := m.depth(); !reflect.DeepEqual(got, want) {
				t.Fatalf("step %d: Depth = %+v, model %+v", step, got, want)
			}
		case op < 98:
			got, err := q.DeadLetters(ctx, tier, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if want := m.deadLetters(tier); !reflect.DeepEqual(got, want) {
				t.Fatalf("step %d: DeadLetters(%s) = %+v, model %+v", step, tier, got, want)
			}
		default:
			got, err := q.Redrive(ctx, tier)
			if want := m.redrive(tier); err != nil || got != want {
				t.Fatalf("step %d: Redrive(%s) = %d, %v; model %d", step, tier, got, err, want)
			}
		}
	}
	got, _ := q.Depth(ctx)
	if want := m.depth(); !reflect.DeepEqual(got, want) {
		t.Fatalf("at the end: Depth = %+v, model %+v", got, want)
	}
}
