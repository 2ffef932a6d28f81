package ratelimit

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// take asks p for a token in the window *s, keeping the new state.
func take(p Policy, s *State, now time.Time, tier generation.Tier, waited time.Duration) (bool, time.Duration) {
	next, ok, wait := p.Decide(*s, now, Ask{Tier: tier, Waited: waited})
	if ok {
		*s = next
	}
	return ok, wait
}

func TestLimitShapes(t *testing.T) {
	for _, c := range []struct {
		p    Policy
		n    int
		span time.Duration
	}{
		{Policy{Rate: 20, Window: 10 * time.Second}, 20, 10 * time.Second},
		{Policy{Rate: 10}, 10, time.Second},
		{Policy{Rate: 2.5}, 2, time.Second},               // a window holds whole submissions
		{Policy{Rate: 0.5}, 1, 2 * time.Second},           // one every two seconds
		{Policy{}, 1, time.Second},                        // no rate: one a window
		{Policy{Rate: 1000}, 100, 100 * time.Millisecond}, // the state stays small
		{Policy{Rate: 250}, 83, time.Second / 3},
	} {
		n, span := c.p.Limit()
		if n != c.n || span != c.span {
			t.Errorf("%+v: limit %d per %s, want %d per %s", c.p, n, span, c.n, c.span)
		}
	}
	if m := (Policy{Rate: 20, Window: 10 * time.Second}).MarginOf(); m != 50*time.Millisecond {
		t.Errorf("margin at 10 s: %s, want 50ms", m)
	}
	if m := (Policy{Rate: 10}).MarginOf(); m != 20*time.Millisecond {
		t.Errorf("margin at 1 s: %s, want 20ms", m)
	}
	if m := (Policy{Rate: 10, Margin: -1}).MarginOf(); m != 0 {
		t.Errorf("negative margin: %s, want none", m)
	}
}

func TestCeilings(t *testing.T) {
	for _, c := range []struct {
		p    Policy
		want [4]int // ENTERPRISE, PREMIUM, PRO, FREE
	}{
		{Policy{Rate: 20, Window: 10 * time.Second}, [4]int{20, 17, 14, 11}},
		{Policy{Rate: 10}, [4]int{10, 8, 7, 5}},
		{Policy{Rate: 3}, [4]int{3, 2, 2, 1}},
		{Policy{Rate: 1}, [4]int{1, 1, 1, 1}},
	} {
		var got [4]int
		for i, tier := range generation.Tiers {
			got[i] = c.p.Ceiling(tier, 0)
		}
		if got != c.want {
			t.Errorf("%+v: ceilings %v, want %v", c.p, got, c.want)
		}
	}
}

// TestAgingFollowsTheRate: a promotion per AgingGrants submissions' worth
// of waiting, whatever the rate, unless AgingStep sets a wall-clock step.
func TestAgingFollowsTheRate(t *testing.T) {
	if got := (Policy{Rate: 20, Window: 10 * time.Second}).Aging(); got != 30*time.Second {
		t.Errorf("aging at 20 per 10 s: %s, want 30s (60 submissions)", got)
	}
	if got := (Policy{Rate: 10}).Aging(); got != 6*time.Second {
		t.Errorf("aging at 10 per 1 s: %s, want 6s", got)
	}
	if got := (Policy{Rate: 10, AgingGrants: 40}).Aging(); got != 4*time.Second {
		t.Errorf("aging at 10 per 1 s, 40 grants: %s, want 4s", got)
	}
	p := Policy{Rate: 10, AgingStep: 20 * time.Second}
	if got := p.Aging(); got != 20*time.Second {
		t.Errorf("AgingStep 20s: aging %s", got)
	}
	for waited, want := range map[time.Duration]int{0: 3, 19 * time.Second: 3, 20 * time.Second: 2, 59 * time.Second: 1, time.Hour: 0} {
		if got := p.Rank(generation.Free, waited); got != want {
			t.Errorf("FREE after %s: rank %d, want %d", waited, got, want)
		}
	}
	if p.Turn(generation.Free, 2*time.Minute) >= p.Turn(generation.Enterprise, time.Minute) {
		t.Error("a FREE job aged into ENTERPRISE does not go before an ENTERPRISE job that waited less")
	}
	if p.Turn(generation.Free, 3*time.Minute) >= p.Turn(generation.Free, time.Minute) {
		t.Error("of two FREE jobs aged into ENTERPRISE, the one that waited longer does not go first")
	}
	if p.Turn(generation.Free, 10*time.Second) != p.Turn(generation.Free, 0) || p.Turn(generation.Enterprise, time.Hour) != p.Turn(generation.Enterprise, 0) {
		t.Error("a tier's own jobs take turns by how long they waited: one user's older backlog would go before another user's new song")
	}
	if p.Turn(generation.Premium, 0) >= p.Turn(generation.Free, 30*time.Second) || p.Turn(generation.Enterprise, 0) != p.Stagger() {
		t.Error("turns are not by effective rank first")
	}
}

