package sunofake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/songqueue/songqueue/internal/suno"
)

// Mode is a trouble mode: how every API call (submit, record-info, credit)
// is answered while it is on. The media routes and the control routes are
// never affected.
type Mode string

// The trouble modes. Where a mode answers with a Suno body, it is the one
// sunoapi.org documents for the condition.
const (
	// ModeOK: no trouble.
	ModeOK Mode = "ok"
	// ModeSlow: every call is answered normally, but only after the slow
	// delay (Config.SlowDelay, SetSlowDelay), so that client timeouts fire.
	ModeSlow Mode = "slow"
	// ModeCredits: submissions are answered HTTP 200 with body code 429
	// "insufficient credits"; record-info works; the credit endpoint
	// answers 0.
	ModeCredits Mode = "credits"
	// ModeMaintenance: HTTP 200 with body {"code":455,"msg":"system
	// maintenance","data":null}.
	ModeMaintenance Mode = "maintenance"
	// ModeKeyRefused: HTTP 401 with body code 401 "invalid API key".
	ModeKeyRefused Mode = "key_refused"
	// ModeHTTP503: HTTP 503 with an HTML body, as a load balancer in front
	// of the service answers.
	ModeHTTP503 Mode = "http_503"
	// ModeDrop: the connection is closed without any answer; the client
	// sees EOF or a reset.
	ModeDrop Mode = "drop"
)

// modes lists the modes by increasing severity. When the whole service and
// one key are both in trouble, the more severe mode is the one a call of
// that key meets: what stands in front (a dropped connection, a load
// balancer's 503) hides what is behind it (the key check, maintenance,
// the account's credits).
var modes = []Mode{ModeOK, ModeSlow, ModeCredits, ModeMaintenance, ModeKeyRefused, ModeHTTP503, ModeDrop}

func severity(m Mode) int {
	for i, x := range modes {
		if x == m {
			return i
		}
	}
	return -1
}

// ParseMode reads a mode's name ("maintenance", "http_503"…); a dash may
// stand for the underscore and case does not matter.
func ParseMode(s string) (Mode, error) {
	m := Mode(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_"))
	if severity(m) < 0 {
		names := make([]string, len(modes))
		for i, x := range modes {
			names[i] = string(x)
		}
		return "", fmt.Errorf("sunofake: unknown trouble mode %q (want one of %s)", s, strings.Join(names, ", "))
	}
	return m, nil
}

// ParseTrouble reads "mode" or "mode:duration" (for example
// "maintenance:30s"): the mode and how long it lasts, 0 meaning until it is
// changed.
func ParseTrouble(spec string) (Mode, time.Duration, error) {
	name, dur, timed := strings.Cut(spec, ":")
	m, err := ParseMode(name)
	if err != nil {
		return "", 0, err
	}
	if !timed {
		return m, 0, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(dur))
	if err != nil || d < 0 {
		return "", 0, fmt.Errorf("sunofake: trouble %q: %q is not a duration such as 30s", spec, dur)
	}
	return m, d, nil
}

// trouble is a mode in force, until a time or (zero until) until changed.
type trouble struct {
	mode  Mode
	until time.Time
}

// at returns the mode in force at now.
func (t trouble) at(now time.Time) Mode {
	if t.mode == "" || (!t.until.IsZero() && !now.Before(t.until)) {
		return ModeOK
	}
	return t.mode
}

func (t trouble) state(now time.Time) TroubleState {
	ts := TroubleState{Mode: t.at(now)}
	if ts.Mode != ModeOK && !t.until.IsZero() {
		u := t.until
		ts.Until = &u
	}
	return ts
}

// SetTrouble puts the fake in mode: for every key when key is "", or for
// the calls that carry that key. With d > 0 the mode reverts to ModeOK by
// itself after d; with d == 0 it lasts until changed. ModeOK for key ""
// ends every trouble, the whole service's and each key's; for one key it
// ends only that key's. A key the fake does not accept (Config.APIKey,
// APIKeys) is an error; without a key check any key may be named.
func (s *Server) SetTrouble(key string, mode Mode, d time.Duration) error {
	if severity(mode) < 0 {
		_, err := ParseMode(string(mode))
		return err
	}
	if d < 0 {
		return errors.New("sunofake: negative trouble duration")
	}
	t := trouble{mode: mode}
	if d > 0 && mode != ModeOK {
		t.until = time.Now().Add(d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == "" {
		s.trouble = t
		if mode == ModeOK {
			for _, a := range s.accounts {
				a.trouble = trouble{}
			}
		}
	} else {
		a := s.account(key)
		if a == nil {
			return errUnknownKey
		}
		a.trouble = t
	}
	s.log.Info("fake suno: trouble", "mode", mode, "for", d, "key", maskKey(key))
	return nil
}

// Trouble returns the mode a call carrying key meets now: the more severe
// of the whole service's and the key's own (key "" is also the account of
// calls without a key when there is no key check).
func (s *Server) Trouble(key string) Mode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.troubleAt(key, time.Now())
}

// troubleAt is Trouble with s.mu held.
func (s *Server) troubleAt(key string, now time.Time) Mode {
	m := s.trouble.at(now)
	if a := s.accounts[key]; a != nil {
		if k := a.trouble.at(now); severity(k) > severity(m) {
			m = k
		}
	}
	return m
}

// SetSlowDelay sets how long ModeSlow holds each call; d <= 0 restores
// Config.SlowDelay (or DefaultSlowDelay).
func (s *Server) SetSlowDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		d = s.cfg.SlowDelay
	}
	s.slowDelay = d
}

