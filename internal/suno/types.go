// Package suno is a client for the sunoapi.org v1 music-generation API:
// submitting a generation, reading a task's record and parsing the callbacks
// Suno posts while a task progresses.
//
// Reference: https://docs.sunoapi.org/suno-api/generate-music,
// https://docs.sunoapi.org/suno-api/get-music-generation-details and
// https://docs.sunoapi.org/suno-api/generate-music-callbacks.
package suno

import (
	"github.com/songqueue/songqueue/internal/generation"
)

// GenerateRequest is the body of POST /api/v1/generate, with the field names
// sunoapi.org expects on the wire.
//
// The docs mark callBackUrl and model as required. CallBackURL is still
// omitted when empty so that a local setup without a public URL can rely on
// polling alone; against the real service, configure a callback URL.
type GenerateRequest struct {
	// Prompt is the song description (non-custom mode) or the lyrics
	// (custom mode, not instrumental).
	Prompt string `json:"prompt"`
	// Style and Title are used in custom mode only; the docs ask for them to
	// be left empty otherwise.
	Style        string `json:"style,omitempty"`
	Title        string `json:"title,omitempty"`
	CustomMode   bool   `json:"customMode"`
	Instrumental bool   `json:"instrumental"`
	// Model is one of generation.Models; Submit sends
	// generation.DefaultModel when the request has none.
	Model        string `json:"model"`
	NegativeTags string `json:"negativeTags,omitempty"`
	CallBackURL  string `json:"callBackUrl,omitempty"`
}

// TaskStatus is the status of a generation task as record-info reports it.
type TaskStatus string

// The statuses documented for GET /api/v1/generate/record-info.
const (
	StatusPending             TaskStatus = "PENDING"
	StatusTextSuccess         TaskStatus = "TEXT_SUCCESS"
	StatusFirstSuccess        TaskStatus = "FIRST_SUCCESS"
	StatusSuccess             TaskStatus = "SUCCESS"
	StatusCreateTaskFailed    TaskStatus = "CREATE_TASK_FAILED"
	StatusGenerateAudioFailed TaskStatus = "GENERATE_AUDIO_FAILED"
	StatusCallbackException   TaskStatus = "CALLBACK_EXCEPTION"
	StatusSensitiveWordError  TaskStatus = "SENSITIVE_WORD_ERROR"
)

// Done reports whether every track has been generated.
func (s TaskStatus) Done() bool { return s == StatusSuccess }

// Failed reports whether the task ended in one of the error statuses.
func (s TaskStatus) Failed() bool {
	switch s {
	case StatusCreateTaskFailed, StatusGenerateAudioFailed, StatusCallbackException, StatusSensitiveWordError:
		return true
	}
	return false
}

// FirstReady reports whether at least the first track can be streamed.
func (s TaskStatus) FirstReady() bool { return s == StatusFirstSuccess || s == StatusSuccess }

// report maps what record-info says onto the project's TaskReport: the
// error statuses fail the task, permanently for SENSITIVE_WORD_ERROR (the
// same prompt will be refused again, content_refused) and transiently for
// the others, which DESIGN.md §6 retries like any transient error
// (GENERATE_AUDIO_FAILED is audio_failed, the others suno_error). Reason is
// a plain sentence; the status and Suno's error message are in Detail.
func report(taskID string, status TaskStatus, tracks []generation.Track, errorMessage string) generation.TaskReport {
	r := generation.TaskReport{TaskID: taskID, Tracks: tracks}
	switch {
	case status.Failed():
		f := &generation.Failure{Kind: generation.Transient, Code: generation.CodeSunoError, Reason: statusReason(status)}
		switch status {
		case StatusSensitiveWordError:
			f.Kind, f.Code = generation.Permanent, generation.CodeContentRefused
		case StatusGenerateAudioFailed:
			f.Code = generation.CodeAudioFailed
		}
		f.Detail = "status " + string(status)
		if errorMessage != "" {
			f.Detail += ": " + errorMessage
		}
		r.Stage, r.Failure = generation.TaskFailed, f
	case status.Done():
		r.Stage = generation.TaskDone
	case status.FirstReady():
		r.Stage = generation.TaskFirstReady
	default:
		r.Stage = generation.TaskRunning
	}
	return r
}

// statusReason is the plain message of a failed status.
func statusReason(s TaskStatus) string {
	switch s {
	case StatusCreateTaskFailed:
		return "Suno could not start making the song"
	case StatusGenerateAudioFailed:
		return generation.MessageFor(generation.CodeAudioFailed)
	case StatusCallbackException:
		return "Suno ran into an error while making the song"
	case StatusSensitiveWordError:
		return "Suno refused the prompt: it may contain sensitive words"
	}
	return generation.MessageFor(generation.CodeSunoError)
}