// TestNoWindowHoldsMoreThanTheLimit: whatever the demand, the tiers and
// their waits, the busiest window of the configured length holds at most
// the limit, Suno's 20 per 10 s among them, even with no margin; and
// under continuous demand it holds exactly that many.
func TestNoWindowHoldsMoreThanTheLimit(t *testing.T) {
	for _, p := range []Policy{
		{Rate: 10},                                            // DESIGN's 10 a second, default burst
		{Rate: 20, Window: 10 * time.Second},                  // Suno's window
		{Rate: 20, Window: 10 * time.Second, Burst: 20},       // all of it at once
		{Rate: 20, Window: 10 * time.Second, Burst: 1},        // evenly spaced
		{Rate: 20, Window: 10 * time.Second, Margin: -1},      // no margin
		{Rate: 1, Margin: -1},                                 // one a second
		{Rate: 2, Burst: 5},                                   // a burst above the rate is capped
		{Rate: 0.5},                                           // one every two seconds
		{Rate: 3, AgingStep: 2 * time.Second, Margin: -1},     // fast aging
		{Rate: 250, Window: 10 * time.Second, AgingGrants: 5}, // kept as 83 per 3.3 s
	} {
		// The window counted in: Window, or a longer one for a rate below
		// one; a rate kept over shorter windows holds a whole number of
		// them in Window.
		limit, span := p.Limit()
		if span < p.window() {
			limit *= int(p.window() / span)
			span = p.window()
		}
		rng := rand.New(rand.NewPCG(7, uint64(p.Rate*10)))
		start := time.Unix(1000, 0)
		var s State
		var random, steady []simGrant
		// Bursts and idle stretches from every tier, with every wait.
		for now := start; now.Before(start.Add(50 * span)); now = now.Add(time.Duration(rng.IntN(40_000)) * time.Microsecond) {
			if rng.IntN(1000) < 2 {
				now = now.Add(time.Duration(rng.Int64N(int64(span))))
			}
			tier := generation.Tiers[rng.IntN(len(generation.Tiers))]
			if ok, _ := take(p, &s, now, tier, time.Duration(rng.IntN(120))*time.Second); ok {
				random = append(random, simGrant{at: now, tier: tier})
			}
		}
		// Then continuous demand, after an idle stretch.
		start = start.Add(100 * span)
		for now := start; now.Before(start.Add(5 * span)); now = now.Add(time.Millisecond) {
			for {
				ok, _ := take(p, &s, now, generation.Enterprise, 0)
				if !ok {
					break
				}
				steady = append(steady, simGrant{at: now})
			}
		}
		if n := busiest(random, span); n > limit {
			t.Errorf("%+v: a %s window held %d tokens, more than %d", p, span, n, limit)
		}
		if n := busiest(steady, span); n != limit {
			t.Errorf("%+v: under continuous demand the busiest %s window held %d tokens, want %d", p, span, n, limit)
		}
	}
}

// TestABacklogUsesTheWindow: jobs that ask when told take at least 0.97 of
// the limit, at Suno's window and at 10 a second, ENTERPRISE or not, and
// FREE too once its jobs have waited.
func TestABacklogUsesTheWindow(t *testing.T) {
	for _, p := range []Policy{{Rate: 20, Window: 10 * time.Second}, {Rate: 10}} {
		limit, _ := p.Limit()
		start := time.Unix(1_700_000_000, 0)
		for _, tiers := range [][]generation.Tier{mixedBacklog(60, 3), slices.Repeat([]generation.Tier{generation.Enterprise}, 100)} {
			grants := simulate(&windowBucket{p: p}, atOnce(tiers, start), 3)
			if r := rateOf(grants, p.window(), limit); r < 0.97 {
				t.Errorf("%+v: a backlog of %d reached %.3f of the limit, want at least 0.97", p, len(tiers), r)
			}
			if n := busiest(grants, p.window()); n > limit {
				t.Errorf("%+v: a window held %d", p, n)
			}
		}
	}
}

