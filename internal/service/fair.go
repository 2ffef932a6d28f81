package service

import (
	"sync"
	"time"
)

// servedUsers remembers whom this process took a token for lately.
type servedUsers struct {
	mu    sync.Mutex
	last  map[string]time.Time
	swept time.Time
}

// fairYield is how much later a just-served user's job asks for a token
// than another user's; fairMemory, how long being served counts.
const (
	fairYield  = 20 * time.Millisecond
	fairMemory = 10 * time.Second
)

func (u *servedUsers) note(user string, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.last == nil {
		u.last = map[string]time.Time{}
	}
	if now.Sub(u.swept) > fairMemory {
		for k, t := range u.last {
			if now.Sub(t) > fairMemory {
				delete(u.last, k)
			}
		}
		u.swept = now
	}
	u.last[user] = now
}

func (u *servedUsers) yield(user string, now time.Time) time.Duration {
	u.mu.Lock()
	defer u.mu.Unlock()
	if t, ok := u.last[user]; ok && now.Sub(t) < fairMemory {
		return fairYield
	}
	return 0
}
