package sunofake

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Each API key is an account: its credit balance, its rate window, its own
// trouble and its counters. With a key check (Config.APIKey, APIKeys) the
// accounts are the accepted keys; without one, every key presented is an
// account of its own, made on first sight, and calls without a key share
// the account "".

const (
	// Unlimited is the balance of an account whose credits never run out
	// (Credits, SetCredits).
	Unlimited = -1
	// UnlimitedShown is what the credit endpoint answers for an unlimited
	// account: the real service always answers a number.
	UnlimitedShown = 1_000_000
	// DefaultCreditsPerSubmission is what an accepted submission costs
	// when Config.CreditsPerSubmission is 0.
	DefaultCreditsPerSubmission = 1
	// DefaultRateLimit and DefaultRateWindow are sunoapi.org's stated
	// limit: 20 submissions in any 10 s. The fake applies a window only
	// when Config.RateLimit is set; DefaultRateWindow is the window when
	// Config.RateWindow is 0.
	DefaultRateLimit  = 20
	DefaultRateWindow = 10 * time.Second
	// DefaultSlowDelay is how long ModeSlow holds a call when
	// Config.SlowDelay is 0: past the 15 s the project's client allows.
	DefaultSlowDelay = 30 * time.Second
)

var errUnknownKey = errors.New("sunofake: the fake does not accept this API key")

type account struct {
	balance int // credits left, or Unlimited
	trouble trouble
	// window holds the admission times still inside the rate window.
	window []time.Time
	// counters
	accepted, refused, tooFrequent, noCredits int
	acceptedAt                                []time.Time
}

// account returns key's account, making it when there is no key check; nil
// for a key the fake does not accept. s.mu must be held.
func (s *Server) account(key string) *account {
	if a := s.accounts[key]; a != nil {
		return a
	}
	if len(s.keys) > 0 {
		return nil
	}
	a := &account{balance: s.startBalance}
	s.accounts[key] = a
	return a
}

// bearer returns the token of "Authorization: Bearer <token>", and whether
// there was one.
func bearer(r *http.Request) (string, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", false // including "Bearer " with no key, which arrives trimmed
	}
	return token, true
}

// authorized reports whether the call may use the API: always without a
// key check, otherwise when it carries one of the accepted keys.
func (s *Server) authorized(r *http.Request) bool {
	if len(s.keys) == 0 {
		return true
	}
	got, ok := bearer(r)
	if !ok {
		return false
	}
	match := 0
	for _, k := range s.keys {
		match |= subtle.ConstantTimeCompare([]byte(got), []byte(k))
	}
	return match == 1
}

// admit applies key's rate window to a submission arriving now and reports
// whether it may go on; a refusal is counted. s.mu must not be held.
func (s *Server) admit(c *call) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Taken under the lock, so that admissions are in time order.
	c.at = time.Now()
	if s.cfg.RateLimit <= 0 {
		return true
	}
	a := s.account(c.key)
	if a == nil {
		return true
	}
	cut := c.at.Add(-s.cfg.RateWindow)
	i := 0
	for i < len(a.window) && !a.window[i].After(cut) {
		i++
	}
	a.window = append(a.window[:0], a.window[i:]...)
	if len(a.window) >= s.cfg.RateLimit {
		a.tooFrequent++
		return false
	}
	a.window = append(a.window, c.at)
	return true
}

// Credits returns key's balance, or Unlimited. A key the fake does not
// accept has 0; without a key check, a key not seen yet has what a new
// account starts with.
func (s *Server) Credits(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[key]; a != nil {
		return a.balance
	}
	if len(s.keys) > 0 {
		return 0
	}
	return s.startBalance
}

// SetCredits sets key's balance to n (n < 0: Unlimited). Key "" sets every
// account's, and the balance accounts made later start with. A key the
// fake does not accept is an error.
func (s *Server) SetCredits(key string, n int) error {
	n = max(n, Unlimited)
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == "" {
		s.startBalance = n
		for _, a := range s.accounts {
			a.balance = n
		}
	} else {
		a := s.account(key)
		if a == nil {
			return errUnknownKey
		}
		a.balance = n
	}
	s.log.Info("fake suno: credits set", "key", maskKey(key), "credits", n)
	return nil
}

// AddCredits tops key's balance up by n (or takes n away, never below 0)
// and returns the new balance; an unlimited account stays unlimited. Key
// "" tops up every account and the balance accounts made later start
// with, and returns the new balance of the account "" (calls without a
// key) if there is one, else the new starting balance.
func (s *Server) AddCredits(key string, n int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	add := func(b int) int {
		if b == Unlimited {
			return b
		}
		return max(b+n, 0)
	}
	if key == "" {
		s.startBalance = add(s.startBalance)
		for _, a := range s.accounts {
			a.balance = add(a.balance)
		}
		s.log.Info("fake suno: credits added", "credits", n)
		if a := s.accounts[""]; a != nil {
			return a.balance, nil
		}
		return s.startBalance, nil
	}
	a := s.account(key)
	if a == nil {
		return 0, errUnknownKey
	}
	a.balance = add(a.balance)
	s.log.Info("fake suno: credits added", "key", maskKey(key), "credits", n, "balance", a.balance)
	return a.balance, nil
}

// read returns f of key's account, or the zero value when it has none.
func read[T any](s *Server, key string, f func(*account) T) T {
	s.mu.Lock()
	defer s.mu.Unlock()
	var zero T
	if a := s.accounts[key]; a != nil {
		return f(a)
	}
	return zero
}