// TroubleRequests returns how many API calls arrived while mode was in
// force for them.
func (s *Server) TroubleRequests(mode Mode) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.troubleCount[mode]
}

// call is one API request as the trouble and account layers see it.
type call struct {
	key      string    // the Bearer token presented, "" if none
	at       time.Time // arrival, as the rate window counts it
	noCredit bool      // ModeCredits is on: the credit endpoint answers 0
	accepted bool      // the submission became a task
}

// api wraps an API handler in the trouble modes. Submissions are counted
// (Submissions) and, when they do not become a task, counted as refused
// for their key.
func (s *Server) api(submission bool, h func(http.ResponseWriter, *http.Request, *call)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, _ := bearer(r)
		c := &call{key: key, at: time.Now()}
		// countRefused runs before the handler returns, and so before
		// the answer, buffered until then, reaches the client.
		counted := false
		countRefused := func() {
			if !submission || c.accepted || counted {
				return
			}
			counted = true
			s.mu.Lock()
			if a := s.account(c.key); a != nil {
				a.refused++
			}
			s.mu.Unlock()
		}
		defer countRefused()
		if submission {
			s.mu.Lock()
			s.submissions++
			s.mu.Unlock()
		}

		s.mu.Lock()
		mode := s.troubleAt(c.key, c.at)
		if mode != ModeOK {
			s.troubleCount[mode]++
		}
		delay := s.slowDelay
		s.mu.Unlock()

		switch mode {
		case ModeDrop:
			s.log.Info("fake suno: trouble: dropping the connection", "path", r.URL.Path)
			countRefused() // before the client can see the connection close
			drop(w)
			return
		case ModeHTTP503:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n"+
				"<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n")
			return
		case ModeKeyRefused:
			writeError(w, http.StatusUnauthorized, suno.CodeUnauthorized, "invalid API key")
			return
		case ModeMaintenance:
			writeError(w, http.StatusOK, suno.CodeMaintenance, "system maintenance")
			return
		case ModeCredits:
			if submission {
				s.mu.Lock()
				if a := s.account(c.key); a != nil {
					a.noCredits++
				}
				s.mu.Unlock()
				writeError(w, http.StatusOK, suno.CodeInsufficientCredit, "insufficient credits")
				return
			}
			c.noCredit = true
		case ModeSlow:
			// Read the body first: the server notices a client that
			// gives up only once the body has been consumed.
			body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if !s.hold(r.Context(), delay) {
				return // the client gave up; there is no one to answer
			}
		}
		h(w, r, c)
	}
}

// hold waits d, and reports false if the request ended first. Close cuts
// the wait short, and the call is then answered as it would be.
func (s *Server) hold(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-s.ctx.Done():
	case <-ctx.Done():
		return false
	}
	return true
}

// drop closes the connection without answering. A ResponseWriter that
// cannot be hijacked (HTTP/2, a recorder) gets the handler aborted
// instead, which closes the connection or resets the stream.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// maskKey shortens a key for the logs.
func maskKey(k string) string {
	if k == "" {
		return ""
	}
	if len(k) <= 4 {
		return "…"
	}
	return k[:4] + "…"
}
