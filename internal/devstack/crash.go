package devstack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// workerCrash is the local stack's rehearsal of a broken worker
// (POST /api/dev/crash-worker): while a tier's window is open, every
// delivery of that tier's jobs fails before the worker runs it, as a bug
// in a new version, a store the worker cannot reach or a crashing
// function would. Nothing else is pretended: the message is left for its
// redelivery after the queue's visibility timeout, and the queue's own
// redrive policy moves it to the dead-letter queue after
// QUEUE_MAX_RECEIVE_COUNT receives, where an operator finds it and, once
// the window is over (the bug fixed), redrives it.
type workerCrash struct {
	mu    sync.Mutex
	until map[generation.Tier]time.Time
}

// err is the failure of a delivery of tier's job at now, or nil.
func (c *workerCrash) err(tier generation.Tier, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until := c.until[tier]; now.Before(until) {
		return fmt.Errorf("the %s worker crashed (rehearsal: POST /api/dev/crash-worker, until %s)", tier, until.Format(time.RFC3339))
	}
	return nil
}

func (c *workerCrash) set(tier generation.Tier, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.until == nil {
		c.until = map[generation.Tier]time.Time{}
	}
	c.until[tier] = until
}

// CrashRequest is the body of POST /api/dev/crash-worker.
type CrashRequest struct {
	Tier string `json:"tier"`
	// For is how long the tier's worker fails every delivery, a Go
	// duration ("30s"); "0s" ends it now.
	For string `json:"for"`
}

// CrashResponse says until when the tier's worker fails, and how long a
// job takes to reach the dead-letter queue at the stack's queue settings.
type CrashResponse struct {
	Tier            generation.Tier `json:"tier"`
	Until           time.Time       `json:"until"`
	DeadLetterAfter string          `json:"deadLetterAfter"`
}

func (s *Stack) serveCrashWorker(w http.ResponseWriter, r *http.Request) {
	var req CrashRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		http.Error(w, `want {"tier":"FREE","for":"30s"}: `+err.Error(), http.StatusBadRequest)
		return
	}
	tier := generation.TierNamed(req.Tier)
	if !tier.Valid() {
		http.Error(w, fmt.Sprintf("unknown_tier: tier %q is not one of ENTERPRISE, PREMIUM, PRO, FREE", req.Tier), http.StatusBadRequest)
		return
	}
	d, err := time.ParseDuration(req.For)
	if err != nil || d < 0 || d > time.Hour {
		http.Error(w, fmt.Sprintf("for %q: want a Go duration from 0s (end it now) to 1h", req.For), http.StatusBadRequest)
		return
	}
	until := time.Now().Add(d)
	s.crash.set(tier, until)
	// A job reaches the dead-letter queue on the receive after its
	// MaxReceiveCount-th, each one a visibility timeout after the last.
	qs := s.Config.QueueSettings
	after := time.Duration(qs.MaxReceiveCount) * qs.VisibilityTimeout
	if d > 0 {
		s.log.Warn("worker crash rehearsal: every delivery of the tier's jobs fails", "tier", tier, "until", until, "deadLetterAfter", after)
	} else {
		s.log.Info("worker crash rehearsal over", "tier", tier)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(CrashResponse{Tier: tier, Until: until.UTC(), DeadLetterAfter: after.String()})
}
