package httpapi

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/songqueue/songqueue/internal/throttle"
)

// Limiter takes a request's token of a caller's bucket (package throttle:
// throttle.Memory in one process, dynamo.Buckets across instances).
type Limiter interface {
	Take(ctx context.Context, key string, l throttle.Limit) (throttle.Decision, error)
}

// Limits bound each caller's requests (DESIGN.md section 16), so that one
// client cannot take the throughput API Gateway's stage throttle shares
// among everyone. A request past a limit is answered 429 rate_limited
// with Retry-After, and does nothing. A zero Limit is none; without
// Buckets nothing is limited.
type Limits struct {
	Buckets Limiter
	// User bounds each authenticated user's requests, on every route that
	// takes a token (bucket "user#<sub>").
	User throttle.Limit
	// IP bounds each source address's requests on every route but Suno's
	// callback, with a token or without (bucket "ip#<address>"): many users
	// from one address, or requests whose token is refused. An IPv6
	// address counts by its /64, which one client holds whole.
	IP throttle.Limit
	// Callback bounds each source address's calls of Suno's callback
	// route (bucket "callback#<address>"), apart from IP: Suno's servers
	// are not a user's address, and a flood of forged callbacks does not
	// take from the users'.
	Callback throttle.Limit
}

// check is one bucket a request takes from.
type check struct {
	key   string
	limit throttle.Limit
	who   string // whose limit, for the message
}

// admit takes the request's tokens: of the source address's bucket under
// ipLimit (kind names it), and of the user's when userID is known, both
// at once. It reports whether the request may go on; if not, it has
// answered 429. A store that fails lets the request through (it is
// logged): the limits protect the service, and an outage of theirs
// should not become one of the service.
func (a *api) admit(w http.ResponseWriter, r *http.Request, kind string, ipLimit throttle.Limit, userID string) bool {
	lim := a.limits
	if lim.Buckets == nil {
		return true
	}
	var checks []check
	if !ipLimit.Off() {
		checks = append(checks, check{kind + "#" + ClientNetwork(r), ipLimit, "this address"})
	}
	if userID != "" && !lim.User.Off() {
		checks = append(checks, check{"user#" + userID, lim.User, "one user"})
	}
	decisions := make([]throttle.Decision, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		take := func() {
			d, err := lim.Buckets.Take(r.Context(), c.key, c.limit)
			if err != nil {
				a.log.WarnContext(r.Context(), "request limit unavailable; request let through", "bucket", c.key, "err", err)
				d = throttle.Decision{OK: true}
			}
			decisions[i] = d
		}
		if i == len(checks)-1 {
			take()
		} else {
			wg.Go(take)
		}
	}
	wg.Wait()
	refused := -1
	for i, d := range decisions {
		if !d.OK && (refused < 0 || d.RetryAfter > decisions[refused].RetryAfter) {
			refused = i
		}
	}
	if refused < 0 {
		return true
	}
	c, wait := checks[refused], decisions[refused].RetryAfter
	secs := RetryAfterSeconds(wait)
	a.log.DebugContext(r.Context(), "request refused: rate limited", "bucket", c.key, "retryAfter", wait)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, "rate_limited",
		fmt.Sprintf("too many requests from %s (at most %s); retry in %d s", c.who, c.limit, secs))
	return false
}

// RetryAfterSeconds is a wait as Retry-After's whole seconds: rounded up,
// at least 1, so a client that waits as told is not refused again.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// ClientNetwork is the address a request's limit counts by: its source
// address (API Gateway's requestContext.http.sourceIp, which the Lambda
// adapter puts in RemoteAddr; the peer's address in the local stack), an
// IPv6 one as its /64. X-Forwarded-For is not read: anyone can write it.
func ClientNetwork(r *http.Request) string {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		if host == "" {
			return "unknown"
		}
		return host
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.WithZone("").Prefix(64)
		return p.String()
	}
	return addr.String()
}

// limitedBy wraps a route that takes no token in the source address's
// limit of kind.
func (a *api) limitedBy(kind string, l throttle.Limit, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.admit(w, r, kind, l, "") {
			next(w, r)
		}
	}
}
