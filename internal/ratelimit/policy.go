// Package ratelimit is the global Suno rate limit shared by every worker:
// an exact sliding window over the last grants, in which the tiers differ
// by how many tokens each may take at once, how much of the window each
// may fill while a higher tier is present, and how soon each may take a
// token that frees. The whole state is the last grants (State), so a store
// keeps it in one item and updates it with one conditional write.
//
// # The window
//
// Suno accepts at most Rate submissions in any Window (sunoapi.org: 20 per
// 10 s, code 430 beyond); call that the Limit. The state holds the times of
// the last Limit grants, and a token is granted only if the oldest of them
// is at least Window + Margin old. So no window of length Window ever holds
// more than Limit grants, counted exactly (to the microsecond), and under
// a backlog each slot of the window is used again as soon as it frees: the
// rate is Limit per Window + Margin (+ a Stagger, below): 0.99 of the
// limit at 20 per 10 s, 0.98 at 10 per 1 s. Margin (default Window/50, at
// most 50 ms) absorbs the jitter between our grant and Suno's count of the
// arrival, which is what put a 21st submission into one of Suno's windows;
// 5 ms at 1 s was too little for four accounts' workers on a busy 2-core
// machine (the fake Suno refused one submission in 480 with 430).
//
// A fractional Rate above 1 counts as its whole part (a window cannot hold
// half a submission); below 1 it is one per Window/Rate. A Limit above 100
// is kept as the same rate over a shorter window, so that the state stays
// small: 100 per Window×100/Limit, which holds at most Limit in any Window.
//
// # Smoothing
//
// At most Burst tokens go at once (default 3), then one per Interval
// (Window/Limit): a GCRA at the full rate, computed from the same grants.
// It never lowers the rate, since under a backlog the window is the
// tighter rule, but it spreads a window's tokens, so that each token that
// frees is a decision of its own in which the tiers' order counts, rather
// than a whole window handed out at once to whoever asked first.
//
// # Tiers
//
// Shares of the burst. A tier may take tokens ahead of the smoothing's
// pace only to its share of the burst: ENTERPRISE all Burst−1 intervals,
// PREMIUM ¾ of them, PRO ½, FREE ¼. The refill is the same for all (a
// tier alone gets the full rate), but tiers that ask together go in tier
// order: once ENTERPRISE has taken its tokens ahead, FREE waits until the
// smoothing is back within FREE's share (as when a backlog held during an
// outage all asks at once).
//
// Ceilings. While a higher tier is present, a tier may fill the window
// only to its ceiling: ENTERPRISE 100 % of the Limit, PREMIUM 85 %, PRO 70
// %, FREE 55 %, rounded down, at least 1 (at 20 per 10 s: 20, 17, 14, 11;
// at 10 per 1 s: 10, 8, 7, 5). A tier is present for Presence after its
// last grant: max(2 s, 1.5 intervals), since under a backlog it is granted
// a token every interval, and its jobs that wait in the queue rather than
// in a worker ask again every second or two (queue delays are whole
// seconds). So under a mixed backlog the window stays full of the highest
// tier waiting, and a lower tier's job cannot take its token however early
// it asks. A tier alone, or once the tiers above have gone quiet, fills the
// whole window: nothing is kept for a tier that is not asking.
//
// Presence ends sooner when the asker knows better. The state remembers
// which tiers each rank's grants went to while it was present, and an Ask
// may name the tiers that have no song waiting at all (Ask.Idle, from the
// store's exact counts of pending songs): a rank whose tiers are all idle
// is not present, whatever its last grant. Without it, when the tier above
// runs out of jobs the one below would stay at its ceiling for Presence,
// leaving up to Limit − ceiling slots empty at every change of tier (a
// backlog of 30 jobs per tier at 10 per 1 s lost a tenth of its tokens so).
//
// Turns. Shares and ceilings cannot order every token (at 1 per second the
// burst is 1 and all ceilings are 1), so the jobs also take turns at each
// token that frees: a job's turn begins (2 × its effective rank + f) ×
// Stagger after the token frees (f, see Turn, puts the jobs aged into a
// rank before the rank's own tier's), and a token of
// the smoothing is the job's from that turn minus one Stagger after it is
// due. Stagger is Interval/40, at most 25 ms (12.5 ms at 20 per 10 s, 2.5
// ms at 10 per 1 s, 25 ms at 1 per 1 s). So the waiting jobs of the
// highest effective rank are the first that may take a token, and the
// RetryAfter a refused job is given is when
// its own turn begins: the higher tiers' jobs ask first, and a lower
// tier's job that asks early is refused. The turns cost a lower tier alone
// up to 7 staggers per slot of the window (about 1 % at 20 per 10 s, 2 %
// at 10 per 1 s, 15 % at 1 per 1 s) until its jobs age.
//
// # Aging
//
// A job that has waited is promoted one tier per AgingGrants submissions'
// worth of waiting, AgingGrants × Interval (default 60: 30 s at 20 per 10
// s, 6 s at 10 per 1 s, 60 s at 1 per 1 s), so aging follows the rate and
// not the wall clock; AgingStep, when set, is a wall-clock step instead.
// 60 lets ENTERPRISE fill the first quarter of a backlog of 60 jobs per
// tier before PREMIUM's are promoted. Within an effective rank the jobs
// aged into it go first, so under a flood of ENTERPRISE jobs that keep
// arriving a FREE job gets its token once it has waited three steps, after
// about 3 × AgingGrants submissions (plus the few tokens other aged jobs
// that waited longer take first). A tier's own jobs are not ordered by
// their wait: among them the queue's fairness across users decides.
package ratelimit

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// Policy is the shape of the limit.
type Policy struct {
	// Rate is the most tokens handed out in any Window.
	Rate float64
	// Window is the length of the window Rate is counted in; 0 means one
	// second.
	Window time.Duration
	// Burst is how many tokens may be taken at once; after them one goes
	// per Interval. 0 means DefaultBurst; it is at most the Limit.
	Burst int
	// Margin is how much longer than Window a slot of the window stays
	// taken after its grant, for the jitter between a grant and Suno's
	// count of the submission. 0 means Window/50, at most 50 ms (50 ms at
	// 10 s, 20 ms at 1 s); negative means none.
	Margin time.Duration
	// AgingGrants is how many submissions' worth of waiting (AgingGrants ×
	// Interval) promotes a job one tier; 0 means DefaultAgingGrants.
	AgingGrants int
	// AgingStep, when positive, is the wall-clock wait that promotes a job
	// one tier instead of AgingGrants.
	AgingStep time.Duration
}

