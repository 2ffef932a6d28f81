package service

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/ratelimit"
)

// Place is a pending generation's place in line: how many songs the
// limiter's policy will submit before it, and when its turn should come
// at the accounts' combined rate. docs/place-in-line.md states the model
// and its error.
type Place struct {
	Ahead int64 `json:"ahead"`
	// EstimatedStart is absent while the song is held (Suno unavailable,
	// out of credits, its tier paused): no rate can be counted on then.
	EstimatedStart *time.Time `json:"estimatedStart,omitempty"`
}

// LinePolicy is what a place in line is computed with: the limiter's
// policy of one account (its rate, and the aging that promotes a waiting
// song) and how many accounts share the work.
type LinePolicy struct {
	Limit    ratelimit.Policy
	Accounts int
}

// queueLag is what a song's turn waits on top of the songs ahead: a job
// the limiter turns away asks again after a queue delay, in whole seconds
// on SQS, so it takes its turn up to a second late (measured: about one
// second late at 10 a second, at every depth).
const queueLag = time.Second

// lineFresh is how long a reading of the line counts serves places: the
// store is read at most once a second per process, whatever the traffic.
const lineFresh = time.Second

// line places pending generations from the store's exact line counts: no
// look at the queue itself, so a place costs one counter read a second
// per process, whatever the backlog.
type line struct {
	reader LineReader
	policy LinePolicy
	now    func() time.Time

	mu     sync.Mutex
	counts map[generation.Tier]LineCounts
	readAt time.Time
}

func newLine(r LineReader, p LinePolicy, now func() time.Time) *line {
	if p.Limit.Rate <= 0 {
		p.Limit = ratelimit.DefaultPolicy()
	}
	p.Accounts = max(p.Accounts, 1)
	return &line{reader: r, policy: p, now: now}
}

// read returns the line counts, at most lineFresh old.
func (l *line) read(ctx context.Context) (map[generation.Tier]LineCounts, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts != nil && l.now().Sub(l.readAt) < lineFresh {
		return l.counts, nil
	}
	c, err := l.fresh(ctx)
	if err != nil {
		return nil, err
	}
	l.counts, l.readAt = c, l.now()
	return c, nil
}

// fresh reads the line counts now, for a ticket, which must not miss the
// creates of the last second. It leaves the cache alone: the create that
// reads them comes after.
func (l *line) fresh(ctx context.Context) (map[generation.Tier]LineCounts, error) {
	c, err := l.reader.Line(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the line counts: %w", err)
	}
	return c, nil
}

// idleFresh is how old a reading of the line counts may be to say that a
// tier has no song waiting, and so how often a worker turned away by the
// limiter reads them again: at most four times a second.
const idleFresh = 250 * time.Millisecond

// idle names the tiers with no song pending, for the limiter
// (ratelimit.Ask.Idle): a tier that has just run out of songs then stops
// capping the tiers below at once, rather than Presence after its last
// grant. Only a reading younger than idleFresh names any: an older one
// may miss songs created since, and a tier named idle wrongly lets the
// tiers below take the slots its songs need. With refresh an older
// reading is replaced first, for a job the limiter has just turned away.
// When the counts cannot be read no tier is named, and the ceilings hold
// as if every tier had songs waiting.
func (l *line) idle(ctx context.Context, refresh bool) ratelimit.Tiers {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.counts == nil || now.Sub(l.readAt) >= idleFresh {
		if !refresh {
			return 0
		}
		c, err := l.fresh(ctx)
		if err != nil {
			return 0
		}
		l.counts, l.readAt = c, now
	}
	var idle ratelimit.Tiers
	for _, t := range generation.Tiers {
		if l.counts[t].Pending <= 0 {
			idle |= ratelimit.TiersOf(t)
		}
	}
	return idle
}

// ticket is the number a new generation of tier takes in its tier's line:
// one more than the entries so far (0 means unknown).
func ticket(counts map[generation.Tier]LineCounts, tier generation.Tier) int64 {
	return counts[tier].Entered + 1
}

// places returns the place of each pending generation of gens, by id.
func (l *line) places(ctx context.Context, gens ...generation.Generation) (map[string]Place, error) {
	var pending bool
	for _, g := range gens {
		pending = pending || g.Status == generation.Pending
	}
	if !pending {
		return nil, nil
	}
	counts, err := l.read(ctx)
	if err != nil {
		return nil, err
	}
	now := l.now()
	out := make(map[string]Place, len(gens))
	for _, g := range gens {
		if p, ok := l.place(counts, g, now); ok {
			out[g.ID] = p
		}
	}
	return out, nil
}

// place is g's place in line by the model of docs/place-in-line.md: every
// pending song of a tier above g's effective rank (its tier, promoted by
// aging), plus the songs of its own tier that entered the line before it
// and still wait (the line's exact counts, assuming a tier's songs leave
// it in the order they entered); at the accounts' combined rate.
func (l *line) place(counts map[generation.Tier]LineCounts, g generation.Generation, now time.Time) (Place, bool) {
	if g.Status != generation.Pending {
		return Place{}, false
	}
	rank := l.policy.Limit.Rank(g.Tier, now.Sub(g.CreatedAt))
	var ahead int64
	for _, t := range generation.Tiers {
		c := counts[t]
		switch {
		case t.Rank() < rank:
			ahead += max(c.Pending, 0)
		case t == g.Tier:
			before := c.Pending - 1 // all the others, when its ticket is not known
			if g.Ticket > 0 {
				before = c.Pending - (c.Entered - g.Ticket + 1)
			}
			ahead += min(max(before, 0), max(c.Pending-1, 0))
		}
	}
	p := Place{Ahead: ahead}
	if g.WaitReason != "" {
		return p, true
	}
	rate := l.policy.Limit.Sustained() * float64(l.policy.Accounts)
	start := now.Add(queueLag + time.Duration(float64(ahead)/rate*float64(time.Second)))
	if g.WaitUntil.After(start) {
		start = g.WaitUntil
	}
	// Whole milliseconds, rounded up: never before now.
	start = start.UTC()
	if r := start.Truncate(time.Millisecond); !r.Equal(start) {
		start = r.Add(time.Millisecond)
	}
	p.EstimatedStart = &start
	return p, true
}
