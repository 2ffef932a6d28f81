package ratelimit

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// benchShapes are the limits the benchmark runs at: Suno's window, the
// default 10 a second, and 1 a second, where the old burst was 1.
var benchShapes = []struct {
	name   string
	rate   float64
	window time.Duration
}{
	{"20per10s", 20, 10 * time.Second},
	{"10per1s", 10, time.Second},
	{"1per1s", 1, time.Second},
}

// backlogFigures is what the simulations of one policy show.
type backlogFigures struct {
	rate     float64 // how fast the backlog turned the window over / limit
	most     int     // most grants in any window, in any simulation
	quarter  [4]map[generation.Tier]float64
	duration time.Duration // until the backlog's last grant
	// ENTERPRISE grants before the FREE job's: 200 queued with it at
	// once, and a window's worth with it and 200 more arriving after it.
	behind, behindStream int
}

// runBacklog runs the simulations on a fresh bucket each. p shapes the
// stream of ENTERPRISE jobs (the limit's rate), whichever policy runs.
func runBacklog(newBucket func() bucket, p Policy) backlogFigures {
	limit, window := p.Limit()
	start := time.Unix(1_700_000_000, 0)
	grants := simulate(newBucket(), atOnce(mixedBacklog(60, 1), start), 1)
	f := backlogFigures{
		rate:     rateOf(grants, window, limit),
		most:     busiest(grants, window),
		quarter:  quarters(grants),
		duration: grants[len(grants)-1].at.Sub(start),
	}
	fl := simulate(newBucket(), flood(200, start), 2)
	f.behind = freeBehind(fl)
	st := simulate(newBucket(), stream(200, p, start), 3)
	f.behindStream = freeBehind(st)
	f.most = max(f.most, busiest(fl, window), busiest(st, window))
	return f
}

// BenchmarkBacklog simulates, with an injected clock and no sleeping, a
// backlog of 240 jobs (60 of each tier, queued at once in a random order)
// whose jobs ask for a token whenever the last refusal said; 200
// ENTERPRISE jobs queued at once with one FREE job; and a FREE job queued
// with a window's worth of ENTERPRISE jobs while 200 more keep arriving,
// half as fast again as the limit. It runs them under the old GCRA policy
// ("gcra") and the sliding window ("window"), and reports the rate the
// backlog reached as a fraction of the limit (rate/limit), the most grants
// any window held (max/window), each tier's share of each quarter of the
// backlog's grants (Qn-TIER%), and how many grants went before the FREE
// job's in the flood (FREE-behind) and in the stream (FREE-behind-stream).
func BenchmarkBacklog(b *testing.B) {
	for _, shape := range benchShapes {
		old := gcra{Rate: shape.rate, Window: shape.window}
		cur := Policy{Rate: shape.rate, Window: shape.window}
		for _, impl := range []struct {
			name   string
			bucket func() bucket
		}{
			{"gcra", func() bucket { return &gcraBucket{p: old} }},
			{"window", func() bucket { return &windowBucket{p: cur} }},
		} {
			b.Run(shape.name+"/"+impl.name, func(b *testing.B) {
				var f backlogFigures
				for b.Loop() {
					f = runBacklog(impl.bucket, cur)
				}
				b.ReportMetric(f.rate, "rate/limit")
				b.ReportMetric(float64(f.most), "max/window")
				b.ReportMetric(float64(f.behind), "FREE-behind")
				b.ReportMetric(float64(f.behindStream), "FREE-behind-stream")
				for i, q := range f.quarter {
					for _, t := range generation.Tiers {
						b.ReportMetric(q[t], fmt.Sprintf("Q%d-%s%%", i+1, t[:3]))
					}
				}
				b.Log(describe(f))
			})
		}
	}
}

func describe(f backlogFigures) string {
	var s strings.Builder
	fmt.Fprintf(&s, "rate %.3f of the limit, at most %d in a window, backlog done in %s; FREE behind %d (flood) / %d (stream) grants; quarters (E/Pm/Pr/F %%):",
		f.rate, f.most, f.duration.Round(time.Second), f.behind, f.behindStream)
	for _, q := range f.quarter {
		fmt.Fprintf(&s, " %.0f/%.0f/%.0f/%.0f", q[generation.Enterprise], q[generation.Premium], q[generation.Pro], q[generation.Free])
	}
	return s.String()
}