// Ask is a job's request for a token.
type Ask struct {
	Tier generation.Tier
	// Waited is how long the job has waited, which promotes it (Aging).
	Waited time.Duration
	// Idle are the tiers known to have no song waiting for a token; the
	// zero value knows of none. A rank present only through idle tiers
	// caps nobody (see Ceilings).
	Idle Tiers
}

// Tiers is a set of tiers.
type Tiers uint8

// allTiers is every tier: what a state written before the tiers of each
// rank were kept says of them.
const allTiers = Tiers(1<<ranks - 1)

// TiersOf is the set of ts.
func TiersOf(ts ...generation.Tier) Tiers {
	var s Tiers
	for _, t := range ts {
		s |= 1 << t.Rank()
	}
	return s
}

// Has reports whether t is in s.
func (s Tiers) Has(t generation.Tier) bool { return s&(1<<t.Rank()) != 0 }

// DefaultPolicy is DESIGN.md's: 10 submissions a second, a promotion per
// DefaultAgingGrants submissions of waiting.
func DefaultPolicy() Policy {
	return Policy{Rate: 10, Window: time.Second}
}

const (
	// DefaultBurst spreads a window's tokens, so that the tiers' order
	// decides who gets each.
	DefaultBurst = 3
	// DefaultAgingGrants makes the aging step 30 s at Suno's 20 per 10 s.
	DefaultAgingGrants = 60

	// maxLimit bounds the grants the state keeps.
	maxLimit = 100
	// maxMargin bounds the default margin.
	maxMargin = 50 * time.Millisecond
	// maxStagger bounds Stagger.
	maxStagger = 25 * time.Millisecond
	// minPresence is the least time a rank counts as present after its
	// last grant.
	minPresence = 2 * time.Second
)

