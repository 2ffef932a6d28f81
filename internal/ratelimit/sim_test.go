package ratelimit

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// gcra is the policy this package had before the sliding window, kept as
// the reference the benchmark compares with: a GCRA token bucket whose
// refill is slowed to (Rate−Burst+1) per Window so that a window starting
// with a full burst holds no more than Rate, tiers digging to 1, ¾, ½, ¼
// of the burst, and a promotion per AgingStep (30 s) of wall time.
type gcra struct {
	Rate      float64
	Window    time.Duration
	Burst     int
	AgingStep time.Duration
}

var gcraShare = [...]float64{1, 0.75, 0.5, 0.25}

func (p gcra) window() time.Duration {
	if p.Window > 0 {
		return p.Window
	}
	return time.Second
}

func (p gcra) interval() time.Duration {
	refill := p.Rate - float64(p.burst()) + 1
	if refill <= 0 {
		return p.window()
	}
	return time.Duration(float64(p.window()) / refill)
}

func (p gcra) burst() int {
	b := p.Burst
	if b <= 0 {
		b = DefaultBurst
	}
	return max(1, min(b, int(math.Floor(p.Rate))))
}

func (p gcra) rank(tier generation.Tier, waited time.Duration) int {
	step := p.AgingStep
	if step <= 0 {
		step = 30 * time.Second
	}
	return max(0, tier.Rank()-int(waited/step))
}

func (p gcra) tolerance(tier generation.Tier, waited time.Duration) time.Duration {
	tokens := max(1, int(math.Ceil(gcraShare[p.rank(tier, waited)]*float64(p.burst()))))
	return time.Duration(tokens-1) * p.interval()
}

func (p gcra) decide(tat, now time.Time, tier generation.Tier, waited time.Duration) (time.Time, bool, time.Duration) {
	if tat.Before(now) {
		tat = now
	}
	tol := p.tolerance(tier, waited)
	if ahead := tat.Sub(now); ahead > tol {
		return tat, false, ahead - tol
	}
	return tat.Add(p.interval()), true, 0
}

// bucket is one limiter as the simulation sees it.
type bucket interface {
	take(now time.Time, tier generation.Tier, waited time.Duration) (bool, time.Duration)
}

type gcraBucket struct {
	p   gcra
	tat time.Time
}

func (b *gcraBucket) take(now time.Time, tier generation.Tier, waited time.Duration) (bool, time.Duration) {
	tat, ok, wait := b.p.decide(b.tat, now, tier, waited)
	if ok {
		b.tat = tat
	}
	return ok, wait
}

type windowBucket struct {
	p Policy
	s State
}

func (b *windowBucket) take(now time.Time, tier generation.Tier, waited time.Duration) (bool, time.Duration) {
	s, ok, wait := b.p.Decide(b.s, now, Ask{Tier: tier, Waited: waited})
	if ok {
		b.s = s
	}
	return ok, wait
}

// simJob is a job of the simulated backlog: it asks for a token when the
// last refusal said, plus a little jitter.
type simJob struct {
	tier generation.Tier
	enq  time.Time
	next time.Time
	seq  int
}

