package suno

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/songqueue/songqueue/internal/generation"
)

// The callbackType values of a generation callback.
const (
	CallbackText     = "text"     // lyrics and titles are ready
	CallbackFirst    = "first"    // the first track can be streamed
	CallbackComplete = "complete" // every track is ready
	CallbackError    = "error"    // the task failed
)

// Callback is one POST Suno makes to callBackUrl while a task progresses:
//
//	{"code":200,"msg":"All generated successfully.",
//	 "data":{"callbackType":"complete","task_id":"…",
//	         "data":[{"id":"…","audio_url":"…","stream_audio_url":"…",
//	                  "image_url":"…","title":"…","duration":198.44,
//	                  "createTime":"2025-01-01 00:00:00"}]}}
//
// Source: https://docs.sunoapi.org/suno-api/generate-music-callbacks.
type Callback struct {
	Type   string // CallbackText, CallbackFirst, CallbackComplete or CallbackError
	TaskID string
	Code   int
	Msg    string
	Tracks []generation.Track
}

// wireCallback is the callback body. task_id is the documented name; taskId
// is accepted too because other sunoapi.org callbacks use it.
type wireCallback struct {
	// Code is any JSON number with an integral value (JSON and JSON
	// Schema make no difference between 200 and 200.0).
	Code json.RawMessage `json:"code"`
	Msg  string          `json:"msg"`
	Data *struct {
		CallbackType string      `json:"callbackType"`
		TaskID       string      `json:"task_id"`
		TaskIDCamel  string      `json:"taskId"`
		Data         []wireTrack `json:"data"`
		// Error is a detail some failure callbacks carry next to msg.
		Error string `json:"error"`
	} `json:"data"`
}

// ParseCallback decodes and validates a callback body: it must be JSON with
// a code, a task id and a known callbackType.
func ParseCallback(body []byte) (Callback, error) {
	var w wireCallback
	if err := json.Unmarshal(body, &w); err != nil {
		return Callback{}, fmt.Errorf("suno callback: not valid JSON: %w", err)
	}
	if len(w.Code) == 0 || string(w.Code) == "null" {
		return Callback{}, errors.New(`suno callback: missing "code"`)
	}
	code, ok := integral(w.Code)
	if !ok {
		return Callback{}, fmt.Errorf(`suno callback: not valid JSON: "code" %s is not a whole number`, w.Code)
	}
	if w.Data == nil {
		return Callback{}, errors.New(`suno callback: missing "data"`)
	}
	cb := Callback{
		Type:   strings.ToLower(strings.TrimSpace(w.Data.CallbackType)),
		TaskID: strings.TrimSpace(firstNonEmpty(w.Data.TaskID, w.Data.TaskIDCamel)),
		Code:   code,
		Msg:    w.Msg,
		Tracks: tracksOf(w.Data.Data),
	}
	if cb.TaskID == "" {
		return Callback{}, errors.New(`suno callback: missing "data.task_id"`)
	}
	switch cb.Type {
	case CallbackText, CallbackFirst, CallbackComplete, CallbackError:
	case "":
		return Callback{}, fmt.Errorf(`suno callback for task %s: missing "data.callbackType"`, cb.TaskID)
	default:
		return Callback{}, fmt.Errorf("suno callback for task %s: unknown callbackType %q (want text, first, complete or error)", cb.TaskID, w.Data.CallbackType)
	}
	if d := strings.TrimSpace(w.Data.Error); d != "" && d != cb.Msg {
		if cb.Msg == "" {
			cb.Msg = d
		} else {
			cb.Msg += ": " + d
		}
	}
	return cb, nil
}

// Failure returns nil for a successful stage. For an error callback, or any
// callback whose code is not 200 (older docs show failed "complete"
// callbacks with code 501), it returns a *generation.Failure classified by
// code: 400 (copyrighted lyrics) and 413 (matches an existing work) are
// permanent content_refused, other 4xx permanent; 408 is a transient
// suno_timeout, 501 and 531 a transient audio_failed (the task's own
// failure, not Suno-wide), 500 and others transient; 405/430 are rate
// limits. Only codes that are Suno-wide wherever they appear (455
// maintenance, 429 credits, 401/403 key) make it generation.Unavailable.
// A message about sensitive words is a permanent content_refused whatever
// the code, matching SENSITIVE_WORD_ERROR in record-info.
//
// Reason is a plain sentence; the task id, code and Suno's message are in
// Detail, for the log.
func (c Callback) Failure() *generation.Failure {
	if c.Type != CallbackError && (c.Code == CodeOK || c.Code == 0) {
		return nil
	}
	v := sunoError
	if c.Code != CodeOK && c.Code != 0 {
		v = callbackCodeVerdict(c.Code)
	}
	sensitive := strings.Contains(strings.ToLower(c.Msg), "sensitive")
	if sensitive {
		v = refused
	}
	reason := v.message()
	if v.code == generation.CodeContentRefused {
		reason = refusalMessage(c.Msg)
		if !sensitive && c.Code == CodeTooLong {
			reason = refusalMessage("matches an existing work")
		}
	}
	msg := c.Msg
	if msg == "" {
		msg = "no message"
	}
	return &generation.Failure{
		Kind:   v.kind,
		Code:   v.code,
		Outage: v.outage,
		Reason: reason,
		Detail: fmt.Sprintf("Suno reported a failure for task %s (code %d): %s", c.TaskID, c.Code, msg),
	}
}

// Report is what the callback says about its task, in the project's terms:
// a failure, the first track streamable, every track done, or (lyrics
// ready) nothing a listener would notice yet.
func (c Callback) Report() generation.TaskReport {
	r := generation.TaskReport{TaskID: c.TaskID, Tracks: c.Tracks}
	switch f := c.Failure(); {
	case f != nil:
		r.Stage, r.Failure = generation.TaskFailed, f
	case c.Type == CallbackFirst:
		r.Stage = generation.TaskFirstReady
	case c.Type == CallbackComplete:
		r.Stage = generation.TaskDone
	default:
		r.Stage = generation.TaskRunning
	}
	return r
}

// integral reads a JSON number as an int: 200, 200.0 and 2e2 alike; a
// fraction, or a number beyond int64, is not one.
func integral(raw json.RawMessage) (int, bool) {
	var n json.Number
	if raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return 0, false
	}
	if i, err := n.Int64(); err == nil {
		return int(i), true
	}
	r, ok := new(big.Rat).SetString(string(n))
	if !ok || !r.IsInt() || !r.Num().IsInt64() {
		return 0, false
	}
	return int(r.Num().Int64()), true
}
