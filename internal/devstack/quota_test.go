package devstack_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// createAnswer is what a create got: status, body, Retry-After.
type createAnswer struct {
	code       int
	body       map[string]any
	retryAfter string
}

func (c client) createFull(prompt, key string) createAnswer {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.stack.URL+"/api/generation/create", strings.NewReader(`{"prompt":"`+prompt+`"}`))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Errorf("create: %v", err)
		return createAnswer{}
	}
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	return createAnswer{res.StatusCode, body, res.Header.Get("Retry-After")}
}

// scenarioQuotas: 20 concurrent creates by one FREE user with an open quota
// of 3 accept exactly 3 and refuse 17 with 429, Retry-After and a message
// that names the limit; a replay is never refused; a cancel of a song Suno
// is making frees its slot once Suno's time for it is up; the daily quota
// refuses the next create with a Retry-After at the end of the 24 hours.
func scenarioQuotas(t *testing.T, b backend) {
	s := startStack(t, b, func(c *devstack.Config) {
		c.Pipeline.Quotas = map[generation.Tier]service.Quota{generation.Free: {Open: 3, Daily: 5}}
	}, devstack.Options{})
	u := user(t, s, "quota-free", generation.Free)
	var mu sync.Mutex
	var accepted []createAnswer
	var refused []createAnswer
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			a := u.createFull("a long song [fake:slow=1m]", "burst-"+strconv.Itoa(i))
			mu.Lock()
			defer mu.Unlock()
			switch a.code {
			case http.StatusAccepted:
				accepted = append(accepted, a)
			case http.StatusTooManyRequests:
				refused = append(refused, a)
			default:
				t.Errorf("create: %d %v", a.code, a.body)
			}
		})
	}
	wg.Wait()
	if len(accepted) != 3 || len(refused) != 17 {
		t.Fatalf("20 concurrent creates, open quota 3: %d accepted, %d refused", len(accepted), len(refused))
	}
	for _, r := range refused {
		e, _ := r.body["error"].(map[string]any)
		if n, err := strconv.Atoi(r.retryAfter); err != nil || n <= 0 || e["code"] != "quota_exceeded" || !strings.Contains(e["message"].(string), "3 unfinished") {
			t.Fatalf("refusal: Retry-After %q, %v", r.retryAfter, r.body)
		}
	}
	// A refused create stored nothing: the user has exactly three.
	_, list := u.do("GET", "/api/generation?limit=50", nil)
	if items := list["items"].([]any); len(items) != 3 {
		t.Fatalf("the user has %d generations, want 3", len(items))
	}
	// A replay of an accepted create is answered, not refused.
	firstID := accepted[0].body["generationId"].(string)
	var firstKey string
	for i := range 20 {
		if a := u.createFull("a long song [fake:slow=1m]", "burst-"+strconv.Itoa(i)); a.code == http.StatusAccepted && a.body["generationId"] == firstID {
			firstKey = "burst-" + strconv.Itoa(i)
			break
		}
	}
	if firstKey == "" {
		t.Fatal("no replay of an accepted create was answered with its generation")
	}
	// A song cancelled while Suno makes it keeps its slot until Suno's time
	// for it is up (Pipeline.Deadline, 10 s here), as Suno still spends on
	// it; then the slots free, and two more creates fit (daily 5).
	var heldUntil time.Time
	for _, a := range accepted {
		id := a.body["generationId"].(string)
		u.waitStatus(id, "submitted", func(st map[string]any) bool {
			p, _ := st["progress"].(float64)
			return st["status"] == "processing" && p >= 30
		}, 20*time.Second)
		if until := time.Now().Add(10 * time.Second); until.After(heldUntil) {
			heldUntil = until // at the latest
		}
		if code, body := u.do("POST", "/api/generation/"+id+"/cancel", nil); code != http.StatusOK {
			t.Fatalf("cancel: %d %v", code, body)
		}
	}
	if a := u.createFull("too soon after the cancels", ""); a.code != http.StatusTooManyRequests {
		t.Fatalf("create while the cancelled songs are at Suno: %d %v; want 429", a.code, a.body)
	}
	for i := range 2 {
		for {
			a := u.createFull("another long song [fake:slow=1m]", "more-"+strconv.Itoa(i))
			if a.code == http.StatusAccepted {
				break
			}
			if a.code != http.StatusTooManyRequests || time.Now().After(heldUntil.Add(5*time.Second)) {
				t.Fatalf("create once the cancelled songs' time at Suno is up: %d %v", a.code, a.body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Five creates in 24 hours: the daily quota refuses the next, even with
	// a slot free (every hold over), until the first create leaves the
	// window.
	time.Sleep(time.Until(heldUntil))
	a := u.createFull("one too many", "")
	n, _ := strconv.Atoi(a.retryAfter)
	if e, _ := a.body["error"].(map[string]any); a.code != http.StatusTooManyRequests || e["code"] != "quota_exceeded" ||
		!strings.Contains(e["message"].(string), "created 5 generations in the last 24 hours") || n < int((24*time.Hour-time.Minute).Seconds()) || n > int((24*time.Hour).Seconds()) {
		t.Fatalf("sixth create in a day: %d, Retry-After %q, %v", a.code, a.retryAfter, a.body)
	}
	// Other users and tiers are not affected.
	if got := user(t, s, "quota-other", generation.Free).createFull("mine", ""); got.code != http.StatusAccepted {
		t.Fatalf("another FREE user: %d %v", got.code, got.body)
	}
}