type jobHeap []*simJob

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, j int) bool {
	if !h[i].next.Equal(h[j].next) {
		return h[i].next.Before(h[j].next)
	}
	return h[i].seq < h[j].seq
}
func (h jobHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *jobHeap) Push(x any)   { *h = append(*h, x.(*simJob)) }
func (h *jobHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type simGrant struct {
	at   time.Time
	tier generation.Tier
}

// simArrival is a job of a simulation: its tier and when it is queued.
type simArrival struct {
	tier generation.Tier
	at   time.Time
}

// atOnce queues every job at start, in the order given.
func atOnce(tiers []generation.Tier, start time.Time) []simArrival {
	jobs := make([]simArrival, len(tiers))
	for i, t := range tiers {
		jobs[i] = simArrival{tier: t, at: start}
	}
	return jobs
}

// simulate runs the jobs: each asks for a token when it is queued and
// then whenever its last refusal said, each ask a random 0–500 µs late, as
// timers and networks are. It returns the grants in order.
func simulate(b bucket, jobs []simArrival, seed uint64) []simGrant {
	rng := rand.New(rand.NewPCG(seed, 99))
	jitter := func() time.Duration { return time.Duration(rng.IntN(500)) * time.Microsecond }
	h := make(jobHeap, 0, len(jobs))
	seq := 0
	for _, j := range jobs {
		h = append(h, &simJob{tier: j.tier, enq: j.at, next: j.at.Add(jitter()), seq: seq})
		seq++
	}
	heap.Init(&h)
	grants := make([]simGrant, 0, len(jobs))
	for asks := 0; h.Len() > 0 && asks < 10_000_000; asks++ {
		j := heap.Pop(&h).(*simJob)
		ok, wait := b.take(j.next, j.tier, j.next.Sub(j.enq))
		if ok {
			grants = append(grants, simGrant{at: j.next, tier: j.tier})
			continue
		}
		j.next = j.next.Add(max(wait, time.Microsecond) + jitter())
		j.seq = seq
		seq++
		heap.Push(&h, j)
	}
	return grants
}

// mixedBacklog is n jobs of each tier in a random order.
func mixedBacklog(n int, seed uint64) []generation.Tier {
	var tiers []generation.Tier
	for _, t := range generation.Tiers {
		for range n {
			tiers = append(tiers, t)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	rng.Shuffle(len(tiers), func(i, j int) { tiers[i], tiers[j] = tiers[j], tiers[i] })
	return tiers
}

// busiest is the most grants any window [t, t+span) holds.
func busiest(grants []simGrant, span time.Duration) int {
	most, j := 0, 0
	for i := range grants {
		for grants[i].at.Sub(grants[j].at) >= span {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

// rateOf is how fast the backlog turned the window over, as a fraction
// of the limit: Window over the mean time between a grant and the one
// limit grants later (a slot's reuse), so the first window's grants,
// which wait for nothing, do not count.
func rateOf(grants []simGrant, window time.Duration, limit int) float64 {
	if len(grants) <= limit {
		return 0
	}
	var sum time.Duration
	for j := limit; j < len(grants); j++ {
		sum += grants[j].at.Sub(grants[j-limit].at)
	}
	mean := float64(sum) / float64(len(grants)-limit)
	return float64(window) / mean
}

// quarters is each tier's share (%) of each quarter of the grants.
func quarters(grants []simGrant) [4]map[generation.Tier]float64 {
	var q [4]map[generation.Tier]float64
	for i := range q {
		q[i] = map[generation.Tier]float64{}
		part := grants[i*len(grants)/4 : (i+1)*len(grants)/4]
		for _, g := range part {
			q[i][g.tier] += 100 / float64(len(part))
		}
	}
	return q
}

// freeBehind is how many grants went before the only FREE job's.
func freeBehind(grants []simGrant) int {
	for i, g := range grants {
		if g.tier == generation.Free {
			return i
		}
	}
	return len(grants)
}

// flood is n ENTERPRISE jobs and one FREE job among them, all queued at
// start.
func flood(n int, start time.Time) []simArrival {
	tiers := make([]generation.Tier, 0, n+1)
	for i := range n + 1 {
		if i == n/2 {
			tiers = append(tiers, generation.Free)
			continue
		}
		tiers = append(tiers, generation.Enterprise)
	}
	return atOnce(tiers, start)
}

// stream is a window's worth of ENTERPRISE jobs queued at start, a FREE
// job an interval later, and n more ENTERPRISE jobs arriving after them,
// half as fast again as the limit takes them: a flood that keeps coming.
func stream(n int, p Policy, start time.Time) []simArrival {
	limit, _ := p.Limit()
	jobs := []simArrival{{tier: generation.Free, at: start.Add(p.Interval())}}
	for range limit {
		jobs = append(jobs, simArrival{tier: generation.Enterprise, at: start})
	}
	every := p.Interval() * 2 / 3
	for i := range n {
		jobs = append(jobs, simArrival{tier: generation.Enterprise, at: start.Add(time.Duration(i+1) * every)})
	}
	return jobs
}
