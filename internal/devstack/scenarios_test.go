package devstack_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

const waitLong = 15 * time.Second

func progressSeq(evs []event) []int {
	var out []int
	for _, e := range evs {
		if e.Event == service.EventProgress && e.status() == "processing" {
			out = append(out, e.progress())
		}
	}
	return out
}

func scenarioFullLifecycle(t *testing.T, b backend) {
	s := startStack(t, b, nil, devstack.Options{})
	alice := user(t, s, "alice", generation.Premium)
	ws := alice.dial()

	// Slow enough that each stage's push goes out before the next stage
	// (a push of a state already superseded is skipped by design).
	id := alice.create("a song about the sea [fake:slow=1500ms]")
	final := ws.waitFinal(t, id, waitLong)
	quiet()

	if final.Event != service.EventComplete {
		t.Fatalf("final event = %v, want generation:complete", final)
	}
	evs := ws.events(id)
	if got, want := progressSeq(evs), []int{10, 30, 70, 90}; !slices.Equal(got, want) {
		t.Errorf("progress events = %v, want %v in order", got, want)
	}
	if n := count(evs, service.EventComplete); n != 1 {
		t.Errorf("%d completion events, want exactly 1: %v", n, evs)
	}
	if url, _ := final.Data["audioUrl"].(string); url == "" {
		t.Errorf("completion without audioUrl: %v", final.Data)
	}
	st := alice.status(id)
	if st["status"] != "completed" || st["progress"].(float64) != 100 || st["attempts"].(float64) != 1 {
		t.Errorf("status after completion = %v", st)
	}
	if tracks := st["tracks"].([]any); len(tracks) == 0 {
		t.Errorf("completed generation has no tracks")
	}
	if st["tier"] != "PREMIUM" {
		t.Errorf("tier = %v, want PREMIUM from the token", st["tier"])
	}
}

func scenarioTransientFailuresAreRetriedWithBackoff(t *testing.T, b backend) {
	s := startStack(t, b, nil, devstack.Options{})
	bob := user(t, s, "bob", generation.Pro)
	ws := bob.dial()

	id := bob.create("two bad days then sunshine [fake:fail=2]")
	final := ws.waitFinal(t, id, waitLong)
	if final.Event != service.EventComplete {
		t.Fatalf("final = %v, want complete after retries", final)
	}
	st := bob.status(id)
	if st["attempts"].(float64) != 3 {
		t.Errorf("attempts = %v, want 3", st["attempts"])
	}
	// Each claim (progress 10) follows the failure before it by at least
	// the backoff: 40 ms, then 80 ms.
	var claims []time.Time
	for _, e := range ws.events(id) {
		if e.Event == service.EventProgress && e.progress() == 10 {
			claims = append(claims, e.At)
		}
	}
	if len(claims) != 3 {
		t.Fatalf("%d claims, want 3: %v", len(claims), ws.events(id))
	}
	base := 40 * time.Millisecond
	for i, want := range []time.Duration{base, 2 * base} {
		if gap := claims[i+1].Sub(claims[i]); gap < want {
			t.Errorf("attempt %d started %v after attempt %d, want at least the %v backoff", i+2, gap, i+1, want)
		}
	}
	if n := s.Fake.SubmissionsFor("two bad days then sunshine [fake:fail=2]"); n != 3 {
		t.Errorf("Suno saw %d submissions, want 3", n)
	}
}

func scenarioPermanentErrorFailsAtOnce(t *testing.T, b backend) {
	s := startStack(t, b, nil, devstack.Options{})
	u := user(t, s, "carol", generation.Free)
	ws := u.dial()

	id := u.create("a forbidden song [fake:sensitive]")
	final := ws.waitFinal(t, id, waitLong)
	if final.Event != service.EventError || final.status() != "failed" {
		t.Fatalf("final = %v, want generation:error with status failed", final)
	}
	if msg, _ := final.Data["error"].(string); msg == "" {
		t.Errorf("error event without a reason: %v", final.Data)
	}
	st := u.status(id)
	if st["attempts"].(float64) != 1 || st["status"] != "failed" {
		t.Errorf("status = %v, want failed after 1 attempt", st)
	}
}

func scenarioRetriesExhausted(t *testing.T, b backend) {
	s := startStack(t, b, nil, devstack.Options{})
	u := user(t, s, "dave", generation.Free)
	ws := u.dial()

	prompt := "never works [fake:fail=10]"
	id := u.create(prompt)
	final := ws.waitFinal(t, id, waitLong)
	if final.Event != service.EventError {
		t.Fatalf("final = %v, want generation:error", final)
	}
	quiet()
	if n := s.Fake.SubmissionsFor(prompt); n != 3 {
		t.Errorf("Suno saw %d submissions, want 3 (GENERATION_MAX_ATTEMPTS)", n)
	}
	if st := u.status(id); st["attempts"].(float64) != 3 || st["status"] != "failed" {
		t.Errorf("status = %v, want failed after 3 attempts", st)
	}
}

