package service

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

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
	Version      int64             `json:"version"`
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
	return Event{EventProgress, ProgressData{g.ID, g.Progress, g.Status, g.Message, g.Attempts, g.Version}}
}

func completeEvent(g generation.Generation) Event {
	return Event{EventComplete, CompleteData{g.ID, g.AudioURL(), nonNil(g.Tracks), g.Status, g.Archived, g.Version}}
}

func errorEvent(g generation.Generation) Event {
	return Event{EventError, ErrorData{g.ID, g.Error, g.Status, g.Version}}
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

// push sends the state g was saved in to every open connection of its
// owner and forgets connections that are gone. Delivery is best effort: the
// state is in the store, and a client that missed an event catches up with
// sync or GET status.
//
// A state that is not final is pushed only while it is still the stored
// one: two paths can move a generation at once (the worker that submitted
// it, a callback that failed it a millisecond later), and the slower one
// must not push a state the faster one has already replaced. The check
// costs one read, made only when the owner has a connection open; the
// versions in the events cover the moment between the read and the post.
func (s *Service) push(ctx context.Context, g generation.Generation) {
	ev := EventFor(g)
	payload, err := json.Marshal(ev)
	if err != nil {
		s.log.ErrorContext(ctx, "encode event", "event", ev.Event, "err", err)
		return
	}
	conns, err := s.Connections.UserConnections(ctx, g.UserID)
	if err != nil {
		s.log.WarnContext(ctx, "list connections", "user", g.UserID, "err", err)
		return
	}
	if len(conns) == 0 {
		return
	}
	// One push of a generation at a time in this process, the check and
	// the posts together: within one process (the local stack, one Lambda
	// instance) a slower path can then never post after a newer state.
	unlock := s.pushing.lock(g.ID)
	defer unlock()
	if !g.Status.Terminal() {
		current, err := s.Store.Get(ctx, g.ID)
		if err == nil && current.Version != g.Version {
			s.log.DebugContext(ctx, "stale state not pushed", "generation", g.ID, "version", g.Version, "current", current.Version)
			return
		}
	}
	// At once, each with a deadline: a user's many connections cannot hold
	// a worker past its own.
	var wg sync.WaitGroup
	slots := make(chan struct{}, pushParallelism)
	now := s.now()
	for _, c := range conns {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			s.pushTo(ctx, c, now, ev.Event, payload)
		})
	}
	wg.Wait()
}

// pushParallelism bounds the posts of one push under way at once.
const pushParallelism = 8

func (s *Service) pushTo(ctx context.Context, c Connection, now time.Time, event string, payload []byte) {
	if !c.ExpiresAt.After(now) {
		// The token it was opened with has expired: no more pushes, and
		// it is closed where the notifier can close it.
		s.forget(ctx, c.ID)
		if closer, ok := s.Notifier.(interface {
			Close(ctx context.Context, connectionID string) error
		}); ok {
			if err := closer.Close(ctx, c.ID); err != nil && !errors.Is(err, ErrGone) {
				s.log.WarnContext(ctx, "close expired connection", "connection", c.ID, "err", err)
			}
		}
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PushTimeout)
	defer cancel()
	err := s.Notifier.Post(ctx, c.ID, payload)
	switch {
	case errors.Is(err, ErrGone):
		s.forget(ctx, c.ID)
	case err != nil:
		s.log.WarnContext(ctx, "push event", "connection", c.ID, "event", event, "err", err)
	}
}

func (s *Service) forget(ctx context.Context, id string) {
	if err := s.Connections.DeleteConnection(context.WithoutCancel(ctx), id); err != nil {
		s.log.WarnContext(ctx, "forget connection", "connection", id, "err", err)
	}
}

// keyedMutex serialises work per key; keys are forgotten when unused.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	users int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