// ceilingShare is the fraction of the window each effective rank may fill
// while a higher one is present; burstShare, how much of the burst it may
// take ahead.
var (
	ceilingShare = [...]float64{1, 0.85, 0.70, 0.55}
	burstShare   = [...]float64{1, 0.75, 0.5, 0.25}
)

func (p Policy) window() time.Duration {
	if p.Window > 0 {
		return p.Window
	}
	return time.Second
}

// Limit is the most grants any window of length span holds, and so the
// number of grants the state keeps: Rate per Window, but for the cases the
// package doc describes (a rate below 1, or a limit above 100).
func (p Policy) Limit() (n int, span time.Duration) {
	w, r := p.window(), p.Rate
	if math.IsNaN(r) || r < 1 {
		if r > 0 && !math.IsNaN(r) {
			d := float64(w) / r
			if d > float64(100*365*24*time.Hour) {
				d = float64(100 * 365 * 24 * time.Hour)
			}
			w = time.Duration(d)
		}
		return 1, w
	}
	n64 := int64(math.Min(math.Floor(r), 1e15))
	if n64 > maxLimit {
		k := (n64 + maxLimit - 1) / maxLimit
		n64 /= k
		w = max(time.Duration(int64(w)/k), 1)
	}
	return int(n64), w
}

// Interval is Window/Limit: the time one token of the rate takes.
func (p Policy) Interval() time.Duration {
	n, w := p.Limit()
	return max(w/time.Duration(n), 1)
}

// Sustained is how many tokens a second the limit allows at most.
func (p Policy) Sustained() float64 {
	n, w := p.Limit()
	return float64(n) / w.Seconds()
}

// MarginOf is the margin in use: Margin or its default.
func (p Policy) MarginOf() time.Duration {
	switch {
	case p.Margin > 0:
		return p.Margin
	case p.Margin < 0:
		return 0
	}
	_, w := p.Limit()
	return min(w/50, maxMargin)
}

// Stagger is the unit of the jobs' turns at a token that frees (Turn):
// Interval/40, at most 25 ms.
func (p Policy) Stagger() time.Duration {
	return min(p.Interval()/40, maxStagger)
}

// burst is Burst, or its default, never more than the Limit.
func (p Policy) burst() int {
	n, _ := p.Limit()
	b := p.Burst
	if b <= 0 {
		b = DefaultBurst
	}
	return max(1, min(b, n))
}

// Aging is how long a job waits to be promoted one tier.
func (p Policy) Aging() time.Duration {
	if p.AgingStep > 0 {
		return p.AgingStep
	}
	g := p.AgingGrants
	if g <= 0 {
		g = DefaultAgingGrants
	}
	return time.Duration(g) * p.Interval()
}

// Rank is the effective rank of a tier after waiting: 0 is the highest.
func (p Policy) Rank(tier generation.Tier, waited time.Duration) int {
	return max(0, tier.Rank()-int(max(waited, 0)/p.Aging()))
}

// Ceiling is how many grants the window may hold for a job of this tier,
// after waiting, to still get a token.
func (p Policy) Ceiling(tier generation.Tier, waited time.Duration) int {
	return p.ceiling(p.Rank(tier, waited))
}

func (p Policy) ceiling(rank int) int {
	n, _ := p.Limit()
	return max(1, min(n, int(math.Floor(ceilingShare[rank]*float64(n)+1e-9))))
}

