package service

import (
	"github.com/songqueue/songqueue/internal/generation"
)

// Event is a server message on the WebSocket.
type Event struct {
	Event string `json:"event"`
	Data  any    `json:"data,omitempty"`
}

// Event names of DESIGN.md section 4.
const (
	EventProgress  = "generation:progress"
	EventComplete  = "generation:complete"
	EventError     = "generation:error"
	EventCancelled = "generation:cancelled"
	EventPong      = "pong"
	EventSync      = "sync"
	EventBadAction = "error"
)

// Every event carries the generation's version, the number that grows with
// each saved change: a client keeps, for each generation, the state of the
// highest version it has seen and ignores an event older than that, so the
// order in which pushes arrive cannot turn a finished song back into a
// running one.

// ProgressData is the payload of generation:progress.
type ProgressData struct {
	GenerationID string            `json:"generationId"`
	Progress     int               `json:"progress"`
	Status       generation.Status `json:"status"`
	Message      string            `json:"message"`
	Attempts     int               `json:"attempts"`
	// WaitReason is why a pending generation is held, if it is.
	WaitReason string `json:"waitReason,omitempty"`
	// Queue is a pending generation's place in line, when known. A
	// progress event that only moves the place carries the same version
	// as the state it places.
	Queue   *Place `json:"queue,omitempty"`
	Version int64  `json:"version"`
}

// CompleteData is the payload of generation:complete.
type CompleteData struct {
	GenerationID string             `json:"generationId"`
	AudioURL     string             `json:"audioUrl"`
	Tracks       []generation.Track `json:"tracks"`
	Status       generation.Status  `json:"status"`
	// Archived: the URLs are the stack's own copies, not Suno's.
	Archived bool  `json:"archived"`
	Version  int64 `json:"version"`
}

// ErrorData is the payload of generation:error.
type ErrorData struct {
	GenerationID string            `json:"generationId"`
	Error        string            `json:"error"`
	ErrorCode    string            `json:"errorCode,omitempty"`
	Status       generation.Status `json:"status"`
	Version      int64             `json:"version"`
}

// CancelledData is the payload of generation:cancelled.
type CancelledData struct {
	GenerationID string            `json:"generationId"`
	Status       generation.Status `json:"status"`
	Version      int64             `json:"version"`
}

func progressEvent(g generation.Generation) Event {
	return Event{EventProgress, ProgressData{g.ID, g.Progress, g.Status, g.Message, g.Attempts, g.WaitReason, nil, g.Version}}
}

// placedEvent is EventFor(g) with g's place in line, if places has it.
func placedEvent(g generation.Generation, places map[string]Place) Event {
	ev := EventFor(g)
	if p, ok := places[g.ID]; ok && ev.Event == EventProgress {
		d := ev.Data.(ProgressData)
		d.Queue = &p
		ev.Data = d
	}
	return ev
}

func completeEvent(g generation.Generation) Event {
	return Event{EventComplete, CompleteData{g.ID, g.AudioURL(), nonNil(g.Tracks), g.Status, g.Archived, g.Version}}
}

func errorEvent(g generation.Generation) Event {
	return Event{EventError, ErrorData{g.ID, g.Error, g.ErrorCode, g.Status, g.Version}}
}

func cancelledEvent(g generation.Generation) Event {
	return Event{EventCancelled, CancelledData{g.ID, g.Status, g.Version}}
}

// EventFor is the event that tells a client about g's current state.
func EventFor(g generation.Generation) Event {
	switch g.Status {
	case generation.Completed:
		return completeEvent(g)
	case generation.Failed:
		return errorEvent(g)
	case generation.Cancelled:
		return cancelledEvent(g)
	}
	return progressEvent(g)
}

func nonNil(t []generation.Track) []generation.Track {
	if t == nil {
		return []generation.Track{}
	}
	return t
}
