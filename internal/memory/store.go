// Package memory holds in-process adapters for the service's ports, with
// the semantics of their AWS counterparts: conditional writes, queues with
// visibility, delay, receive counts and redrive. They back the local stack
// and the tests, and are safe for concurrent use.
package memory

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// Store keeps generations and connections in maps.
type Store struct {
	mu          sync.Mutex
	generations map[string]generation.Generation
	idempotency map[string]idempotencyKey // user + "\x00" + key
	now         func() time.Time
	connections map[string]service.Connection
	counts      map[generation.Tier]service.StatusCounts
	// entered counts the generations that ever entered each tier's line.
	entered map[generation.Tier]int64
	bulks   map[string]service.Bulk
	audit   []service.AuditEntry
	// open, held and creates are each user's quota state: unfinished
	// generations that hold a slot, the release times of slots kept by
	// songs cancelled while Suno was making them, and recent create times,
	// oldest first.
	open    map[string]int
	held    map[string][]time.Time
	creates map[string][]time.Time
	paused  map[generation.Tier]bool
	// changes is the outbox (WithChanges), nil when none is kept.
	changes *ChangeLog
}

var (
	_ service.Store       = (*Store)(nil)
	_ service.Connections = (*Store)(nil)
	_ service.Controls    = (*Store)(nil)
)

type idempotencyKey struct {
	generationID string
	expires      time.Time
}

// IdempotencyTTL is how long an Idempotency-Key is remembered, as the
// DynamoDB store's TTL does.
const IdempotencyTTL = 24 * time.Hour

// StoreOption configures a Store.
type StoreOption func(*Store)

// WithClock sets the clock that expires idempotency keys and connections.
func WithClock(now func() time.Time) StoreOption { return func(s *Store) { s.now = now } }

// NewStore returns an empty store.
func NewStore(opts ...StoreOption) *Store {
	s := &Store{
		now:         time.Now,
		generations: map[string]generation.Generation{},
		idempotency: map[string]idempotencyKey{},
		connections: map[string]service.Connection{},
		counts:      map[generation.Tier]service.StatusCounts{},
		entered:     map[generation.Tier]int64{},
		open:        map[string]int{},
		held:        map[string][]time.Time{},
		creates:     map[string][]time.Time{},
		paused:      map[generation.Tier]bool{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// clone keeps callers from sharing the stored slices.
func clone(g generation.Generation) generation.Generation {
	g.Tracks = slices.Clone(g.Tracks)
	return g
}

func (s *Store) count(tier generation.Tier, st generation.Status, delta int64) {
	c := s.counts[tier]
	if c == nil {
		c = service.StatusCounts{}
		s.counts[tier] = c
	}
	c[st] += delta
	if st == generation.Pending && delta > 0 {
		s.entered[tier] += delta
	}
}

// Create implements service.Store.
func (s *Store) Create(_ context.Context, g generation.Generation, key string, quota service.Quota) (generation.Generation, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	idem := g.UserID + "\x00" + key
	if key != "" {
		if k, ok := s.idempotency[idem]; ok && s.now().Before(k.expires) {
			first, ok := s.generations[k.generationID]
			if !ok {
				return generation.Generation{}, false, service.ErrKeyDeleted
			}
			return clone(first), false, nil
		}
	}
	if _, ok := s.generations[g.ID]; ok {
		return generation.Generation{}, false, service.ErrConflict
	}
	now := s.now()
	s.held[g.UserID] = service.Holding(s.held[g.UserID], now)
	if len(s.held[g.UserID]) == 0 {
		delete(s.held, g.UserID)
	}
	if err := quota.Admit(s.open[g.UserID], s.held[g.UserID], s.creates[g.UserID], now); err != nil {
		return generation.Generation{}, false, err
	}
	if g.HoldsQuota {
		s.open[g.UserID]++
	}
	if quota.Daily > 0 {
		s.creates[g.UserID] = append(slices.Clone(quota.Recent(s.creates[g.UserID], now)), now)
	}
	g.Version = 1
	s.generations[g.ID] = clone(g)
	s.changes.record(nil, &g)
	if key != "" {
		s.idempotency[idem] = idempotencyKey{generationID: g.ID, expires: s.now().Add(IdempotencyTTL)}
	}
	s.count(g.Tier, g.Status, 1)
	return clone(g), true, nil
}

// Get implements service.Store.
func (s *Store) Get(_ context.Context, id string) (generation.Generation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.generations[id]
	if !ok {
		return generation.Generation{}, service.ErrNotFound
	}
	return clone(g), nil
}

// Save implements service.Store.
func (s *Store) Save(_ context.Context, g generation.Generation, from generation.Status) (generation.Generation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.generations[g.ID]
	if !ok {
		return generation.Generation{}, service.ErrNotFound
	}
	if cur.Version != g.Version || cur.Status != from {
		return generation.Generation{}, service.ErrConflict
	}
	g.Version++
	s.generations[g.ID] = clone(g)
	s.changes.record(&cur, &g)
	if from != g.Status {
		s.count(g.Tier, from, -1)
		s.count(g.Tier, g.Status, 1)
		if g.HoldsQuota && !from.Terminal() && g.Status.Terminal() {
			s.open[g.UserID]--
			if now := s.now(); g.SlotUntil.After(now) {
				s.held[g.UserID] = append(service.Holding(s.held[g.UserID], now), g.SlotUntil)
			}
		}
	}
	return clone(g), nil
}

// QuotaState implements service.Store: userID's quota state, as Create
// checks it.
func (s *Store) QuotaState(_ context.Context, userID string) (service.QuotaState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return service.QuotaState{
		Open: s.open[userID], Held: slices.Clone(s.held[userID]), Creates: slices.Clone(s.creates[userID]),
	}, nil
}

type cursor struct {
	CreatedAt time.Time `json:"c"`
	ID        string    `json:"i"`
}

func newest(a, b generation.Generation) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
}

// ListByUser implements service.Store.
func (s *Store) ListByUser(_ context.Context, userID string, limit int, cur string) (service.Page, error) {
	return s.list(service.Filter{UserID: userID}, limit, cur)
}

// ListAll implements service.Store.
func (s *Store) ListAll(_ context.Context, f service.Filter, limit int, cur string) (service.Page, error) {
	return s.list(f, limit, cur)
}

func (s *Store) list(f service.Filter, limit int, cur string) (service.Page, error) {
	var after *generation.Generation
	if cur != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cur)
		var c cursor
		if err != nil || json.Unmarshal(raw, &c) != nil || c.ID == "" {
			return service.Page{}, service.ErrInvalidCursor
		}
		after = &generation.Generation{CreatedAt: c.CreatedAt, ID: c.ID}
	}
	s.mu.Lock()
	var found []generation.Generation
	for _, g := range s.generations {
		if f.Match(g) && (after == nil || newest(*after, g) < 0) {
			found = append(found, clone(g))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(found, newest)
	page := service.Page{Items: found}
	if len(found) > limit {
		page.Items = found[:limit]
		last := page.Items[limit-1]
		raw, _ := json.Marshal(cursor{last.CreatedAt, last.ID})
		page.NextCursor = base64.RawURLEncoding.EncodeToString(raw)
	}
	return page, nil
}

// Delayed implements service.Store.
func (s *Store) Delayed(_ context.Context, now time.Time) (map[generation.Tier]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[generation.Tier]int64{}
	for _, g := range s.generations {
		if g.Delayed(now) {
			out[g.Tier]++
		}
	}
	return out, nil
}

// Held implements service.Store.
func (s *Store) Held(context.Context) (map[generation.Tier]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[generation.Tier]int64{}
	for _, g := range s.generations {
		if g.Held() {
			out[g.Tier]++
		}
	}
	return out, nil
}

// Delete implements service.Store.
func (s *Store) Delete(_ context.Context, g generation.Generation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.generations[g.ID]
	if !ok {
		return service.ErrNotFound
	}
	if cur.Version != g.Version || !cur.Status.Terminal() {
		return service.ErrConflict
	}
	delete(s.generations, g.ID)
	s.changes.record(&cur, nil)
	s.count(cur.Tier, cur.Status, -1)
	return nil
}

// Paused implements service.Controls.
func (s *Store) Paused(context.Context) (map[generation.Tier]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.paused), nil
}

// SetPaused implements service.Controls.
func (s *Store) SetPaused(_ context.Context, t generation.Tier, paused bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if paused {
		s.paused[t] = true
	} else {
		delete(s.paused, t)
	}
	return nil
}

// Counts implements service.Store.
func (s *Store) Counts(context.Context) (map[generation.Tier]service.StatusCounts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[generation.Tier]service.StatusCounts, len(s.counts))
	for t, c := range s.counts {
		out[t] = copyCounts(c)
	}
	return out, nil
}