// Turn is how long after a token frees the job's turn at it begins:
// (2 × its effective rank + f) × Stagger, where f is 1 for a job still at
// its own tier's rank and Aging/(waited + Aging) (at most ½) for a job
// aged into it. So the higher effective rank goes first; within a rank the
// jobs aged into it go before its own tier's, the longest waiting first;
// and a tier's own jobs all have the same turn whatever they waited, so
// that among them the queue's fairness decides (one user's backlog that
// has waited longer does not go before another user's new song).
func (p Policy) Turn(tier generation.Tier, waited time.Duration) time.Duration {
	rank := p.Rank(tier, waited)
	f := 1.0
	if rank < tier.Rank() {
		a := float64(p.Aging())
		f = a / (float64(max(waited, 0)) + a)
	}
	return time.Duration((2*float64(rank) + f) * float64(p.Stagger()))
}

// State is the window: the times of the last grants, at most Limit of
// them, oldest first, and when each effective rank was last granted a
// token; all in Unix microseconds. The zero State is a window never used.
type State struct {
	Grants []int64
	// Served is the time of the last grant to each effective rank, 0 for
	// none.
	Served [ranks]int64
	// ServedTiers are the tiers of the jobs granted at each rank since it
	// was last absent (no grant for Presence).
	ServedTiers [ranks]Tiers
}

// ranks is the number of effective ranks, one per tier.
const ranks = len(generation.Tiers)

// Presence is how long after its last grant a rank counts as present:
// max(2 s, 1.5 Interval). Under a backlog a rank is granted a token every
// interval, and its jobs that wait in the queue rather than in a worker
// ask again every second or two (queue delays are whole seconds).
func (p Policy) Presence() time.Duration {
	return max(minPresence, p.Interval()*3/2)
}

// Decide takes a token from the window s at now for the job that asks. It
// returns the new state when a token is granted, or how long to wait
// otherwise: when the job's turn at the next token begins, if nobody takes
// it first. Times count in whole microseconds.
func (p Policy) Decide(s State, now time.Time, a Ask) (next State, ok bool, retryAfter time.Duration) {
	tier, waited := a.Tier, a.Waited
	n, span := p.Limit()
	g := s.Grants
	if len(g) > n {
		g = g[len(g)-n:]
	}
	nowUs := now.UnixMicro()
	nowNs := nowUs * 1000
	rank := p.Rank(tier, waited)
	turn := int64(p.Turn(tier, waited))
	stagger := int64(p.Stagger())
	interval := int64(p.Interval())
	hold := int64(span) + int64(p.MarginOf())
	// leaves is when the k-th most recent grant leaves the window (and
	// its margin), or math.MinInt64 if there are fewer.
	leaves := func(k int) int64 {
		if len(g) < k {
			return math.MinInt64
		}
		return g[len(g)-k]*1000 + hold
	}

	// The window: it must have room, and while a higher rank is present,
	// fewer grants than the job's ceiling; a slot that frees is the job's
	// from its turn on.
	free := leaves(n)
	present := int64(math.MinInt64) // until when a higher rank is present
	for r := range rank {
		if s.Served[r] != 0 && s.ServedTiers[r]&^a.Idle != 0 {
			present = max(present, s.Served[r]*1000+int64(p.Presence()))
		}
	}
	if present > nowNs {
		// Capped until the ceiling-th most recent grant leaves, or until
		// the higher ranks are no longer present and the window has room.
		free = min(leaves(p.ceiling(rank)), max(present, free))
	}
	wait := int64(math.MinInt64)
	if free != math.MinInt64 {
		wait = free + turn - nowNs
	}
	// The smoothing: a GCRA at the full rate over the same grants, each
	// rank reaching its share of the burst ahead; a token that is due is
	// the job's from its turn on, counted from the turn of an ENTERPRISE
	// job that has not waited.
	var tat int64
	for _, t := range g {
		tat = max(tat, t*1000) + interval
	}
	if len(g) > 0 {
		tol := int64(burstShare[rank]*float64(int64(p.burst()-1)*interval)) - (turn - stagger)
		wait = max(wait, tat-tol-nowNs)
	}
	if wait > 0 {
		return s, false, time.Duration(wait)
	}
	t := nowUs
	if len(g) > 0 && g[len(g)-1] > t {
		t = g[len(g)-1] // another worker's clock ran ahead: keep the order
	}
	keep := g[max(0, len(g)-n+1):]
	next.Grants = append(append(make([]int64, 0, len(keep)+1), keep...), t)
	next.Served, next.ServedTiers = s.Served, s.ServedTiers
	if s.Served[rank]*1000+int64(p.Presence()) < t*1000 {
		next.ServedTiers[rank] = 0 // absent since: its tiers start anew
	}
	next.ServedTiers[rank] |= TiersOf(tier)
	next.Served[rank] = max(next.Served[rank], t)
	return next, true, 0
}