func scenarioCancelRunningJob(t *testing.T, b backend) {
	s := startStack(t, b, nil, devstack.Options{})
	u := user(t, s, "erin", generation.Pro)
	ws := u.dial()

	id := u.create("a long one [fake:slow=800ms]")
	ws.wait(t, "submission", func(e event) bool { return e.id() == id && e.progress() == 30 }, waitLong)
	code, body := u.do("POST", "/api/generation/"+id+"/cancel", nil)
	if code != http.StatusOK || body["status"] != "cancelled" {
		t.Fatalf("cancel = %d %v", code, body)
	}
	ws.wait(t, "cancelled event", func(e event) bool { return e.id() == id && e.Event == service.EventCancelled }, waitLong)
	time.Sleep(1200 * time.Millisecond) // past the song's completion at Suno
	evs := ws.events(id)
	if n := count(evs, service.EventComplete); n != 0 {
		t.Errorf("a cancelled generation completed: %v", evs)
	}
	if st := u.status(id); st["status"] != "cancelled" {
		t.Errorf("status = %v, want cancelled", st["status"])
	}
	code, body = u.do("POST", "/api/generation/"+id+"/cancel", nil)
	if code != http.StatusOK {
		t.Errorf("second cancel = %d %v, want 200 (already cancelled)", code, body)
	}
}

func scenarioCancelQueuedJob(t *testing.T, b backend) {
	// One token every 5 s: the second job waits in the queue.
	s := startStack(t, b, func(c *devstack.Config) { c.RateLimit.Rate = 0.2 }, devstack.Options{})
	u := user(t, s, "frank", generation.Free)
	ws := u.dial()

	first := u.create("takes the only token")
	ws.wait(t, "first claimed", func(e event) bool { return e.id() == first && e.progress() == 10 }, waitLong)
	queued := u.create("waits for a token")
	code, body := u.do("POST", "/api/generation/"+queued+"/cancel", nil)
	if code != http.StatusOK || body["status"] != "cancelled" {
		t.Fatalf("cancel queued = %d %v", code, body)
	}
	ws.wait(t, "cancelled event", func(e event) bool { return e.id() == queued && e.Event == service.EventCancelled }, waitLong)
	if n := s.Fake.SubmissionsFor("waits for a token"); n != 0 {
		t.Errorf("a job cancelled while queued reached Suno %d times", n)
	}
	ws.waitFinal(t, first, waitLong)
	code, body = u.do("POST", "/api/generation/"+first+"/cancel", nil)
	if code != http.StatusConflict {
		t.Errorf("cancel of a completed generation = %d %v, want 409", code, body)
	}
}

func scenarioUsersSeeOnlyTheirOwnGenerations(t *testing.T, b backend) {
	s := startStack(t, b, nil, devstack.Options{})
	alice := user(t, s, "alice", generation.Enterprise)
	mallory := user(t, s, "mallory", generation.Enterprise)
	aliceWS, malloryWS := alice.dial(), mallory.dial()

	id := alice.create("alice's private song")
	aliceWS.waitFinal(t, id, waitLong)
	quiet()
	for _, e := range malloryWS.events("") {
		if e.Event != "pong" {
			t.Errorf("mallory received %v", e)
		}
	}
	if code, body := mallory.do("GET", "/api/generation/status/"+id, nil); code != http.StatusNotFound {
		t.Errorf("mallory reads alice's generation: %d %v, want 404", code, body)
	}
	if code, _ := mallory.do("POST", "/api/generation/"+id+"/cancel", nil); code != http.StatusNotFound {
		t.Errorf("mallory cancels alice's generation: %d, want 404", code)
	}
	_, list := mallory.do("GET", "/api/generation", nil)
	if items := list["items"].([]any); len(items) != 0 {
		t.Errorf("mallory's list shows %d generations, want none", len(items))
	}
	malloryWS.send(t, `{"action":"sync"}`)
	sync := malloryWS.wait(t, "sync", func(e event) bool { return e.Event == "sync" }, waitLong)
	if gens := sync.Data["generations"].([]any); len(gens) != 0 {
		t.Errorf("mallory's sync shows %v", gens)
	}
}

