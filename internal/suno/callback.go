package suno

import (
	"encoding/json"
	"errors"
	"fmt"
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
	Code *int   `json:"code"`
	Msg  string `json:"msg"`
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
	if w.Code == nil {
		return Callback{}, errors.New(`suno callback: missing "code"`)
	}
	if w.Data == nil {
		return Callback{}, errors.New(`suno callback: missing "data"`)
	}
	cb := Callback{
		Type:   strings.ToLower(strings.TrimSpace(w.Data.CallbackType)),
		TaskID: strings.TrimSpace(firstNonEmpty(w.Data.TaskID, w.Data.TaskIDCamel)),
		Code:   *w.Code,
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
// code like APIError: 400 (copyrighted lyrics), 413 (matches an existing
// work) and other 4xx are permanent, 408 and 5xx transient. A message about
// sensitive words is permanent whatever the code, matching
// SENSITIVE_WORD_ERROR in record-info.
func (c Callback) Failure() *generation.Failure {
	if c.Type != CallbackError && (c.Code == CodeOK || c.Code == 0) {
		return nil
	}
	kind := generation.Transient
	if c.Code != CodeOK && c.Code != 0 {
		kind = classifyCode(c.Code)
	}
	if strings.Contains(strings.ToLower(c.Msg), "sensitive") {
		kind = generation.Permanent
	}
	msg := c.Msg
	if msg == "" {
		msg = "no message"
	}
	return &generation.Failure{
		Kind:   kind,
		Reason: fmt.Sprintf("Suno reported a failure for task %s (code %d): %s", c.TaskID, c.Code, msg),
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
