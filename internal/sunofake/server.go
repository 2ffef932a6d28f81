// Package sunofake is a fake of the sunoapi.org v1 API for tests and the
// local stack. It speaks the same contract as the real service (see package
// suno): tasks progress PENDING → TEXT_SUCCESS → FIRST_SUCCESS → SUCCESS on
// a configurable schedule, callbacks are posted at each stage, and prompt
// directives ([fake:…], see Directives) inject failures for one task.
package sunofake

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/songqueue/songqueue/internal/suno"

	"github.com/songqueue/songqueue/internal/generation"
)

// Config tunes a fake server. The zero value is usable: no key check, every
// stage reached at once, no random failures.
type Config struct {
	// APIKey, when set, must come as "Authorization: Bearer <APIKey>".
	APIKey string
	// TextDelay, FirstDelay and CompleteDelay are the times from submission
	// to TEXT_SUCCESS, FIRST_SUCCESS and SUCCESS. Each is raised to at least
	// the one before it.
	TextDelay, FirstDelay, CompleteDelay time.Duration
	// FailRate is the probability (0..1) that an otherwise valid submission
	// fails with a transient server error.
	FailRate float64
	// CallbackTimeout bounds one callback POST; 0 means 15 s, the timeout
	// sunoapi.org documents for its own callbacks.
	CallbackTimeout time.Duration
	// HTTPClient sends the callbacks; nil means a plain http.Client.
	HTTPClient *http.Client
	// Logger receives what the fake does; nil discards it.
	Logger *slog.Logger
}

// DefaultConfig returns delays that make a pleasant demo: lyrics after 2 s,
// a streamable first track after 5 s, everything after 10 s.
func DefaultConfig() Config {
	return Config{
		TextDelay:       2 * time.Second,
		FirstDelay:      5 * time.Second,
		CompleteDelay:   10 * time.Second,
		CallbackTimeout: 15 * time.Second,
		Logger:          slog.Default(),
	}
}

const (
	defaultCallbackTimeout = 15 * time.Second
	maxRequestBody         = 1 << 20
	tracksPerTask          = 2 // sunoapi.org: "each request returns exactly 2 songs"
)

// Server is the fake. It implements http.Handler; Close stops the callbacks
// it still has to send.
type Server struct {
	cfg      Config
	log      *slog.Logger
	hc       *http.Client
	mux      *http.ServeMux
	instance string // tells task ids of different runs apart

	// ctx is cancelled by Close and stops every callback goroutine,
	// including a POST in flight; wg counts those goroutines.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	closed      bool
	seq         int
	submissions int
	byPrompt    map[string]int
	tasks       map[string]*task
}

// New returns a fake configured by cfg.
func New(cfg Config) *Server {
	if cfg.CallbackTimeout <= 0 {
		cfg.CallbackTimeout = defaultCallbackTimeout
	}
	cfg.FirstDelay = max(cfg.FirstDelay, cfg.TextDelay)
	cfg.CompleteDelay = max(cfg.CompleteDelay, cfg.FirstDelay)
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		hc:       cfg.HTTPClient,
		byPrompt: make(map[string]int),
		tasks:    make(map[string]*task),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.hc == nil {
		s.hc = &http.Client{}
	}
	var b [2]byte
	crand.Read(b[:])
	s.instance = hex.EncodeToString(b[:])
	s.ctx, s.cancel = context.WithCancel(context.Background())

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /api/v1/generate", s.handleGenerate)
	s.mux.HandleFunc("GET /api/v1/generate/record-info", s.handleRecordInfo)
	s.mux.HandleFunc("GET /fake-audio/", s.handleAudio)
	s.mux.HandleFunc("GET /fake-image/", s.handleImage)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close stops every pending callback, cancels those in flight and waits for
// their goroutines to end. Later submissions are refused. It is safe to call
// more than once.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// Submissions returns how many submit calls the fake received, accepted or
// not.
func (s *Server) Submissions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.submissions
}

// SubmissionsFor returns how many submit calls carried exactly this prompt,
// accepted or not (requests refused before their body was read, such as
// unauthenticated ones, are not counted).
func (s *Server) SubmissionsFor(prompt string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byPrompt[prompt]
}

// Tasks returns how many tasks the fake accepted.
func (s *Server) Tasks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tasks)
}

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

func (s *Server) handleGenerate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.submissions++
	s.mu.Unlock()

	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, suno.CodeUnauthorized, "Unauthorized: missing or invalid API key")
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

func (t *task) errorInfo(status suno.TaskStatus) (code int, msg string) {
	switch status {
	case suno.StatusSensitiveWordError:
		return suno.CodeInvalidParams, "The prompt contains sensitive words (injected by [fake:sensitive])"
	case suno.StatusGenerateAudioFailed:
		return suno.CodeAudioFailed, "Audio generation failed (injected by [fake:audio-failed])"
	}
	return 0, ""
}

