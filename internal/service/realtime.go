package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
)

// RealtimePorts are what the WebSocket routes run on.
type RealtimePorts struct {
	// Store gives sync the caller's generations.
	Store       Store
	Connections Connections
	// Notifier tells a connection whose token has expired so, and closes
	// it.
	Notifier Notifier
	// Messages keeps the connections' message buckets (messages.go).
	Messages MessageLimiter
}

// Realtime serves the WebSocket routes: connect, disconnect and the
// client's messages (ping, sync). It changes no generation; the roles that
// do push to the connections it registers.
type Realtime struct {
	store    Store
	line     *line
	conns    Connections
	notifier Notifier
	cfg      Config
	messages MessageLimiter
}

// NewRealtime returns the WebSocket side on p, which must have every port.
func NewRealtime(p RealtimePorts, cfg Config) (*Realtime, error) {
	if p.Store == nil || p.Connections == nil || p.Notifier == nil || p.Messages == nil {
		return nil, errors.New("the WebSocket side needs a store, the connections, a notifier and the message buckets")
	}
	cfg = cfg.withDefaults()
	return &Realtime{store: p.Store, line: newLine(p.Store, cfg.Line, func() time.Time { return cfg.Now().UTC() }), conns: p.Connections, notifier: p.Notifier, cfg: cfg, messages: p.Messages}, nil
}

func (s *Realtime) now() time.Time { return s.cfg.Now().UTC() }

// Connect registers a WebSocket connection of an authenticated caller, up
// to MaxConnectionsPerUser open at once (beyond, a KindQuota error: 429),
// checked by the store in the write, so a burst of connects cannot slip
// past it. The connection lives no longer than the caller's token.
func (s *Realtime) Connect(ctx context.Context, c identity.Caller, connectionID string) error {
	now := s.now()
	conn := Connection{ID: connectionID, UserID: c.UserID, Tier: c.Tier, ConnectedAt: now, ExpiresAt: now.Add(s.cfg.ConnectionTTL)}
	if !c.Expires.IsZero() && c.Expires.Before(conn.ExpiresAt) {
		conn.ExpiresAt = c.Expires
	}
	err := s.conns.PutConnection(ctx, conn, max(s.cfg.MaxConnectionsPerUser, 0))
	if errors.Is(err, ErrTooManyConnections) {
		return s.tooManyConnections()
	}
	if err != nil {
		return fmt.Errorf("register connection %s: %w", connectionID, err)
	}
	return nil
}

func (s *Realtime) tooManyConnections() *Error {
	return &Error{Kind: KindQuota, Code: "too_many_connections", RetryAfter: 30 * time.Second,
		Message: fmt.Sprintf("a user may have %d WebSocket connections open at once; close one first", s.cfg.MaxConnectionsPerUser)}
}

// CheckConnections refuses a caller who already has the most connections
// open that a user may: a cheap early answer, before a transport accepts
// a connection (the local stack refuses before the upgrade). Connect
// checks again, exactly.
func (s *Realtime) CheckConnections(ctx context.Context, c identity.Caller) error {
	if s.cfg.MaxConnectionsPerUser <= 0 {
		return nil
	}
	conns, err := s.conns.UserConnections(ctx, c.UserID)
	if err != nil {
		return fmt.Errorf("connections of %s: %w", c.UserID, err)
	}
	open := 0
	for _, conn := range conns {
		if conn.ExpiresAt.After(s.now()) {
			open++
		}
	}
	if open >= s.cfg.MaxConnectionsPerUser {
		return s.tooManyConnections()
	}
	return nil
}

// Disconnect forgets a connection.
func (s *Realtime) Disconnect(ctx context.Context, connectionID string) error {
	if err := s.conns.DeleteConnection(ctx, connectionID); err != nil {
		return fmt.Errorf("forget connection %s: %w", connectionID, err)
	}
	return nil
}

// MaxClientMessage bounds what a client may send over the WebSocket.
const MaxClientMessage = 4 << 10

// SyncData is the answer to a sync: one event per generation that is
// unfinished or finished within the recent window, oldest first.
type SyncData struct {
	Generations []Event `json:"generations"`
	// More says that some of those generations were left out to keep the
	// answer within one WebSocket message (MaxSyncBytes): the unfinished
	// come first, then the finished by their last change, newest first,
	// as many as fit. The client reads the rest with GET /api/generation
	// (newest first, paged).
	More bool `json:"more,omitempty"`
}

// MaxSyncBytes bounds the encoded answer to a sync: API Gateway refuses to
// send a WebSocket message over 128 KB, and the answer is one message.
const MaxSyncBytes = 120 << 10

