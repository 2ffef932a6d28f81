package sunofake

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/songqueue/songqueue/internal/suno"

	"github.com/songqueue/songqueue/internal/generation"
)

type outcome int

const (
	succeed outcome = iota
	audioFailed
	sensitive
)

// task is one accepted generation. It never changes once created: its status
// is a function of the time elapsed since created.
type task struct {
	id       string
	req      suno.GenerateRequest
	title    string
	base     string // scheme://host the URLs point to
	created  time.Time
	outcome  outcome
	callback bool
	// offsets from created
	textAt, firstAt, doneAt time.Duration
}

func (s *Server) newTask(r *http.Request, req suno.GenerateRequest, d Directives) *task {
	if req.Model == "" {
		req.Model = generation.DefaultModel
	}
	t := &task{
		req:      req,
		title:    fakeTitle(req),
		base:     baseURL(r),
		created:  time.Now(),
		callback: req.CallBackURL != "" && !d.NoCallback,
		textAt:   s.cfg.TextDelay,
		firstAt:  s.cfg.FirstDelay,
		doneAt:   s.cfg.CompleteDelay,
	}
	if d.Slow > 0 {
		if t.doneAt > 0 {
			t.textAt = scale(t.textAt, d.Slow, t.doneAt)
			t.firstAt = scale(t.firstAt, d.Slow, t.doneAt)
		} else {
			t.textAt, t.firstAt = d.Slow/5, d.Slow/2
		}
		t.doneAt = d.Slow
	}
	if d.MediaBase != "" {
		t.base = d.MediaBase
	}
	switch {
	case d.Sensitive:
		t.outcome = sensitive
	case d.AudioFailed:
		t.outcome = audioFailed
	}
	return t
}

// scale returns x * to / from.
func scale(x, to, from time.Duration) time.Duration {
	return time.Duration(float64(x) * float64(to) / float64(from))
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func fakeTitle(req suno.GenerateRequest) string {
	if req.Title != "" {
		return req.Title
	}
	words := strings.Fields(stripDirectives(req.Prompt))
	if len(words) > 5 {
		words = words[:5]
	}
	if len(words) == 0 {
		return "Untitled"
	}
	title := strings.Join(words, " ")
	if r := []rune(title); len(r) > 40 {
		title = string(r[:40])
	}
	return title
}

// status returns the task's status after elapsed time.
func (t *task) status(elapsed time.Duration) suno.TaskStatus {
	switch t.outcome {
	case sensitive:
		if elapsed < t.textAt {
			return suno.StatusPending
		}
		return suno.StatusSensitiveWordError
	case audioFailed:
		switch {
		case elapsed < t.textAt:
			return suno.StatusPending
		case elapsed < t.firstAt:
			return suno.StatusTextSuccess
		}
		return suno.StatusGenerateAudioFailed
	}
	switch {
	case elapsed < t.textAt:
		return suno.StatusPending
	case elapsed < t.firstAt:
		return suno.StatusTextSuccess
	case elapsed < t.doneAt:
		return suno.StatusFirstSuccess
	}
	return suno.StatusSuccess
}

// stage is one callback of a task's schedule.
type stage struct {
	at     time.Duration
	status suno.TaskStatus // the status the task has from then on
}

func (t *task) stages() []stage {
	switch t.outcome {
	case sensitive:
		return []stage{{t.textAt, suno.StatusSensitiveWordError}}
	case audioFailed:
		return []stage{{t.textAt, suno.StatusTextSuccess}, {t.firstAt, suno.StatusGenerateAudioFailed}}
	}
	return []stage{{t.textAt, suno.StatusTextSuccess}, {t.firstAt, suno.StatusFirstSuccess}, {t.doneAt, suno.StatusSuccess}}
}

// deliver posts the task's callbacks one after the other, in stage order,
// until they are all sent or the server closes. One goroutine per task keeps
// them ordered even when the stages are microseconds apart.
func (s *Server) deliver(t *task) {
	defer s.wg.Done()
	for _, st := range t.stages() {
		if wait := time.Until(t.created.Add(st.at)); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
			case <-s.ctx.Done():
				timer.Stop()
				return
			}
		}
		if s.ctx.Err() != nil {
			return
		}
		s.post(t, st.status)
		if s.cfg.DuplicateCallbacks {
			s.post(t, st.status)
		}
	}
}

// post sends one callback. A failure is logged and not retried, as polling
// record-info covers a lost callback.
func (s *Server) post(t *task, status suno.TaskStatus) {
	body, err := json.Marshal(t.callbackBody(status))
	if err != nil {
		s.log.Error("fake suno: encode callback", "task_id", t.id, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.CallbackTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.req.CallBackURL, bytes.NewReader(body))
	if err != nil {
		s.log.Warn("fake suno: bad callback URL", "task_id", t.id, "url", t.req.CallBackURL, "err", err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Warn("fake suno: callback failed", "task_id", t.id, "status", status, "err", err)
		}
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxRequestBody))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		s.log.Warn("fake suno: callback refused", "task_id", t.id, "status", status, "http_status", resp.StatusCode)
		return
	}
	s.log.Info("fake suno: callback sent", "task_id", t.id, "status", status)
}