// fakeTrack is a track at some stage, before it is written in the record-info
// (camelCase) or callback (snake_case) spelling.
type fakeTrack struct {
	id, audio, stream, image string
	duration                 *float64
}

func (t *task) tracks(status suno.TaskStatus) []fakeTrack {
	if status == suno.StatusPending || status.Failed() {
		return nil
	}
	out := make([]fakeTrack, tracksPerTask)
	for i := range out {
		id := fmt.Sprintf("%s-%d", t.id, i+1)
		ft := fakeTrack{id: id}
		if status.FirstReady() {
			ft.stream = t.base + "/fake-audio/stream/" + id
			ft.image = t.base + "/fake-image/" + id + ".png"
		}
		if status.Done() {
			ft.audio = t.base + "/fake-audio/" + id + ".mp3"
			d := float64(audioSeconds)
			ft.duration = &d
		}
		out[i] = ft
	}
	return out
}

func (s *Server) handleRecordInfo(w http.ResponseWriter, r *http.Request) {
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

	type sunoData struct {
		ID             string   `json:"id"`
		AudioURL       string   `json:"audioUrl"`
		StreamAudioURL string   `json:"streamAudioUrl"`
		ImageURL       string   `json:"imageUrl"`
		Prompt         string   `json:"prompt"`
		ModelName      string   `json:"modelName"`
		Title          string   `json:"title"`
		Tags           string   `json:"tags"`
		CreateTime     string   `json:"createTime"`
		Duration       *float64 `json:"duration"`
	}
	status := t.status(time.Since(t.created))
	data := []sunoData{}
	for _, ft := range t.tracks(status) {
		data = append(data, sunoData{
			ID: ft.id, AudioURL: ft.audio, StreamAudioURL: ft.stream, ImageURL: ft.image,
			Prompt: t.req.Prompt, ModelName: modelName(t.req.Model), Title: t.title, Tags: t.req.Style,
			CreateTime: t.created.UTC().Format(time.DateTime), Duration: ft.duration,
		})
	}
	param, _ := json.Marshal(t.req)
	info := map[string]any{
		"taskId":        t.id,
		"parentMusicId": "",
		"param":         string(param),
		"response":      map[string]any{"taskId": t.id, "sunoData": data},
		"status":        status,
		"type":          "GENERATE",
		"errorCode":     nil,
		"errorMessage":  nil,
	}
	if code, msg := t.errorInfo(status); code != 0 {
		info["errorCode"], info["errorMessage"] = code, msg
	}
	writeJSON(w, http.StatusOK, suno.CodeOK, "success", info)
}

func modelName(model string) string { return "fake-" + strings.ToLower(model) }

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

// callbackBody builds the body sunoapi.org posts for a stage (see
// https://docs.sunoapi.org/suno-api/generate-music-callbacks).
func (t *task) callbackBody(status suno.TaskStatus) map[string]any {
	type trackData struct {
		ID             string   `json:"id"`
		AudioURL       string   `json:"audio_url"`
		StreamAudioURL string   `json:"stream_audio_url"`
		ImageURL       string   `json:"image_url"`
		Prompt         string   `json:"prompt"`
		ModelName      string   `json:"model_name"`
		Title          string   `json:"title"`
		Tags           string   `json:"tags"`
		CreateTime     string   `json:"createTime"`
		Duration       *float64 `json:"duration"`
	}
	if code, msg := t.errorInfo(status); code != 0 {
		return map[string]any{
			"code": code,
			"msg":  msg,
			"data": map[string]any{"callbackType": suno.CallbackError, "task_id": t.id, "data": nil},
		}
	}
	var typ, msg string
	switch status {
	case suno.StatusTextSuccess:
		typ, msg = suno.CallbackText, "Text generation completed successfully."
	case suno.StatusFirstSuccess:
		typ, msg = suno.CallbackFirst, "First audio generated successfully."
	default:
		typ, msg = suno.CallbackComplete, "All generated successfully."
	}
	data := []trackData{}
	for _, ft := range t.tracks(status) {
		data = append(data, trackData{
			ID: ft.id, AudioURL: ft.audio, StreamAudioURL: ft.stream, ImageURL: ft.image,
			Prompt: t.req.Prompt, ModelName: modelName(t.req.Model), Title: t.title, Tags: t.req.Style,
			CreateTime: t.created.UTC().Format(time.DateTime), Duration: ft.duration,
		})
	}
	return map[string]any{
		"code": suno.CodeOK,
		"msg":  msg,
		"data": map[string]any{"callbackType": typ, "task_id": t.id, "data": data},
	}
}

func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.APIKey == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.APIKey)) == 1
}

func writeError(w http.ResponseWriter, httpStatus, code int, msg string) {
	writeJSON(w, httpStatus, code, msg, nil)
}

func writeJSON(w http.ResponseWriter, httpStatus, code int, msg string, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "msg": msg, "data": data})
}