// TestHigherTiersFillTheBacklogFirst: of a mixed backlog queued at once,
// each quarter of the grants goes (≥ 90 %) to one tier, highest first, at
// any rate, and no tier waits behind more than the ones above it.
func TestHigherTiersFillTheBacklogFirst(t *testing.T) {
	for _, p := range []Policy{{Rate: 20, Window: 10 * time.Second}, {Rate: 10}, {Rate: 1}} {
		grants := simulate(&windowBucket{p: p}, atOnce(mixedBacklog(60, 4), time.Unix(1_700_000_000, 0)), 4)
		for i, q := range quarters(grants) {
			if tier := generation.Tiers[i]; q[tier] < 90 {
				t.Errorf("%+v: quarter %d is %.0f%% %s, want at least 90%% (%v)", p, i+1, q[tier], tier, q)
			}
		}
	}
}

// TestAFreeJobIsServedUnderAnEnterpriseFlood: while ENTERPRISE jobs keep
// arriving faster than the limit takes them, a FREE job gets its token
// once it has waited three aging steps, after about 3 × AgingGrants
// submissions, at any rate; without aging it would wait for them all.
// Among ENTERPRISE jobs queued as long as it has, it goes once aged into
// their rank, before them.
func TestAFreeJobIsServedUnderAnEnterpriseFlood(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	for _, p := range []Policy{{Rate: 20, Window: 10 * time.Second}, {Rate: 10}, {Rate: 1}, {Rate: 10, AgingGrants: 20}} {
		g := p.AgingGrants
		if g == 0 {
			g = DefaultAgingGrants
		}
		// Three steps, and the ENTERPRISE jobs queued before it that still
		// wait then: at most a window's worth.
		limit, _ := p.Limit()
		behind := freeBehind(simulate(&windowBucket{p: p}, stream(4*g, p, start), 5))
		t.Logf("%+v: the FREE job went after %d ENTERPRISE grants", p, behind)
		if behind < 3*g*9/10 || behind > 3*g+limit {
			t.Errorf("%+v: the FREE job went after %d grants, want about %d", p, behind, 3*g)
		}
		if behind := freeBehind(simulate(&windowBucket{p: p}, flood(4*g, start), 5)); behind == 4*g || behind < 3*g*9/10 {
			t.Errorf("%+v: among ENTERPRISE jobs queued with it the FREE job went after %d of %d", p, behind, 4*g)
		}
	}
}

// TestPriorityAtOneASecond: with a window of one, where the ceilings are
// all 1, a token that frees still goes to the highest tier that waits:
// each tier's turn begins later than the one above it's.
func TestPriorityAtOneASecond(t *testing.T) {
	p := Policy{Rate: 1}
	now := time.Unix(1000, 0)
	var s State
	if ok, _ := take(p, &s, now, generation.Free, 0); !ok {
		t.Fatal("FREE refused from an empty window")
	}
	var last time.Duration
	for i, tier := range generation.Tiers {
		ok, wait := take(p, &s, now, tier, 0)
		if ok {
			t.Fatalf("%s got a second token in one second", tier)
		}
		if i > 0 && wait <= last {
			t.Errorf("%s waits %s, no longer than the tier above (%s)", tier, wait, last)
		}
		last = wait
	}
	// At ENTERPRISE's turn, ENTERPRISE gets the token and FREE does not.
	at := now.Add(p.window() + p.MarginOf() + p.Stagger())
	if ok, _ := take(p, &s, at, generation.Free, 0); ok {
		t.Error("FREE took the token in ENTERPRISE's turn")
	}
	if ok, _ := take(p, &s, at, generation.Enterprise, 0); !ok {
		t.Error("ENTERPRISE refused in its turn")
	}
}

// TestAloneATierUsesTheWholeWindow: a tier alone takes the whole window
// (Burst permitting, the lower tiers' last tokens after their turn), its
// ceiling does not hold it back, and it then waits for the first grant to
// leave the window, and its turn.
func TestAloneATierUsesTheWholeWindow(t *testing.T) {
	p := Policy{Rate: 20, Window: 10 * time.Second, Burst: 20}
	for _, tier := range generation.Tiers {
		var s State
		start := time.Unix(1000, 0)
		now := start
		n := 0
		for {
			ok, wait := take(p, &s, now, tier, 0)
			if ok {
				n++
				continue
			}
			if wait > time.Second {
				break
			}
			now = now.Add(wait)
		}
		if n != 20 {
			t.Errorf("%s took %d in a second, want the whole window, 20", tier, n)
		}
		_, _, wait := p.Decide(s, now, Ask{Tier: tier})
		if want := p.window() + p.MarginOf() + p.Turn(tier, 0) - now.Sub(start); wait != want {
			t.Errorf("%s then waits %s, want %s", tier, wait, want)
		}
	}
}