// Accepted returns how many of key's submissions became tasks.
func (s *Server) Accepted(key string) int {
	return read(s, key, func(a *account) int { return a.accepted })
}

// Refused returns how many of key's submissions did not become a task,
// whatever the reason: trouble, the rate window, credits, a directive, a
// bad request. Calls with a key the fake does not accept are not counted
// (see Submissions).
func (s *Server) Refused(key string) int {
	return read(s, key, func(a *account) int { return a.refused })
}

// TooFrequent returns how many of key's submissions the rate window
// (Config.RateLimit) refused with code 430. Refusals asked for by the
// [fake:ratelimit] directive are counted by RateLimitedFor instead.
func (s *Server) TooFrequent(key string) int {
	return read(s, key, func(a *account) int { return a.tooFrequent })
}

// InsufficientCredits returns how many of key's submissions were refused
// with code 429, for want of credits or by ModeCredits.
func (s *Server) InsufficientCredits(key string) int {
	return read(s, key, func(a *account) int { return a.noCredits })
}

// AcceptedAt returns when each of key's accepted submissions arrived, in
// order, as the rate window counted them.
func (s *Server) AcceptedAt(key string) []time.Time {
	return read(s, key, func(a *account) []time.Time { return slices.Clone(a.acceptedAt) })
}

// FullestWindow returns the most accepted submissions of key that arrived
// within any span of length w (more exactly, in a half-open interval
// (t-w, t]): what a client that keeps to "n per w" must hold at n or
// below.
func (s *Server) FullestWindow(key string, w time.Duration) int {
	return fullest(s.AcceptedAt(key), w)
}

func fullest(times []time.Time, w time.Duration) int {
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	best, i := 0, 0
	for j, t := range times {
		for i <= j && !times[i].After(t.Add(-w)) {
			i++
		}
		best = max(best, j-i+1)
	}
	return best
}

// State is a snapshot of the fake's trouble, accounts and counters, as
// GET /_fake/state shows it.
type State struct {
	// Trouble is the whole service's trouble; each key may have its own.
	Trouble TroubleState `json:"trouble"`
	// Keys are the accounts, by API key ("" for calls without a key when
	// there is no key check).
	Keys map[string]KeyState `json:"keys"`
	// TroubleRequests counts the API calls that arrived in each mode.
	TroubleRequests map[Mode]int `json:"troubleRequests"`
	// Submissions and Tasks are Submissions() and Tasks().
	Submissions int `json:"submissions"`
	Tasks       int `json:"tasks"`
	// The settings in force.
	CreditsPerSubmission int    `json:"creditsPerSubmission"`
	RateLimit            int    `json:"rateLimit"` // 0: no rate window
	RateWindow           string `json:"rateWindow"`
	SlowDelay            string `json:"slowDelay"`
}

// TroubleState is a mode in force and, if it ends by itself, when.
type TroubleState struct {
	Mode  Mode       `json:"mode"`
	Until *time.Time `json:"until,omitempty"`
}

// KeyState is one account.
type KeyState struct {
	// Trouble is the key's own; calls meet the more severe of it and
	// the whole service's (Effective).
	Trouble   TroubleState `json:"trouble"`
	Effective Mode         `json:"effective"`
	// Credits is the balance, Unlimited (-1) for no limit.
	Credits             int `json:"credits"`
	Accepted            int `json:"accepted"`
	Refused             int `json:"refused"`
	TooFrequent         int `json:"tooFrequent"`
	InsufficientCredits int `json:"insufficientCredits"`
	// InWindow is how many submissions the rate window holds now;
	// FullestWindow the most accepted submissions in any RateWindow (or
	// DefaultRateWindow) so far.
	InWindow      int `json:"inWindow"`
	FullestWindow int `json:"fullestWindow"`
	// AcceptedAt are the arrival times of the accepted submissions (the
	// route shows them with ?arrivals=1).
	AcceptedAt []time.Time `json:"acceptedAt,omitempty"`
}

// State returns a snapshot of the fake's trouble, accounts and counters.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	window := s.cfg.RateWindow
	st := State{
		Trouble:              s.trouble.state(now),
		Keys:                 make(map[string]KeyState, len(s.accounts)),
		TroubleRequests:      make(map[Mode]int, len(s.troubleCount)),
		Submissions:          s.submissions,
		Tasks:                len(s.tasks),
		CreditsPerSubmission: s.cfg.CreditsPerSubmission,
		RateLimit:            s.cfg.RateLimit,
		RateWindow:           window.String(),
		SlowDelay:            s.slowDelay.String(),
	}
	for m, n := range s.troubleCount {
		st.TroubleRequests[m] = n
	}
	for k, a := range s.accounts {
		in := 0
		for _, t := range a.window {
			if t.After(now.Add(-window)) {
				in++
			}
		}
		at := slices.Clone(a.acceptedAt)
		st.Keys[k] = KeyState{
			Trouble:             a.trouble.state(now),
			Effective:           s.troubleAt(k, now),
			Credits:             a.balance,
			Accepted:            a.accepted,
			Refused:             a.refused,
			TooFrequent:         a.tooFrequent,
			InsufficientCredits: a.noCredits,
			InWindow:            in,
			FullestWindow:       fullest(slices.Clone(at), window),
			AcceptedAt:          at,
		}
	}
	return st
}
