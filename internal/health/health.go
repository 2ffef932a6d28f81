// Package health is Suno's health as the service sees it: one breaker per
// Suno account, shared by every worker (DESIGN.md section 13). It is the
// closed / open / half-open breaker with one probe that resilience4j
// describes, with two twists for an upstream we pay for: an answer that
// proves Suno-wide trouble (maintenance, no credits, a refused key) opens it
// at once, and a server error or an unreachable Suno only counts toward a
// window of such failures across workers. It is pure: the adapters store a
// Breaker and apply its methods inside their atomic writes.
package health

import (
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// State is where a breaker is.
type State string

const (
	// Closed: submissions go to Suno.
	Closed State = "closed"
	// Open: no worker submits; a probe is due at NextProbe.
	Open State = "open"
	// Probing: one worker is checking Suno (until ProbeUntil).
	Probing State = "probing"
)

// Policy tunes the breakers. The zero value takes DefaultPolicy's fields.
type Policy struct {
	// Window and Threshold: Threshold suspect failures (server errors,
	// Suno unreachable) within Window, across every worker, open the
	// breaker. One or two are a song's bad luck, retried as such.
	Window    time.Duration
	Threshold int
	// ProbeFirst is the wait before the first probe after opening; each
	// failed probe doubles it, up to ProbeMax.
	ProbeFirst, ProbeMax time.Duration
	// ProbeLease is how long a probe's claim holds: a worker that dies
	// while probing leaves the probe to the next after it.
	ProbeLease time.Duration
	// Verdict is the least a suspect failure waits before it is judged:
	// long enough for the other workers' answers to open the breaker if
	// Suno as a whole is failing.
	Verdict time.Duration
}

// DefaultPolicy opens on 3 suspect failures in 10 s, and probes after 2 s,
// then 4, 8, ... up to a minute.
func DefaultPolicy() Policy {
	return Policy{Window: 10 * time.Second, Threshold: 3, ProbeFirst: 2 * time.Second, ProbeMax: time.Minute, ProbeLease: 30 * time.Second, Verdict: 2 * time.Second}
}

// WithDefaults fills the zero fields.
func (p Policy) WithDefaults() Policy {
	d := DefaultPolicy()
	if p.Window <= 0 {
		p.Window = d.Window
	}
	if p.Threshold <= 0 {
		p.Threshold = d.Threshold
	}
	if p.ProbeFirst <= 0 {
		p.ProbeFirst = d.ProbeFirst
	}
	if p.ProbeMax < p.ProbeFirst {
		p.ProbeMax = max(d.ProbeMax, p.ProbeFirst)
	}
	if p.ProbeLease <= 0 {
		p.ProbeLease = d.ProbeLease
	}
	if p.Verdict <= 0 {
		p.Verdict = d.Verdict
	}
	return p
}

// Breaker is one account's health. The zero value is a closed breaker
// that has seen nothing.
type Breaker struct {
	State State `json:"state,omitempty"`
	// Since is when the breaker entered State.
	Since time.Time `json:"since,omitzero"`
	// Outage is the trouble that opened it, and LastError what Suno last
	// answered, as plain words (the detail goes to the log).
	Outage    generation.Outage `json:"outage,omitempty"`
	LastError string            `json:"lastError,omitempty"`
	// Failures are the recent suspect failures, while closed.
	Failures []Strike `json:"failures,omitempty"`
	// Probes counts failed probes since it opened; NextProbe is when the
	// next is due, ProbeUntil when a running probe's claim ends.
	Probes     int       `json:"probes,omitempty"`
	NextProbe  time.Time `json:"nextProbe,omitzero"`
	ProbeUntil time.Time `json:"probeUntil,omitzero"`
	// Credits are the account's remaining credits as last read (at
	// CreditsAt); CreditsKnown tells the zero value from a read of 0.
	Credits      int       `json:"credits"`
	CreditsKnown bool      `json:"creditsKnown,omitempty"`
	CreditsAt    time.Time `json:"creditsAt,omitzero"`
}

// Strike is one suspect failure: when, and of which song, since one
// song failing again and again says nothing about Suno as a whole.
type Strike struct {
	At   time.Time `json:"at"`
	Song string    `json:"song,omitempty"`
}

// Current is b's state, Closed for the zero value.
func (b Breaker) Current() State {
	if b.State == "" {
		return Closed
	}
	return b.State
}

// Allows reports whether submissions may go to Suno.
func (b Breaker) Allows() bool { return b.Current() == Closed }

// ProbeDue reports whether a probe may start at now: the breaker is open
// and its wait is over, or a probe's claim has lapsed.
func (b Breaker) ProbeDue(now time.Time) bool {
	switch b.Current() {
	case Open:
		return !now.Before(b.NextProbe)
	case Probing:
		return now.After(b.ProbeUntil)
	}
	return false
}

// Failed records song's failure of Suno-wide trouble (certain) or a
// suspect one. It opens a closed breaker when the failure is certain or
// the window holds suspect failures of Threshold different songs with no
// accepted submission between them (Succeeded), and reports whether it is
// open now.
func (b *Breaker) Failed(now time.Time, song string, o generation.Outage, message string, p Policy) bool {
	p = p.WithDefaults()
	b.LastError = message
	if b.Current() != Closed {
		if o.Certain() && b.Outage != o {
			b.Outage = o // the more telling reason
		}
		return true
	}
	if !o.Certain() {
		b.Failures = append(recent(b.Failures, now, p.Window), Strike{At: now, Song: song})
		if songs(b.Failures) < p.Threshold {
			return false
		}
	}
	b.State, b.Since, b.Outage = Open, now, o
	b.Failures, b.Probes = nil, 0
	b.NextProbe = now.Add(p.ProbeFirst)
	return true
}

// Succeeded records a submission that Suno accepted at: the suspect
// failures before it were the songs' own, not the start of an outage.
// It reports whether anything changed (the caller writes only then).
func (b *Breaker) Succeeded(at time.Time) bool {
	kept := b.Failures[:0:0]
	for _, s := range b.Failures {
		if s.At.After(at) {
			kept = append(kept, s)
		}
	}
	if len(kept) == len(b.Failures) {
		return false
	}
	b.Failures = kept
	return true
}

// ClaimProbe makes the caller the one prober, until now + ProbeLease; it
// reports false when no probe is due.
func (b *Breaker) ClaimProbe(now time.Time, p Policy) bool {
	if !b.ProbeDue(now) {
		return false
	}
	p = p.WithDefaults()
	if b.Current() == Open {
		b.Since = now
	}
	b.State = Probing
	b.ProbeUntil = now.Add(p.ProbeLease)
	return true
}

// ProbeSucceeded closes the breaker.
func (b *Breaker) ProbeSucceeded(now time.Time) {
	b.State, b.Since = Closed, now
	b.Outage, b.Failures, b.Probes = "", nil, 0
	b.NextProbe, b.ProbeUntil = time.Time{}, time.Time{}
}

// ProbeFailed opens the breaker again until the next, later probe.
func (b *Breaker) ProbeFailed(now time.Time, o generation.Outage, message string, p Policy) {
	p = p.WithDefaults()
	b.Probes++
	wait := p.ProbeFirst
	for i := 0; i < b.Probes && wait < p.ProbeMax; i++ {
		wait *= 2
	}
	b.State, b.Since = Open, now
	if o != "" {
		b.Outage = o
	}
	b.LastError = message
	b.NextProbe = now.Add(min(wait, p.ProbeMax))
	b.ProbeUntil = time.Time{}
}

// Reopen schedules the next probe at now, for an operator who knows Suno
// is back; a closed breaker stays closed, and a probe under way is left to
// finish (clearing its lease would let a second worker probe beside it).
func (b *Breaker) Reopen(now time.Time) bool {
	if b.Current() == Closed || (b.State == Probing && !now.After(b.ProbeUntil)) {
		return false
	}
	b.State = Open
	b.NextProbe, b.ProbeUntil = now, time.Time{}
	return true
}

// SetCredits records a read of the account's credits.
func (b *Breaker) SetCredits(n int, now time.Time) {
	b.Credits, b.CreditsKnown, b.CreditsAt = n, true, now
}

// KnownCredits are the credits last read, and whether any were.
func (b Breaker) KnownCredits() (int, bool) { return b.Credits, b.CreditsKnown }

// recent is the strikes within window before now.
func recent(ss []Strike, now time.Time, window time.Duration) []Strike {
	out := ss[:0:0]
	for _, s := range ss {
		if now.Sub(s.At) < window {
			out = append(out, s)
		}
	}
	return out
}

// songs counts the different songs among ss.
func songs(ss []Strike) int {
	seen := make(map[string]bool, len(ss))
	for _, s := range ss {
		seen[s.Song] = true
	}
	return len(seen)
}

// WaitReason is why a song waits while b is open: "suno_credits" for an
// account out of credits, else "suno_unavailable".
func (b Breaker) WaitReason() string {
	if b.Outage == generation.OutageCredits {
		return ReasonCredits
	}
	return ReasonUnavailable
}

// The reasons a song is held (DESIGN.md section 13): Suno's trouble, or
// its tier paused by the operators. DESIGN also names rate_limited; a
// song waiting for a token is in line, not held (its place says when), so
// it is not set.
const (
	ReasonUnavailable = "suno_unavailable"
	ReasonCredits     = "suno_credits"
	ReasonPaused      = "tier_paused"
)

// ReasonMessage is what a song's owner reads for reason.
func ReasonMessage(reason string) string {
	switch reason {
	case ReasonUnavailable:
		return "Suno is unavailable right now; your song is held and will be made when Suno is back"
	case ReasonCredits:
		return "The music service is topping up its Suno credits; your song is held and will be made as soon as it can"
	case ReasonPaused:
		return "Songs of your plan are paused for a moment by the service's operators; yours keeps its place and will be made when they resume"
	}
	return ""
}