// Used is how many of s's grants fall in the window that ends at now:
// what an operator reads as the tokens the account has used.
func (p Policy) Used(s State, now time.Time) int {
	_, span := p.Limit()
	from := now.Add(-span).UnixMicro()
	n := 0
	for _, t := range s.Grants {
		if t > from {
			n++
		}
	}
	return n
}

// Encode writes the state compactly for a store: the grants, the first
// as its time and the others as their distance from the grant before,
// separated by dots; then a semicolon and each rank's last grant as its
// distance back from the newest grant (empty for none), separated by
// dots; all in base 36; then a semicolon and each rank's served tiers, one
// hexadecimal digit each ("" for the zero State). Suno's 20 per 10 s takes
// about 125 bytes. A state written before the served tiers were kept (no
// third part) reads as every tier served at every rank.
func (s State) Encode() string {
	if len(s.Grants) == 0 && s.Served == [ranks]int64{} {
		return ""
	}
	var b strings.Builder
	var prev, newest int64
	for i, t := range s.Grants {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatInt(t-prev, 36))
		prev, newest = t, t
	}
	b.WriteByte(';')
	for r, t := range s.Served {
		if r > 0 {
			b.WriteByte('.')
		}
		if t != 0 {
			b.WriteString(strconv.FormatInt(newest-t, 36))
		}
	}
	b.WriteByte(';')
	for _, ts := range s.ServedTiers {
		b.WriteString(strconv.FormatUint(uint64(ts), 16))
	}
	return b.String()
}

var errState = errors.New("rate limiter state: malformed")

// DecodeState reads what Encode wrote.
func DecodeState(text string) (State, error) {
	var s State
	if text == "" {
		return s, nil
	}
	grants, served, ok := strings.Cut(text, ";")
	if !ok {
		return State{}, errState
	}
	served, tiers, withTiers := strings.Cut(served, ";")
	if withTiers {
		if len(tiers) != ranks {
			return State{}, errState
		}
		for r := range ranks {
			v, err := strconv.ParseUint(tiers[r:r+1], 16, 8) // one digit: at most allTiers
			if err != nil {
				return State{}, errState
			}
			s.ServedTiers[r] = Tiers(v)
		}
	} else {
		for r := range s.ServedTiers {
			s.ServedTiers[r] = allTiers
		}
	}
	var prev int64
	if grants != "" {
		for i, part := range strings.Split(grants, ".") {
			v, err := strconv.ParseInt(part, 36, 64)
			if err != nil || (i > 0 && v < 0) {
				return State{}, errState
			}
			prev += v
			s.Grants = append(s.Grants, prev)
		}
	}
	parts := strings.Split(served, ".")
	if len(parts) != ranks {
		return State{}, errState
	}
	for r, part := range parts {
		if part == "" {
			continue
		}
		v, err := strconv.ParseInt(part, 36, 64)
		if err != nil || v < 0 || prev-v == 0 {
			return State{}, errState
		}
		s.Served[r] = prev - v
	}
	return s, nil
}