// TestBelowAHigherTierATierStopsAtItsCeiling: while a higher tier is
// present (had a grant in the last Presence), a tier that keeps asking
// fills the window only to its ceiling; then it fills the whole window.
func TestBelowAHigherTierATierStopsAtItsCeiling(t *testing.T) {
	p := Policy{Rate: 10, Burst: 10}
	for _, tier := range []generation.Tier{generation.Premium, generation.Pro, generation.Free} {
		start := time.Unix(1000, 0)
		var s State
		take(p, &s, start, generation.Enterprise, 0)
		grants := []simGrant{{at: start}}
		ask := func(from, to time.Time) {
			for now := from; now.Before(to); now = now.Add(10 * time.Millisecond) {
				if ok, _ := take(p, &s, now, tier, 0); ok {
					grants = append(grants, simGrant{at: now})
				}
			}
		}
		present := start.Add(p.Presence())
		ask(start, present)
		if n := busiest(grants, time.Second); n != p.Ceiling(tier, 0) {
			t.Errorf("%s: while ENTERPRISE was present the window held up to %d, want %s's ceiling %d", tier, n, tier, p.Ceiling(tier, 0))
		}
		ask(present, present.Add(2*time.Second))
		if n := busiest(grants, time.Second); n != 10 {
			t.Errorf("%s: once ENTERPRISE was gone the window held up to %d, want all 10", tier, n)
		}
	}
}

// TestATierWithNothingWaitingCapsNobody: a rank whose tiers the asker
// knows to have no song waiting (Ask.Idle) is not present, however recent
// its last grant, so at a change of tier the one below fills the whole
// window at once; a rank that another tier was also granted at (a job aged
// into it) stays present until that tier is idle too.
func TestATierWithNothingWaitingCapsNobody(t *testing.T) {
	p := Policy{Rate: 10, Window: time.Second, Burst: 10}
	start := time.Unix(1000, 0)
	// Within a window nothing frees: what PRO takes is what it may fill.
	fill := func(s State, idle Tiers) int {
		n := 0
		for now := start; now.Before(start.Add(p.Window)); now = now.Add(10 * time.Millisecond) {
			if next, ok, _ := p.Decide(s, now, Ask{Tier: generation.Pro, Idle: idle}); ok {
				s = next
				n++
			}
		}
		return n
	}
	var s State
	take(p, &s, start, generation.Enterprise, 0)
	if n := fill(s, TiersOf(generation.Enterprise)); n != 9 {
		t.Errorf("with ENTERPRISE idle, PRO took %d of the 9 slots left, want all", n)
	}
	if n := fill(s, TiersOf(generation.Premium)); n != p.Ceiling(generation.Pro, 0)-1 {
		t.Errorf("with ENTERPRISE waiting, PRO took %d, want its ceiling less ENTERPRISE's grant, %d", n, p.Ceiling(generation.Pro, 0)-1)
	}
	// A PREMIUM job aged into ENTERPRISE's rank was granted there too.
	take(p, &s, start, generation.Premium, p.Aging())
	if s.ServedTiers[0] != TiersOf(generation.Enterprise, generation.Premium) {
		t.Fatalf("rank 0 served %b, want ENTERPRISE and PREMIUM", s.ServedTiers[0])
	}
	if n := fill(s, TiersOf(generation.Enterprise)); n != p.Ceiling(generation.Pro, 0)-2 {
		t.Errorf("with aged PREMIUM jobs waiting at rank 0, PRO took %d, want its ceiling less the two grants, %d", n, p.Ceiling(generation.Pro, 0)-2)
	}
	if n := fill(s, TiersOf(generation.Enterprise, generation.Premium)); n != 8 {
		t.Errorf("with both idle, PRO took %d of the 8 slots left, want all", n)
	}
	// Once the rank has been absent for Presence, its tiers start anew.
	later := start.Add(p.Presence() + p.Window + time.Second)
	next, ok, _ := p.Decide(s, later, Ask{Tier: generation.Enterprise})
	if !ok || next.ServedTiers[0] != TiersOf(generation.Enterprise) {
		t.Errorf("a grant after the rank was absent: ok %v, rank 0 served %b, want ENTERPRISE only", ok, next.ServedTiers[0])
	}
}