func scenarioCompletionByPollingWhenNoCallbackComes(t *testing.T, b backend) {
	s := startStack(t, b, nil, devstack.Options{})
	u := user(t, s, "gina", generation.Premium)
	ws := u.dial()

	id := u.create("silent suno [fake:nocallback]")
	final := ws.waitFinal(t, id, waitLong)
	if final.Event != service.EventComplete {
		t.Fatalf("final = %v, want completion by polling", final)
	}
	if got, want := progressSeq(ws.events(id)), []int{10, 30, 70, 90}; !slices.Equal(got, want) {
		t.Errorf("progress = %v, want %v", got, want)
	}
}

func scenarioDuplicateDeliveryDoesNotSubmitTwice(t *testing.T, b backend) {
	s := startStack(t, b, nil, devstack.Options{})
	u := user(t, s, "hank", generation.Pro)
	ws := u.dial()

	prompt := "delivered twice"
	id := u.create(prompt)
	// SQS may deliver a message more than once: send copies of the job.
	job := service.Job{Kind: service.JobGenerate, GenerationID: id, Tier: generation.Pro, Attempt: 1, EnqueuedAt: time.Now()}
	for range 3 {
		if err := s.Queue.Send(context.Background(), job, 0); err != nil {
			t.Fatal(err)
		}
	}
	ws.waitFinal(t, id, waitLong)
	quiet()
	if n := s.Fake.SubmissionsFor(prompt); n != 1 {
		t.Errorf("Suno saw %d submissions, want 1", n)
	}
	if n := count(ws.events(id), service.EventComplete); n != 1 {
		t.Errorf("%d completions, want 1", n)
	}
}

func scenarioSyncReportsStateAfterReconnect(t *testing.T, b backend) {
	s := startStack(t, b, nil, devstack.Options{})
	u := user(t, s, "ivy", generation.Pro)
	id := u.create("made while offline")
	// No socket was open: a client that connects now asks for the state.
	deadline := time.Now().Add(waitLong)
	for u.status(id)["status"] != "completed" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	ws := u.dial()
	ws.send(t, `{"action":"sync"}`)
	sync := ws.wait(t, "sync", func(e event) bool { return e.Event == "sync" }, waitLong)
	gens := sync.Data["generations"].([]any)
	if len(gens) != 1 {
		t.Fatalf("sync = %v, want the one generation", sync.Data)
	}
	g := gens[0].(map[string]any)
	if g["event"] != service.EventComplete || g["data"].(map[string]any)["generationId"] != id {
		t.Errorf("sync entry = %v, want its completion", g)
	}
}

func scenarioServesThePageAndDemoUsers(t *testing.T, b backend) {
	page := fstest.MapFS{"index.html": {Data: []byte("<title>songqueue</title>")}}
	s := startStack(t, b, nil, devstack.Options{Page: http.FileServerFS(page)})
	resp, err := http.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "songqueue") {
		t.Errorf("GET / = %d %q", resp.StatusCode, body)
	}
	resp, err = http.Get(s.URL + "/api/dev/users")
	if err != nil {
		t.Fatal(err)
	}
	var users struct{ Users []devstack.DemoUser }
	_ = json.NewDecoder(resp.Body).Decode(&users)
	resp.Body.Close()
	if len(users.Users) != 5 {
		t.Fatalf("demo users = %+v, want one per tier and an operator", users)
	}
	for _, u := range users.Users {
		c := client{t, s, u.Token}
		if code, body := c.do("GET", "/api/generation", nil); code != http.StatusOK {
			t.Errorf("demo token of %s refused: %d %v", u.Tier, code, body)
		}
		// Only the operator opens the operator routes.
		want := http.StatusForbidden
		if u.UserID == "demo-admin" {
			want = http.StatusOK
		}
		if code, _ := c.do("GET", "/api/admin/queues", nil); code != want {
			t.Errorf("demo user %s on /api/admin/queues: %d, want %d", u.UserID, code, want)
		}
	}
	// A shell's one-liner: TOKEN=$(curl -s .../api/dev/token?tier=FREE).
	for query, want := range map[string]string{"?tier=free": "demo-free", "?user=demo-admin": "demo-admin", "": "demo-pro"} {
		resp, err := http.Get(s.URL + "/api/dev/token" + query)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		c, err := s.Tokens.Verify(context.Background(), strings.TrimSpace(string(raw)))
		if resp.StatusCode != http.StatusOK || err != nil || c.UserID != want {
			t.Errorf("/api/dev/token%s = %d %q (%v), want %s's token", query, resp.StatusCode, raw, err, want)
		}
	}
	// As every route that takes a tier: 400 unknown_tier.
	resp, err = http.Get(s.URL + "/api/dev/token?tier=GOLD")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(string(raw), "unknown_tier") {
		t.Errorf("/api/dev/token?tier=GOLD = %d %q; want 400 unknown_tier", resp.StatusCode, raw)
	}
}
