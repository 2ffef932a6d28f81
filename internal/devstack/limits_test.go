package devstack_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/throttle"
)

// caller is a client of the stack's API from an address of its own on the
// loopback network (127.0.0.0/8 is all this machine's), so that the limits
// per address can tell callers apart; every exchange is held to
// openapi.yaml, as client's are.
type caller struct {
	t     *testing.T
	base  string
	token string
	hc    *http.Client
}

func newCaller(t *testing.T, s *devstack.Stack, token, addr string) caller {
	t.Helper()
	spec, err := apiSpec()
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 32}
	t.Cleanup(tr.CloseIdleConnections)
	return caller{t: t, base: s.URL, token: token, hc: &http.Client{Timeout: 30 * time.Second, Transport: spec.Transport(func(err error) { t.Errorf("%v", err) }, tr)}}
}

// answer is what a request got.
type answer struct {
	code       int
	errCode    string
	retryAfter int
}

// do may run on any goroutine: it reports with t.Errorf only.
func (c caller) do(method, path, body string) answer {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Errorf("%s %s: %v", method, path, err)
		return answer{}
	}
	defer res.Body.Close()
	var eb struct {
		Error struct{ Code string } `json:"error"`
	}
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &eb)
	a := answer{code: res.StatusCode, errCode: eb.Error.Code}
	if v := res.Header.Get("Retry-After"); v != "" {
		a.retryAfter, _ = strconv.Atoi(v)
	}
	if a.code == http.StatusTooManyRequests && (a.errCode != "rate_limited" || a.retryAfter < 1) {
		c.t.Errorf("%s %s: 429 %q with Retry-After %q; want rate_limited with a Retry-After of at least 1 s", method, path, a.errCode, res.Header.Get("Retry-After"))
	}
	return a
}

// burst sends n requests at once, each from its own goroutine, and
// returns the answers and how long they took.
func burst(n int, send func(i int) answer) ([]answer, time.Duration) {
	out := make([]answer, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i] = send(i) })
	}
	wg.Wait()
	return out, time.Since(start)
}

func tally(as []answer) (ok, limited int) {
	for _, a := range as {
		switch {
		case a.code == http.StatusTooManyRequests:
			limited++
		case a.code > 0 && a.code < 400:
			ok++
		}
	}
	return ok, limited
}

// mostAllowed is the most requests a bucket lets through in elapsed: the
// burst and one per interval.
func mostAllowed(l throttle.Limit, elapsed time.Duration) int {
	return l.Burst + int(elapsed.Seconds()*l.Rate) + 1
}

// TestLimitsPerCaller: on each backend, one client over its limit gets 429
// rate_limited with Retry-After while another is still served: a user
// (whatever their address), an address (whatever its users), and an
// address calling Suno's callback route, which has a bucket of its own.
// On the AWS backend a second stack on the same tables stands in for a
// second instance of the API function: the user's bucket holds across
// both.
func TestLimitsPerCaller(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			limitsPerCaller(t, b)
		})
	}
}

