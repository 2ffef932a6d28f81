package service

import (
	"context"
	"encoding/json"
	"errors"

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

// ProgressData is the payload of generation:progress.
type ProgressData struct {
	GenerationID string            `json:"generationId"`
	Progress     int               `json:"progress"`
	Status       generation.Status `json:"status"`
	Message      string            `json:"message"`
	Attempts     int               `json:"attempts"`
}

// CompleteData is the payload of generation:complete.
type CompleteData struct {
	GenerationID string             `json:"generationId"`
	AudioURL     string             `json:"audioUrl"`
	Tracks       []generation.Track `json:"tracks"`
	Status       generation.Status  `json:"status"`
}

// ErrorData is the payload of generation:error.
type ErrorData struct {
	GenerationID string            `json:"generationId"`
	Error        string            `json:"error"`
	Status       generation.Status `json:"status"`
}

// CancelledData is the payload of generation:cancelled.
type CancelledData struct {
	GenerationID string            `json:"generationId"`
	Status       generation.Status `json:"status"`
}

func progressEvent(g generation.Generation) Event {
	return Event{EventProgress, ProgressData{g.ID, g.Progress, g.Status, g.Message, g.Attempts}}
}

func completeEvent(g generation.Generation) Event {
	return Event{EventComplete, CompleteData{g.ID, g.AudioURL(), nonNil(g.Tracks), g.Status}}
}

func errorEvent(g generation.Generation) Event {
	return Event{EventError, ErrorData{g.ID, g.Error, g.Status}}
}

func cancelledEvent(g generation.Generation) Event {
	return Event{EventCancelled, CancelledData{g.ID, g.Status}}
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

// push sends ev to every open connection of user and forgets connections
// that are gone. Delivery is best effort: the state is in the store, and a
// client that missed an event catches up with sync or GET status.
func (s *Service) push(ctx context.Context, userID string, ev Event) {
	payload, err := json.Marshal(ev)
	if err != nil {
		s.log.ErrorContext(ctx, "encode event", "event", ev.Event, "err", err)
		return
	}
	conns, err := s.Connections.UserConnections(ctx, userID)
	if err != nil {
		s.log.WarnContext(ctx, "list connections", "user", userID, "err", err)
		return
	}
	for _, c := range conns {
		err := s.Notifier.Post(ctx, c.ID, payload)
		switch {
		case errors.Is(err, ErrGone):
			if err := s.Connections.DeleteConnection(ctx, c.ID); err != nil {
				s.log.WarnContext(ctx, "forget gone connection", "connection", c.ID, "err", err)
			}
		case err != nil:
			s.log.WarnContext(ctx, "push event", "connection", c.ID, "event", ev.Event, "err", err)
		}
	}
}
