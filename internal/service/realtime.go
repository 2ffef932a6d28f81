package service

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/songqueue/songqueue/internal/identity"
)

// RealtimePorts are what the WebSocket routes run on.
type RealtimePorts struct {
	// Store gives sync the caller's generations.
	Store       Store
	Connections Connections
	// Messages keeps the connections' message buckets, shared by every
	// instance (messages.go); nil keeps them in this process.
	Messages MessageLimiter
}

// Realtime serves the WebSocket routes: connect, disconnect and the
// client's messages (ping, sync). It changes no generation; the roles that
// do push to the connections it registers.
type Realtime struct {
	store    Store
	line     *line
	conns    Connections
	cfg      Config
	messages MessageLimiter
}

// NewRealtime returns the WebSocket side on p.
func NewRealtime(p RealtimePorts, cfg Config) *Realtime {
	cfg = cfg.withDefaults()
	return &Realtime{store: p.Store, line: newLine(p.Store, cfg.Line, func() time.Time { return cfg.Now().UTC() }), conns: p.Connections, cfg: cfg, messages: messageLimiter(p.Messages, cfg)}
}

func (s *Realtime) now() time.Time { return s.cfg.Now().UTC() }

// Connect registers a WebSocket connection of an authenticated caller, up
// to MaxConnectionsPerUser open at once (beyond, a KindQuota error: 429).
// The connection lives no longer than the caller's token.
func (s *Realtime) Connect(ctx context.Context, c identity.Caller, connectionID string) error {
	now := s.now()
	if err := s.CheckConnections(ctx, c); err != nil {
		return err
	}
	conn := Connection{ID: connectionID, UserID: c.UserID, Tier: c.Tier, ConnectedAt: now, ExpiresAt: now.Add(s.cfg.ConnectionTTL)}
	if !c.Expires.IsZero() && c.Expires.Before(conn.ExpiresAt) {
		conn.ExpiresAt = c.Expires
	}
	if err := s.conns.PutConnection(ctx, conn); err != nil {
		return fmt.Errorf("register connection %s: %w", connectionID, err)
	}
	return nil
}

// CheckConnections refuses a caller who already has the most connections
// open that a user may.
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
		return &Error{Kind: KindQuota, Code: "too_many_connections", RetryAfter: 30 * time.Second,
			Message: fmt.Sprintf("a user may have %d WebSocket connections open at once; close one first", s.cfg.MaxConnectionsPerUser)}
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
}

// HandleMessage answers a client message. Unknown or malformed messages get
// an error event rather than a dropped connection.
//
// Each connection's messages are rate-limited: beyond the limit the answer
// is a rate_limited error and nothing is done.
func (s *Realtime) HandleMessage(ctx context.Context, c identity.Caller, connectionID string, body []byte) (Event, error) {
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
	out := SyncData{Generations: []Event{}}
	for i := len(p.Items) - 1; i >= 0; i-- {
		g := p.Items[i]
		if g.Status.Terminal() && g.UpdatedAt.Before(since) {
			continue
		}
		out.Generations = append(out.Generations, placedEvent(g, places))
	}
	return out, nil
}
