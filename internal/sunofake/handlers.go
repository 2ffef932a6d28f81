package sunofake

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/songqueue/songqueue/internal/suno"

	"github.com/songqueue/songqueue/internal/generation"
)

// handleGenerate answers a submission that no trouble mode stopped (see
// api, which also counts it).
func (s *Server) handleGenerate(w http.ResponseWriter, r *http.Request, c *call) {
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, suno.CodeUnauthorized, "Unauthorized: missing or invalid API key")
		return
	}
	if !s.admit(c) {
		s.log.Info("fake suno: rate window full", "key", maskKey(c.key), "limit", s.cfg.RateLimit, "window", s.cfg.RateWindow)
		writeError(w, http.StatusOK, suno.CodeTooFrequent, "call frequency too high")
		return
	}
	var req suno.GenerateRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody)).Decode(&req); err != nil {
		writeError(w, http.StatusOK, suno.CodeInvalidParams, "Invalid parameters: body is not valid JSON: "+err.Error())
		return
	}
	d := ParseDirectives(req.Prompt)

	s.mu.Lock()
	s.byPrompt[req.Prompt]++
	n := s.byPrompt[req.Prompt]
	s.mu.Unlock()

	// Errors are reported the way sunoapi.org does: HTTP 200 with the code
	// in the body, so that the client's "check the body's code" path is
	// what every injected failure exercises.
	switch {
	case n <= d.RateLimit:
		s.mu.Lock()
		s.limited[req.Prompt]++
		s.mu.Unlock()
		s.log.Info("fake suno: rate limiting submission", "prompt_submission", n)
		writeError(w, http.StatusOK, suno.CodeTooFrequent, "Your call frequency is too high. Please try again later.")
		return
	case n <= d.RateLimit+d.Fail:
		s.log.Info("fake suno: failing submission", "prompt_submission", n)
		writeError(w, http.StatusOK, suno.CodeServerError, "Server error (injected by [fake:fail])")
		return
	}
	if msg := validate(req); msg != "" {
		code := suno.CodeInvalidParams
		if strings.Contains(msg, "too long") {
			code = suno.CodeTooLong
		}
		writeError(w, http.StatusOK, code, msg)
		return
	}
	if s.cfg.FailRate > 0 && rand.Float64() < s.cfg.FailRate {
		writeError(w, http.StatusOK, suno.CodeServerError, "Server error (injected by FailRate)")
		return
	}

	t := s.newTask(r, req, d)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, 503, "fake Suno is shutting down")
		return
	}
	// The balance is checked and spent here, with the task registered
	// under the same lock, so concurrent submissions cannot overspend.
	a := s.account(c.key)
	if a != nil && a.balance != Unlimited {
		if a.balance < s.cfg.CreditsPerSubmission {
			a.noCredits++
			s.mu.Unlock()
			s.log.Info("fake suno: insufficient credits", "key", maskKey(c.key), "balance", a.balance)
			writeError(w, http.StatusOK, suno.CodeInsufficientCredit, "insufficient credits")
			return
		}
		a.balance -= s.cfg.CreditsPerSubmission
	}
	if a != nil {
		a.accepted++
		a.acceptedAt = append(a.acceptedAt, c.at)
	}
	c.accepted = true
	s.seq++
	t.id = fmt.Sprintf("fake-%s-%06d", s.instance, s.seq)
	s.tasks[t.id] = t
	if t.callback {
		s.wg.Add(1)
		go s.deliver(t)
	}
	s.mu.Unlock()

	s.log.Info("fake suno: task accepted", "task_id", t.id, "model", t.req.Model,
		"complete_in", t.doneAt, "callback", t.callback)
	writeJSON(w, http.StatusOK, suno.CodeOK, "success", map[string]string{"taskId": t.id})
}

// validate applies the documented rules of POST /api/v1/generate and
// returns what is wrong, or "".
func validate(req suno.GenerateRequest) string {
	model := req.Model
	if model == "" {
		model = generation.DefaultModel
	}
	limits, ok := generation.ModelLimits(model, req.CustomMode)
	if !ok {
		return fmt.Sprintf("Invalid parameters: unknown model %q (want one of %s)", req.Model, strings.Join(generation.Models, ", "))
	}
	if req.CustomMode {
		if req.Style == "" || req.Title == "" {
			return "Invalid parameters: style and title are required in custom mode"
		}
		if !req.Instrumental && req.Prompt == "" {
			return "Invalid parameters: prompt (the lyrics) is required in custom mode unless instrumental"
		}
	} else if strings.TrimSpace(req.Prompt) == "" {
		return "Invalid parameters: prompt is required"
	}
	for _, f := range []struct {
		name  string
		value string
		limit int
	}{{"prompt", req.Prompt, limits.Prompt}, {"style", req.Style, limits.Style}, {"title", req.Title, limits.Title}} {
		if f.limit > 0 && utf8.RuneCountInString(f.value) > f.limit {
			return fmt.Sprintf("Theme or prompt too long: %s has %d characters, the limit for %s is %d",
				f.name, utf8.RuneCountInString(f.value), model, f.limit)
		}
	}
	return ""
}

func (s *Server) handleRecordInfo(w http.ResponseWriter, r *http.Request, _ *call) {
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, suno.CodeUnauthorized, "Unauthorized: missing or invalid API key")
		return
	}
	id := r.URL.Query().Get("taskId")
	if id == "" {
		writeError(w, http.StatusOK, suno.CodeInvalidParams, "Invalid parameters: taskId is required")
		return
	}
	s.mu.Lock()
	t := s.tasks[id]
	s.mu.Unlock()
	if t == nil {
		// The docs do not say how an unknown id is answered; 400 (permanent)
		// fits: asking again will not make it known.
		writeError(w, http.StatusOK, suno.CodeInvalidParams, "Invalid parameters: task "+id+" not found")
		return
	}

	status := t.status(time.Since(t.created))
	writeJSON(w, http.StatusOK, suno.CodeOK, "success", t.recordInfo(status))
}

// handleCredit answers GET /api/v1/generate/credit as sunoapi.org does:
// data is the key's balance, an integer (UnlimitedShown when unlimited, 0
// in ModeCredits).
func (s *Server) handleCredit(w http.ResponseWriter, r *http.Request, c *call) {
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, suno.CodeUnauthorized, "Unauthorized: missing or invalid API key")
		return
	}
	n := 0
	if !c.noCredit {
		s.mu.Lock()
		if a := s.account(c.key); a != nil {
			n = a.balance
		}
		s.mu.Unlock()
		if n == Unlimited {
			n = UnlimitedShown
		}
	}
	writeJSON(w, http.StatusOK, suno.CodeOK, "success", n)
}