func limitsPerCaller(t *testing.T, b backend) {
	limits := app.RequestLimits{
		User:     throttle.Limit{Rate: 1, Burst: 6},
		IP:       throttle.Limit{Rate: 1, Burst: 30}, // above the 22 requests of the first part
		Callback: throttle.Limit{Rate: 1, Burst: 4},
	}
	s := startStack(t, b, func(c *devstack.Config) { c.Requests = limits }, devstack.Options{})
	token := func(id string) string {
		tok, err := s.Tokens.Mint(id, generation.Pro, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	// A user who floods: the burst is served, the rest refused and done
	// nothing; another user from the same address is served meanwhile.
	hog := newCaller(t, s, token("hog"), "127.0.0.2")
	paths := []string{"/api/generation", "/api/queue/stats", "/api/generation?limit=100"}
	answers, took := burst(16, func(i int) answer {
		if i%4 == 3 {
			return hog.do("POST", "/api/generation/create", `{"prompt":"one too many"}`)
		}
		return hog.do("GET", paths[i%len(paths)], "")
	})
	ok, limited := tally(answers)
	if ok < limits.User.Burst || ok > mostAllowed(limits.User, took) || ok+limited != 16 {
		t.Fatalf("16 requests of one user at once (in %s): %d served, %d refused 429; want the burst of %d served, at most %d, and the rest refused",
			took, ok, limited, limits.User.Burst, mostAllowed(limits.User, took))
	}
	quiet := newCaller(t, s, token("quiet"), "127.0.0.2")
	for i := range 3 {
		if a := quiet.do("GET", "/api/generation", ""); a.code != http.StatusOK {
			t.Fatalf("another user's request %d from the same address while the first is limited: %+v", i+1, a)
		}
	}
	// A refused create stored nothing: the hog's history holds only the
	// creates that were served.
	var created int
	for i, a := range answers {
		if i%4 == 3 && a.code == http.StatusAccepted {
			created++
		}
	}
	page, err := s.Generations.ListByUser(t.Context(), "hog", 100, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != created {
		t.Errorf("the hog has %d generations stored; %d creates were served", len(page.Items), created)
	}
	// The checks above took time, and the bucket refilled meanwhile (a
	// few tokens on a loaded emulator): the hog spends them, then is
	// refused.
	var a answer
	for range 4 + 2*limits.User.Burst {
		if a = hog.do("GET", "/api/generation", ""); a.code == http.StatusTooManyRequests {
			break
		}
	}
	if a.code != http.StatusTooManyRequests {
		t.Fatalf("the hog right after its flood: %+v; want 429", a)
	}
	// The limit is the user's, whatever the address.
	if a := newCaller(t, s, token("hog"), "127.0.0.9").do("GET", "/api/generation", ""); a.code != http.StatusTooManyRequests {
		t.Errorf("the hog from another address: %+v; want 429", a)
	}
	time.Sleep(time.Duration(a.retryAfter) * time.Second)
	if a := hog.do("GET", "/api/generation", ""); a.code != http.StatusOK {
		t.Fatalf("the hog after waiting the Retry-After: %+v", a)
	}

	// An address that floods with many users: its burst is served, the
	// rest refused; another address is served.
	answers, took = burst(40, func(i int) answer {
		return newCaller(t, s, token(fmt.Sprintf("crowd-%d", i)), "127.0.0.3").do("GET", "/api/generation", "")
	})
	if ok, limited := tally(answers); ok < limits.IP.Burst || ok > mostAllowed(limits.IP, took) || ok+limited != 40 {
		t.Fatalf("40 users from one address at once (in %s): %d served, %d refused; want %d to %d served, the rest refused",
			took, ok, limited, limits.IP.Burst, mostAllowed(limits.IP, took))
	}
	if a := newCaller(t, s, token("crowd-0"), "127.0.0.4").do("GET", "/api/generation", ""); a.code != http.StatusOK {
		t.Fatalf("a user of the crowd from another address: %+v", a)
	}

	// Suno's callback route has its own bucket per address: a flood of
	// forged callbacks is refused past it, and takes nothing from the
	// users of that address.
	forger := newCaller(t, s, "", "127.0.0.5")
	body := `{"code":200,"msg":"ok","data":{"callbackType":"complete","task_id":"t-1","data":[]}}`
	answers, took = burst(12, func(int) answer {
		return forger.do("POST", "/api/suno/callback?g=6a1b4c3e-0000-4000-8000-000000000000&sig=forged", body)
	})
	if ok, limited := tally(answers); limited == 0 || 12-limited < limits.Callback.Burst || 12-limited > mostAllowed(limits.Callback, took) {
		t.Fatalf("12 callbacks from one address at once (in %s): %d refused 429; want all but %d to %d refused", took, limited, limits.Callback.Burst, mostAllowed(limits.Callback, took))
	} else if ok != 0 {
		t.Fatalf("a forged callback was served: %+v", answers)
	}
	if a := newCaller(t, s, token("neighbour"), "127.0.0.5").do("GET", "/api/generation", ""); a.code != http.StatusOK {
		t.Fatalf("a user from the forger's address: %+v", a)
	}

	if b.name != "aws" {
		return
	}
	// A second instance on the same tables: one user's requests spread
	// over both share one bucket.
	second := startStack(t, b, func(c *devstack.Config) { c.Requests = limits; c.Names = s.Config.Names }, devstack.Options{})
	one, two := newCaller(t, s, token("spread"), "127.0.0.6"), newCaller(t, second, token("spread"), "127.0.0.6")
	answers, took = burst(16, func(i int) answer { return []caller{one, two}[i%2].do("GET", "/api/generation", "") })
	if ok, _ := tally(answers); ok < limits.User.Burst || ok > mostAllowed(limits.User, took) {
		t.Fatalf("16 requests of one user over two instances (in %s): %d served; want the one burst of %d, at most %d", took, ok, limits.User.Burst, mostAllowed(limits.User, took))
	}
}
