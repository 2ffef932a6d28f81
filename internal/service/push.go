package service

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// pusher tells a generation's owner about its new state on every open
// connection of theirs.
type pusher struct {
	store    Store
	conns    Connections
	notifier Notifier
	cfg      Config
	log      *slog.Logger
	pushing  *keyedMutex
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
func (p *pusher) push(ctx context.Context, g generation.Generation) {
	p.pushEvent(ctx, g, EventFor(g))
}

// pushEvent is push with the event to send for g's state.
func (p *pusher) pushEvent(ctx context.Context, g generation.Generation, ev Event) {
	payload, err := json.Marshal(ev)
	if err != nil {
		p.log.ErrorContext(ctx, "encode event", "event", ev.Event, "err", err)
		return
	}
	conns, err := p.conns.UserConnections(ctx, g.UserID)
	if err != nil {
		p.log.WarnContext(ctx, "list connections", "user", g.UserID, "err", err)
		return
	}
	if len(conns) == 0 {
		return
	}
	// One push of a generation at a time in this process, the check and
	// the posts together: within one process (the local stack, one Lambda
	// instance) a slower path can then never post after a newer state.
	unlock := p.pushing.lock(g.ID)
	defer unlock()
	if !g.Status.Terminal() {
		current, err := p.store.Get(ctx, g.ID)
		if err == nil && current.Version != g.Version {
			p.log.DebugContext(ctx, "stale state not pushed", "generation", g.ID, "version", g.Version, "current", current.Version)
			return
		}
	}
	// At once, each with a deadline: a user's many connections cannot hold
	// a worker past its own.
	var wg sync.WaitGroup
	slots := make(chan struct{}, pushParallelism)
	now := p.cfg.Now().UTC()
	for _, c := range conns {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			p.pushTo(ctx, c, now, ev.Event, payload)
		})
	}
	wg.Wait()
}

// pushParallelism bounds the posts of one push under way at once.
const pushParallelism = 8

func (p *pusher) pushTo(ctx context.Context, c Connection, now time.Time, event string, payload []byte) {
	if !c.ExpiresAt.After(now) {
		// The token it was opened with has expired: no more pushes, and
		// it is closed where the notifier can close it.
		p.forget(ctx, c.ID)
		if err := p.notifier.Close(ctx, c.ID); err != nil && !errors.Is(err, ErrGone) {
			p.log.WarnContext(ctx, "close expired connection", "connection", c.ID, "err", err)
		}
		return
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.PushTimeout)
	defer cancel()
	err := p.notifier.Post(ctx, c.ID, payload)
	switch {
	case errors.Is(err, ErrGone):
		p.forget(ctx, c.ID)
	case err != nil:
		p.log.WarnContext(ctx, "push event", "connection", c.ID, "event", event, "err", err)
	}
}

func (p *pusher) forget(ctx context.Context, id string) {
	if err := p.conns.DeleteConnection(context.WithoutCancel(ctx), id); err != nil {
		p.log.WarnContext(ctx, "forget connection", "connection", id, "err", err)
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