// Line implements service.Store.
func (s *Store) Line(context.Context) (map[generation.Tier]service.LineCounts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[generation.Tier]service.LineCounts, len(s.counts))
	for t, c := range s.counts {
		out[t] = service.LineCounts{Pending: c[generation.Pending], Entered: s.entered[t]}
	}
	return out, nil
}

func copyCounts(c service.StatusCounts) service.StatusCounts {
	out := make(service.StatusCounts, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}

// Overdue implements service.Store.
func (s *Store) Overdue(_ context.Context, now time.Time, limit int) ([]generation.Generation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []generation.Generation
	for _, g := range s.generations {
		if g.Open() && g.Deadline.Before(now) {
			out = append(out, clone(g))
		}
	}
	slices.SortFunc(out, func(a, b generation.Generation) int { return a.Deadline.Compare(b.Deadline) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// PutConnection implements service.Connections: the cap is checked and
// the connection written under the store's lock.
func (s *Store) PutConnection(_ context.Context, c service.Connection, limit int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit > 0 {
		now, open := s.now(), 0
		for _, o := range s.connections {
			if o.UserID == c.UserID && o.ID != c.ID && (o.ExpiresAt.IsZero() || o.ExpiresAt.After(now)) {
				open++
			}
		}
		if open >= limit {
			return service.ErrTooManyConnections
		}
	}
	s.connections[c.ID] = c
	return nil
}

// DeleteConnection implements service.Connections.
func (s *Store) DeleteConnection(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.connections, id)
	return nil
}

// ConnectedUsers implements service.Connections.
func (s *Store) ConnectedUsers(_ context.Context, limit int) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	seen := map[string]bool{}
	var out []string
	for _, c := range s.connections {
		if len(out) >= limit {
			break
		}
		if (c.ExpiresAt.IsZero() || c.ExpiresAt.After(now)) && !seen[c.UserID] {
			seen[c.UserID] = true
			out = append(out, c.UserID)
		}
	}
	return out, nil
}

// UserConnections implements service.Connections. Expired connections are
// left out, as DynamoDB's TTL would eventually remove them.
func (s *Store) UserConnections(_ context.Context, userID string) ([]service.Connection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []service.Connection
	for _, c := range s.connections {
		if c.UserID == userID && (c.ExpiresAt.IsZero() || c.ExpiresAt.After(now)) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b service.Connection) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}
