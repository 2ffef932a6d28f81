package service

import (
	"sync"
	"time"
)

// messageLimiter is a token bucket per WebSocket connection. It lives in
// the process: the local stack's one, or one Lambda execution environment,
// so in AWS a flood is bounded per warm instance that serves it (API
// Gateway's stage throttling bounds the total).
type messageLimiter struct {
	rate  float64
	burst float64

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newMessageLimiter(rate float64, burst int) *messageLimiter {
	return &messageLimiter{rate: rate, burst: float64(max(burst, 1)), buckets: map[string]*bucket{}}
}

// allow takes a token of connection id's bucket.
func (l *messageLimiter) allow(id string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b, ok := l.buckets[id]
	if !ok {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[id] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep forgets buckets that have been full for a while, so closed
// connections do not accumulate.
func (l *messageLimiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	full := time.Duration(l.burst/l.rate*float64(time.Second)) + time.Minute
	for id, b := range l.buckets {
		if now.Sub(b.at) > full {
			delete(l.buckets, id)
		}
	}
}
