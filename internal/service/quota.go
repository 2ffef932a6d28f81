package service

import (
	"fmt"
	"time"
)

// Quota bounds one user's generations; a zero limit is no limit.
type Quota struct {
	// Open is the most unfinished (pending or processing) generations.
	Open int
	// Daily is the most creates in any Window.
	Daily int
	// Window is the daily quota's rolling window; 0 means 24 hours.
	Window time.Duration
}

// QuotaError is a create refused by a quota.
type QuotaError struct {
	Limit string // "open" or "daily"
	Max   int
	// RetryAfter is when the next create may fit: for the daily quota, when
	// the oldest counted create leaves the window; for the open one, an
	// estimate (a slot frees when a generation ends).
	RetryAfter time.Duration
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("%s quota of %d reached; retry after %s", e.Limit, e.Max, e.RetryAfter)
}

// openRetryAfter is what a refusal by the open quota suggests: a slot
// frees when one of the caller's songs ends, typically within a minute.
const openRetryAfter = time.Minute

// Admit decides a create for a user who has open unfinished generations,
// slots held by songs cancelled while Suno was making them until the times
// held (generation.SlotUntil; those past now are free), and made the
// creates at times creates (oldest first) in the past: nil, or the
// *QuotaError it is refused with. Stores call it inside their atomic
// check, so the rule is one for every adapter.
func (q Quota) Admit(open int, held, creates []time.Time, now time.Time) error {
	use := q.Use(QuotaState{Open: open, Held: held, Creates: creates}, now)
	if q.Open > 0 && use.Open >= q.Open {
		return &QuotaError{Limit: "open", Max: q.Open, RetryAfter: openRetryAfter}
	}
	if q.Daily > 0 && use.Daily >= q.Daily {
		return &QuotaError{Limit: "daily", Max: q.Daily, RetryAfter: use.DailyFreeAt.Sub(now)}
	}
	return nil
}

// QuotaUse is how much of a Quota a user has used at a moment, counted as
// Admit counts it.
type QuotaUse struct {
	// Open is the slots taken: unfinished generations holding one, and
	// slots still held by songs cancelled while Suno was making them.
	Open int
	// Daily is the creates in the window, at most Quota.Daily; 0 when the
	// quota has no daily limit (stores keep no create times then).
	Daily int
	// DailyFreeAt is when the next create fits the daily limit, once
	// Daily has reached it: when the oldest counted create leaves the
	// window. Zero while the limit is not reached.
	DailyFreeAt time.Time
}

// Use is how much of q the user whose store state is st has used at now.
func (q Quota) Use(st QuotaState, now time.Time) QuotaUse {
	use := QuotaUse{Open: st.Open + len(Holding(st.Held, now))}
	if q.Daily > 0 {
		recent := q.Recent(st.Creates, now)
		use.Daily = len(recent)
		if len(recent) >= q.Daily {
			use.DailyFreeAt = recent[len(recent)-q.Daily].Add(q.window())
		}
	}
	return use
}

func (q Quota) window() time.Duration {
	if q.Window > 0 {
		return q.Window
	}
	return 24 * time.Hour
}

// Recent is the creates still in the window, oldest first, at most Daily
// of them: all a store must keep.
func (q Quota) Recent(creates []time.Time, now time.Time) []time.Time {
	cut := 0
	for cut < len(creates) && !creates[cut].After(now.Add(-q.window())) {
		cut++
	}
	recent := creates[cut:]
	if len(recent) > q.Daily {
		recent = recent[len(recent)-q.Daily:]
	}
	return recent
}

// Holding is the slots of held still taken at now: the times after it. A
// store keeps only these (and may drop the rest at any write).
func Holding(held []time.Time, now time.Time) []time.Time {
	var out []time.Time
	for _, t := range held {
		if t.After(now) {
			out = append(out, t)
		}
	}
	return out
}