// HandleMessage answers a client message. Unknown or malformed messages get
// an error event rather than a dropped connection.
//
// A message on a connection whose token has expired (c.Expires passed) is
// not served: the answer is a token_expired error, which is also posted to
// the connection before it is closed and forgotten, so the client learns
// why even where the transport's reply cannot reach a closed connection.
//
// Each connection's messages are rate-limited: beyond the limit the answer
// is a rate_limited error and nothing is done.
func (s *Realtime) HandleMessage(ctx context.Context, c identity.Caller, connectionID string, body []byte) (Event, error) {
	if !c.Expires.IsZero() && !c.Expires.After(s.now()) {
		return s.expired(ctx, c, connectionID), nil
	}
	if !s.allowMessage(ctx, connectionID) {
		return badAction("rate_limited", fmt.Sprintf("at most %g messages a second per connection; slow down", s.cfg.MessageRate)), nil
	}
	if len(body) > MaxClientMessage {
		return badAction("message_too_large", fmt.Sprintf("messages are limited to %d bytes", MaxClientMessage)), nil
	}
	var msg struct {
		Action string `json:"action"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return badAction("invalid_message", `send JSON such as {"action":"ping"}`), nil
	}
	switch msg.Action {
	case "ping":
		return Event{Event: EventPong}, nil
	case "sync":
		data, err := s.Sync(ctx, c)
		if err != nil {
			return Event{}, err
		}
		return Event{Event: EventSync, Data: data}, nil
	}
	return badAction("unknown_action", `action must be "ping" or "sync"`), nil
}

// expired refuses a message on a connection whose token has expired: it
// tells the connection, closes it and forgets it. Each step is best
// effort; the refusal stands whatever fails.
func (s *Realtime) expired(ctx context.Context, c identity.Caller, connectionID string) Event {
	ev := badAction("token_expired", "your token has expired; reconnect with a fresh one (?token=<JWT>)")
	log := s.cfg.Logger.With("connection", connectionID, "userId", c.UserID)
	log.InfoContext(ctx, "message on a connection whose token has expired: closed", "expired", c.Expires)
	if payload, err := json.Marshal(ev); err == nil {
		if err := s.notifier.Post(ctx, connectionID, payload); err != nil && !errors.Is(err, ErrGone) {
			log.WarnContext(ctx, "tell an expired connection", "err", err)
		}
	}
	if err := s.notifier.Close(ctx, connectionID); err != nil && !errors.Is(err, ErrGone) {
		log.WarnContext(ctx, "close an expired connection", "err", err)
	}
	if err := s.conns.DeleteConnection(context.WithoutCancel(ctx), connectionID); err != nil {
		log.WarnContext(ctx, "forget an expired connection", "err", err)
	}
	return ev
}

func badAction(code, msg string) Event {
	return Event{Event: EventBadAction, Data: map[string]string{"code": code, "message": msg}}
}

// syncScan bounds how many of a user's newest generations sync looks at.
const syncScan = 100

// Sync returns the state of the caller's unfinished and recently finished
// generations, so a reconnecting client misses nothing.
func (s *Realtime) Sync(ctx context.Context, c identity.Caller) (SyncData, error) {
	p, err := s.store.ListByUser(ctx, c.UserID, syncScan, "")
	if err != nil {
		return SyncData{}, fmt.Errorf("sync: %w", err)
	}
	since := s.now().Add(-s.cfg.RecentWindow)
	places, err := s.line.places(ctx, p.Items...)
	if err != nil {
		// The states matter more than the places: sync without them.
		s.cfg.Logger.WarnContext(ctx, "sync without places in line", "err", err)
	}
	var wanted []generation.Generation
	for _, g := range p.Items {
		if !g.Status.Terminal() || !g.UpdatedAt.Before(since) {
			wanted = append(wanted, g)
		}
	}
	return boundSync(wanted, places), nil
}

// boundSync is the sync answer for gens (newest first): as many of their
// events as fit in MaxSyncBytes, the unfinished generations first (newest
// first) and then the finished ones by their last change, newest first;
// in the answer, oldest first.
func boundSync(gens []generation.Generation, places map[string]Place) SyncData {
	order := make([]int, len(gens))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ga, gb := gens[a], gens[b]
		if fa, fb := ga.Status.Terminal(), gb.Status.Terminal(); fa != fb {
			if fa {
				return 1
			}
			return -1
		}
		if ga.Status.Terminal() {
			return gb.UpdatedAt.Compare(ga.UpdatedAt)
		}
		return 0 // as listed: newest first
	})
	// The envelope, with the flag, then each event and its comma.
	size := len(`{"event":"sync","data":{"generations":[],"more":true}}`)
	events := make([]*Event, len(gens))
	out := SyncData{Generations: []Event{}}
	for _, i := range order {
		ev := placedEvent(gens[i], places)
		b, err := json.Marshal(ev)
		if err != nil || size+len(b)+1 > MaxSyncBytes {
			out.More = true
			continue
		}
		size += len(b) + 1
		events[i] = &ev
	}
	for i := len(events) - 1; i >= 0; i-- {
		if events[i] != nil {
			out.Generations = append(out.Generations, *events[i])
		}
	}
	return out
}
