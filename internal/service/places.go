package service

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Bounds of one round of place notices: the connected users looked at,
// and the newest generations of each (the waiting ones are among them).
const (
	placeUsers = 1000
	placeScan  = 20
	// placeEvery spaces the rounds when the sweeper runs more often (the
	// local stack sweeps every few seconds; AWS every 2 minutes).
	placeEvery = 5 * time.Second
)

// placeNotices tells the people who have the page open where their
// waiting songs are in line, on the sweeper's schedule: a place moves with
// every submission, too often to push each, so a round pushes the places
// that moved by a meaningful amount since this process last told them
// (moved). Its cost follows the open connections, not the backlog.
type placeNotices struct {
	store Store
	conns Connections
	line  *line
	push  *pusher

	mu   sync.Mutex
	told map[string]Place
	last time.Time
}

// round pushes the places that moved, and returns how many it pushed.
func (n *placeNotices) round(ctx context.Context) (int, error) {
	n.mu.Lock()
	now := n.line.now()
	if !n.last.IsZero() && now.Sub(n.last) < placeEvery {
		n.mu.Unlock()
		return 0, nil
	}
	n.last = now
	n.mu.Unlock()
	users, err := n.conns.ConnectedUsers(ctx, placeUsers)
	if err != nil {
		return 0, fmt.Errorf("place notices: %w", err)
	}
	seen := map[string]bool{}
	pushed := 0
	for _, user := range users {
		p, err := n.store.ListByUser(ctx, user, placeScan, "")
		if err != nil {
			return pushed, fmt.Errorf("place notices: list %s's generations: %w", user, err)
		}
		places, err := n.line.places(ctx, p.Items...)
		if err != nil {
			return pushed, fmt.Errorf("place notices: %w", err)
		}
		for _, g := range p.Items {
			place, ok := places[g.ID]
			if !ok {
				continue
			}
			seen[g.ID] = true
			if !n.moved(g.ID, place) {
				continue
			}
			n.push.pushEvent(ctx, g, placedEvent(g, places))
			pushed++
		}
	}
	n.forgetExcept(seen)
	return pushed, nil
}

// moved reports whether place differs enough from the one last told for
// id to be worth a push, and remembers it if so: a first place; a change
// of a tenth of the songs ahead (at least one); an estimate that appeared,
// went, or moved by a tenth of the wait (at least 30 s).
func (n *placeNotices) moved(id string, place Place) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.told == nil {
		n.told = map[string]Place{}
	}
	last, ok := n.told[id]
	if ok && !placeMoved(last, place, n.line.now()) {
		return false
	}
	n.told[id] = place
	return true
}

func placeMoved(last, now Place, at time.Time) bool {
	if d := now.Ahead - last.Ahead; max(d, -d) >= max(1, last.Ahead/10) {
		return true
	}
	if (last.EstimatedStart == nil) != (now.EstimatedStart == nil) {
		return true
	}
	if now.EstimatedStart == nil {
		return false
	}
	shift := now.EstimatedStart.Sub(*last.EstimatedStart).Abs()
	return shift >= max(30*time.Second, last.EstimatedStart.Sub(at)/10)
}

// forgetExcept drops what was told of songs no longer waiting.
func (n *placeNotices) forgetExcept(seen map[string]bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id := range n.told {
		if !seen[id] {
			delete(n.told, id)
		}
	}
}