// TestHigherTiersTakeMoreAtOnce: from an empty window ENTERPRISE takes
// the whole burst at once, the others their share of what is beyond the
// first token (¾, ½, ¼; their turn comes just after the last one's), so
// tiers that ask together go in tier order.
func TestHigherTiersTakeMoreAtOnce(t *testing.T) {
	p := Policy{Rate: 20, Window: 10 * time.Second, Burst: 9}
	for tier, want := range map[generation.Tier]int{generation.Enterprise: 9, generation.Premium: 6, generation.Pro: 4, generation.Free: 2} {
		var s State
		n := 0
		for ok := true; ok; n++ {
			ok, _ = take(p, &s, time.Unix(1000, 0), tier, 0)
		}
		if n-1 != want {
			t.Errorf("%s took %d at once, want %d", tier, n-1, want)
		}
	}
}

// TestARefusalHoldsInLaterStates: a refusal a worker can prove from an old
// state is a refusal in any state grants made from it since, which is why
// the DynamoDB limiter refuses from what it last saw without a request.
func TestARefusalHoldsInLaterStates(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range []Policy{{Rate: 10, Burst: 4}, {Rate: 20, Window: 10 * time.Second}, {Rate: 1}} {
		var s State
		now := time.Unix(1000, 0)
		for range 2000 {
			now = now.Add(time.Duration(rng.IntN(300)) * time.Millisecond)
			tier := generation.Tiers[rng.IntN(4)]
			waited := time.Duration(rng.IntN(40)) * time.Second
			_, ok, _ := p.Decide(s, now, Ask{Tier: tier, Waited: waited})
			later := s
			for range rng.IntN(4) {
				if n, ok, _ := p.Decide(later, now.Add(-time.Duration(rng.IntN(500))*time.Millisecond), Ask{Tier: generation.Enterprise, Waited: time.Hour}); ok {
					later = n
				}
			}
			if _, okLater, _ := p.Decide(later, now, Ask{Tier: tier, Waited: waited}); !ok && okLater {
				t.Fatalf("%+v: refused in %v but granted in the later %v", p, s.Grants, later.Grants)
			}
			take(p, &s, now, generation.Tiers[rng.IntN(4)], 0)
		}
	}
}

func TestStateEncoding(t *testing.T) {
	for _, s := range []State{
		{},
		{Grants: []int64{1_700_000_000_123_456}, Served: [4]int64{0, 0, 0, 1_700_000_000_123_456}},
		{Grants: []int64{5, 5, 9, 1_000_000, 1_000_001}, Served: [4]int64{1_000_001, 5, 0, 1_000_000}, ServedTiers: [4]Tiers{3, 15, 0, 8}},
	} {
		text := s.Encode()
		got, err := DecodeState(text)
		if err != nil || !slices.Equal(got.Grants, s.Grants) || got.Served != s.Served || got.ServedTiers != s.ServedTiers {
			t.Errorf("%v encoded %q decoded %v, %v", s, text, got, err)
		}
	}
	// A state written before the served tiers were kept: every tier.
	if got, err := DecodeState("5.0.4;0.ffff5..1"); err != nil || got.ServedTiers != [4]Tiers{15, 15, 15, 15} {
		t.Errorf("a state without served tiers decoded %v, %v; want every tier at every rank", got, err)
	}
	p := Policy{Rate: 20, Window: 10 * time.Second}
	var s State
	now := time.Unix(1_700_000_000, 0)
	for i := range 40 {
		take(p, &s, now, generation.Tiers[i%4], time.Duration(i)*time.Second)
		now = now.Add(p.Interval())
	}
	if n := len(s.Encode()); n > 130 {
		t.Errorf("the state of 20 per 10 s encodes in %d bytes: %s", n, s.Encode())
	}
	for _, bad := range []string{"x!", "10.-5;...", ".", "10", "10;1.2", "a;z", "10;...;000", "10;...;00g0"} {
		if _, err := DecodeState(bad); err == nil {
			t.Errorf("DecodeState(%q) = no error", bad)
		}
	}
}

// TestOddInputs: a negative wait (clocks apart) or an unknown tier counts
// as no wait and FREE; nothing panics.
func TestOddInputs(t *testing.T) {
	p := Policy{Rate: 10}
	if r := p.Rank(generation.Enterprise, -time.Hour); r != 0 {
		t.Errorf("ENTERPRISE with a negative wait: rank %d", r)
	}
	if r := p.Rank(generation.Free, -time.Hour); r != 3 {
		t.Errorf("FREE with a negative wait: rank %d", r)
	}
	var s State
	if ok, _ := take(p, &s, time.Unix(1000, 0), generation.Tier("GOLD"), -time.Minute); !ok {
		t.Error("an unknown tier refused from an empty window")
	}
}
