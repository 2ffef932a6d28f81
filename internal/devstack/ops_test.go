package devstack_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// The operators' side (DESIGN.md sections 3 and 10): exact statistics,
// retry, pause, dead letters, and the owners' deletes.

func admin(t *testing.T, s *devstack.Stack) client {
	tok, err := s.Tokens.Mint("ops-1", generation.Enterprise, time.Hour, "admin")
	if err != nil {
		t.Fatal(err)
	}
	return client{t, s, tok}
}

// tierStats is one tier's (or the total's) counts from GET /api/queue/stats.
type tierStats struct{ Waiting, Delayed, Held, Active, Completed, Failed, Cancelled, Total int }

func (c client) stats() (total tierStats, byTier map[generation.Tier]tierStats) {
	c.t.Helper()
	code, body := c.do("GET", "/api/queue/stats", nil)
	if code != http.StatusOK {
		c.t.Fatalf("stats: %d %v", code, body)
	}
	read := func(m map[string]any) tierStats {
		n := func(k string) int { f, _ := m[k].(float64); return int(f) }
		return tierStats{n("waiting"), n("delayed"), n("held"), n("active"), n("completed"), n("failed"), n("cancelled"), n("total")}
	}
	byTier = map[generation.Tier]tierStats{}
	tiers, _ := body["byTier"].(map[string]any)
	for _, t := range generation.Tiers {
		m, _ := tiers[string(t)].(map[string]any)
		byTier[t] = read(m)
	}
	return read(body), byTier
}

// waitStatus polls id until ok holds.
func (c client) waitStatus(id, what string, ok func(map[string]any) bool, timeout time.Duration) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := c.status(id)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s never became %s: %v", id, what, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func statusIs(want ...string) func(map[string]any) bool {
	return func(st map[string]any) bool {
		for _, w := range want {
			if st["status"] == w {
				return true
			}
		}
		return false
	}
}

func submitted(st map[string]any) bool {
	p, _ := st["progress"].(float64)
	return st["status"] == "processing" && p >= generation.ProgressSubmitted
}

func scenarioStatsCountGenerationsExactly(t *testing.T, b backend) {
	s := startStack(t, b, func(c *devstack.Config) {
		// A backoff long enough to be seen.
		c.Pipeline.Retry.BackoffBase = 3 * time.Second
	}, devstack.Options{})
	pro := user(t, s, "pro-1", generation.Pro)
	free := user(t, s, "free-1", generation.Free)

	var ids []string
	for i := range 6 {
		ids = append(ids, pro.create(fmt.Sprintf("song %d [fake:slow=2500ms]", i)))
	}
	for _, id := range ids {
		pro.waitStatus(id, "submitted", submitted, 10*time.Second)
	}
	// Six songs at Suno, each with a poll message in its queue: six
	// active generations, nothing waiting or delayed.
	total, byTier := pro.stats()
	if want := (tierStats{Active: 6, Total: 6}); byTier[generation.Pro] != want || total != want {
		t.Errorf("while six PRO songs run: PRO %+v, total %+v; want %+v", byTier[generation.Pro], total, want)
	}

	// A failed attempt waits out its backoff: delayed, not waiting.
	retried := free.create("fails once [fake:fail=1]")
	free.waitStatus(retried, "pending again after a failed attempt", func(st map[string]any) bool {
		a, _ := st["attempts"].(float64)
		return st["status"] == "pending" && a == 1
	}, 10*time.Second)
	if _, byTier := free.stats(); byTier[generation.Free] != (tierStats{Delayed: 1, Total: 1}) {
		t.Errorf("during the backoff: FREE %+v; want one delayed", byTier[generation.Free])
	}

	for _, id := range append(ids, retried) {
		pro.t.Helper()
		owner := pro
		if id == retried {
			owner = free
		}
		owner.waitStatus(id, "completed", statusIs("completed"), 20*time.Second)
	}
	total, byTier = pro.stats()
	if byTier[generation.Pro] != (tierStats{Completed: 6, Total: 6}) || byTier[generation.Free] != (tierStats{Completed: 1, Total: 1}) ||
		total != (tierStats{Completed: 7, Total: 7}) {
		t.Errorf("after the end: PRO %+v, FREE %+v, total %+v; want everything completed, nothing waiting, delayed or active",
			byTier[generation.Pro], byTier[generation.Free], total)
	}
}

func scenarioAdminRetriesAFailedGeneration(t *testing.T, b backend) {
	s := startStack(t, b, nil, devstack.Options{})
	owner := user(t, s, "unlucky", generation.Free)
	ops := admin(t, s)
	sock := owner.dial()
	prompt := "fails three times [fake:fail=3]"
	id := owner.create(prompt)
	if ev := sock.waitFinal(t, id, 15*time.Second); ev.Event != service.EventError {
		t.Fatalf("first run ended with %v, want generation:error after its three attempts", ev)
	}
	if code, body := ops.do("POST", "/api/admin/generations/"+id+"/retry", nil); code != http.StatusOK || body["status"] != "pending" || body["userId"] != "unlucky" {
		t.Fatalf("retry: %d %v; want 200 pending, with its owner", code, body)
	}
	// The owner sees it move again, to the end, under the same id.
	done := sock.wait(t, "completion after the retry", func(e event) bool {
		return e.id() == id && e.Event == service.EventComplete
	}, 15*time.Second)
	if done.status() != "completed" {
		t.Fatalf("after the retry: %v", done)
	}
	st := owner.status(id)
	if st["status"] != "completed" || st["attempts"].(float64) != 1 || st["error"] != "" {
		t.Errorf("status after the retry: %v; want completed in its first fresh attempt, no error", st)
	}
	if n := s.Fake.SubmissionsFor(prompt); n != 4 {
		t.Errorf("Suno saw %d submissions, want 3 failed and 1 after the retry", n)
	}
	if code, body := ops.do("POST", "/api/admin/generations/"+id+"/retry", nil); code != http.StatusConflict || errCode(body) != "not_failed" {
		t.Errorf("retry of a completed generation: %d %v; want 409 not_failed", code, body)
	}
	if code, _ := ops.do("POST", "/api/admin/generations/no-such-id/retry", nil); code != http.StatusNotFound {
		t.Errorf("retry of an unknown generation: %d, want 404", code)
	}
	if _, byTier := owner.stats(); byTier[generation.Free] != (tierStats{Completed: 1, Total: 1}) {
		t.Errorf("stats after the retry: FREE %+v, want one completed and no failed", byTier[generation.Free])
	}
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func scenarioPausedTierSubmitsNothingUntilResumed(t *testing.T, b backend) {
	fast := func(c *devstack.Config) { c.Pipeline.PauseRecheck = 200 * time.Millisecond }
	s := startStack(t, b, fast, devstack.Options{})
	ops := admin(t, s)
	if code, body := ops.do("POST", "/api/admin/queues/pro/pause", nil); code != http.StatusOK || body["paused"] != true || body["tier"] != "PRO" {
		t.Fatalf("pause: %d %v", code, body)
	}
	pro := user(t, s, "pro-2", generation.Pro)
	free := user(t, s, "free-2", generation.Free)
	var ids, prompts []string
	for i := range 3 {
		p := fmt.Sprintf("paused song %d", i)
		prompts = append(prompts, p)
		ids = append(ids, pro.create(p)) // creates are still accepted
	}
	other := free.create("another tier goes on")
	free.waitStatus(other, "completed", statusIs("completed"), 10*time.Second)

	// A second stack on the same tables is another set of workers after a
	// restart: the pause holds there too. (The memory backend's state
	// lives and dies with its process.)
	var second *devstack.Stack
	if b.name == "aws" {
		second = startStack(t, b, func(c *devstack.Config) {
			fast(c)
			c.Names = s.Config.Names
		}, devstack.Options{})
	}
	time.Sleep(3 * time.Second)
	for i, id := range ids {
		if st := pro.status(id); st["status"] != "pending" || st["attempts"].(float64) != 0 {
			t.Errorf("paused %s: %v; want pending, never attempted", id, st)
		}
		if n := submissions(prompts[i], s, second); n != 0 {
			t.Errorf("%q reached Suno %d times while its tier was paused", prompts[i], n)
		}
	}
	if _, byTier := pro.stats(); byTier[generation.Pro] != (tierStats{Held: 3, Total: 3}) {
		t.Errorf("stats while paused: PRO %+v; want 3 held (tier_paused)", byTier[generation.Pro])
	}
	resumeVia := ops
	if second != nil {
		resumeVia = admin(t, second)
		code, body := resumeVia.do("GET", "/api/admin/queues", nil)
		queues, _ := body["queues"].(map[string]any)
		if q, _ := queues["PRO"].(map[string]any); code != http.StatusOK || q["paused"] != true {
			t.Fatalf("the restarted stack sees queues %d %v; want PRO paused", code, body)
		}
	}
	if code, body := resumeVia.do("POST", "/api/admin/queues/PRO/resume", nil); code != http.StatusOK || body["paused"] != false {
		t.Fatalf("resume: %d %v", code, body)
	}
	for _, id := range ids {
		pro.waitStatus(id, "completed after the resume", statusIs("completed"), 15*time.Second)
	}
	for _, p := range prompts {
		if n := submissions(p, s, second); n != 1 {
			t.Errorf("%q was submitted %d times, want once", p, n)
		}
	}
	if code, body := ops.do("POST", "/api/admin/queues/GOLD/pause", nil); code != http.StatusBadRequest || errCode(body) != "unknown_tier" {
		t.Errorf("pause of an unknown tier: %d %v; want 400 unknown_tier", code, body)
	}
}

// submissions counts what the stacks' fake Suno servers saw of prompt.
func submissions(prompt string, stacks ...*devstack.Stack) int {
	n := 0
	for _, s := range stacks {
		if s != nil {
			n += s.Fake.SubmissionsFor(prompt)
		}
	}
	return n
}

func scenarioAdminRoutesAreForAdminsOnly(t *testing.T, b backend) {
	s := startStack(t, b, nil, devstack.Options{})
	ann := user(t, s, "ann", generation.Premium)
	bob := user(t, s, "bob", generation.Free)
	ops := admin(t, s)
	a1 := ann.create("ann's song")
	b1 := bob.create("bob's song [fake:sensitive]")
	ann.waitStatus(a1, "completed", statusIs("completed"), 10*time.Second)
	bob.waitStatus(b1, "failed", statusIs("failed"), 10*time.Second)

	routes := []struct{ method, path string }{
		{"GET", "/api/admin/generations"},
		{"POST", "/api/admin/generations/" + b1 + "/retry"},
		{"GET", "/api/admin/queues"},
		{"POST", "/api/admin/queues/FREE/pause"},
		{"POST", "/api/admin/queues/FREE/resume"},
		{"GET", "/api/admin/deadletters"},
		{"POST", "/api/admin/deadletters/redrive"},
	}
	anonymous := client{t, s, ""}
	for _, r := range routes {
		if code, body := ann.do(r.method, r.path, nil); code != http.StatusForbidden || errCode(body) != "forbidden" {
			t.Errorf("%s %s as a user: %d %v; want 403 forbidden", r.method, r.path, code, body)
		}
		if code, _ := anonymous.do(r.method, r.path, nil); code != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d; want 401", r.method, r.path, code)
		}
	}
	// Nothing those refusals asked for happened.
	if st := bob.status(b1); st["status"] != "failed" {
		t.Errorf("bob's generation after a refused retry: %v", st)
	}
	code, body := ops.do("GET", "/api/admin/queues", nil)
	queues, _ := body["queues"].(map[string]any)
	if q, _ := queues["FREE"].(map[string]any); code != http.StatusOK || q["paused"] != false {
		t.Errorf("queues after refused pauses: %d %v", code, body)
	}

	list := func(query string) []string {
		t.Helper()
		code, body := ops.do("GET", "/api/admin/generations"+query, nil)
		if code != http.StatusOK {
			t.Fatalf("admin list %s: %d %v", query, code, body)
		}
		var out []string
		items, _ := body["items"].([]any)
		for _, it := range items {
			m := it.(map[string]any)
			out = append(out, m["userId"].(string)+":"+m["status"].(string))
		}
		return out
	}
	if got := list(""); len(got) != 2 || got[0] != "bob:failed" || got[1] != "ann:completed" {
		t.Errorf("every generation, newest first: %v", got)
	}
	if got := list("?status=failed"); len(got) != 1 || got[0] != "bob:failed" {
		t.Errorf("failed ones: %v", got)
	}
	if got := list("?tier=premium&user=ann"); len(got) != 1 || got[0] != "ann:completed" {
		t.Errorf("ann's PREMIUM ones: %v", got)
	}
	if got := list("?user=nobody"); len(got) != 0 {
		t.Errorf("nobody's: %v", got)
	}
	if code, body := ops.do("GET", "/api/admin/generations?status=lost", nil); code != http.StatusBadRequest || errCode(body) != "invalid_status" {
		t.Errorf("unknown status filter: %d %v; want 400 invalid_status", code, body)
	}
}

func scenarioOwnersDeleteFinishedGenerations(t *testing.T, b backend) {
	s := startStack(t, b, nil, devstack.Options{})
	ann := user(t, s, "ann", generation.Pro)
	bob := user(t, s, "bob", generation.Pro)
	done := ann.create("a finished song")
	ann.waitStatus(done, "completed", statusIs("completed"), 10*time.Second)
	running := ann.create("a long song [fake:slow=5s]")
	ann.waitStatus(running, "submitted", submitted, 10*time.Second)

	if code, body := ann.do("DELETE", "/api/generation/"+running, nil); code != http.StatusConflict || errCode(body) != "not_finished" {
		t.Errorf("delete while running: %d %v; want 409 not_finished", code, body)
	}
	if code, _ := bob.do("DELETE", "/api/generation/"+done, nil); code != http.StatusNotFound {
		t.Errorf("bob deletes ann's: %d, want 404", code)
	}
	if st := ann.status(done); st["status"] != "completed" {
		t.Fatalf("ann's song after bob's delete: %v", st)
	}
	if code, body := ann.do("DELETE", "/api/generation/"+done, nil); code != http.StatusNoContent {
		t.Fatalf("delete a finished song: %d %v; want 204", code, body)
	}
	if code, _ := ann.do("GET", "/api/generation/status/"+done, nil); code != http.StatusNotFound {
		t.Errorf("status of a deleted song: %d, want 404", code)
	}
	if code, _ := ann.do("DELETE", "/api/generation/"+done, nil); code != http.StatusNotFound {
		t.Errorf("second delete: %d, want 404", code)
	}
	_, list := ann.do("GET", "/api/generation", nil)
	if items, _ := list["items"].([]any); len(items) != 1 {
		t.Errorf("history after the delete: %v; want only the running song", list)
	}
	if _, byTier := ann.stats(); byTier[generation.Pro] != (tierStats{Active: 1, Total: 1}) {
		t.Errorf("stats after the delete: PRO %+v; want the running song alone", byTier[generation.Pro])
	}
	if code, _ := ann.do("POST", "/api/generation/"+running+"/cancel", nil); code != http.StatusOK {
		t.Fatal("cancel failed")
	}
	if code, _ := ann.do("DELETE", "/api/generation/"+running, nil); code != http.StatusNoContent {
		t.Errorf("delete a cancelled song: %d, want 204", code)
	}
	if total, _ := ann.stats(); total != (tierStats{}) {
		t.Errorf("stats with everything deleted: %+v; want zeros", total)
	}
}

func scenarioDeadLettersAreListedAndRedriven(t *testing.T, b backend) {
	s := startStack(t, b, func(c *devstack.Config) {
		c.QueueSettings.MaxReceiveCount = 2
		c.QueueSettings.VisibilityTimeout = time.Second
		c.Pipeline.ClaimLease, c.WorkerTimeout = 900*time.Millisecond, 800*time.Millisecond // below it (Config.Check)
	}, devstack.Options{})
	ops := admin(t, s)
	// A job no worker can run fails on every delivery and is set aside.
	poison := service.Job{Kind: "unknown-kind", GenerationID: "g-poison", Tier: generation.Free, EnqueuedAt: time.Now()}
	if err := s.Queue.Send(context.Background(), poison, 0); err != nil {
		t.Fatal(err)
	}
	var items []any
	deadline := time.Now().Add(15 * time.Second)
	for len(items) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the poison job never reached the dead-letter queue")
		}
		time.Sleep(200 * time.Millisecond)
		code, body := ops.do("GET", "/api/admin/deadletters?tier=FREE", nil)
		if code != http.StatusOK {
			t.Fatalf("dead letters: %d %v", code, body)
		}
		items, _ = body["items"].([]any)
	}
	d := items[0].(map[string]any)
	job, _ := d["job"].(map[string]any)
	if len(items) != 1 || d["tier"] != "FREE" || job["generationId"] != "g-poison" || job["kind"] != "unknown-kind" {
		t.Fatalf("dead letters: %v; want the poison job", items)
	}
	// Looking did not take it out.
	code, body := ops.do("GET", "/api/admin/queues", nil)
	queues, _ := body["queues"].(map[string]any)
	if q, _ := queues["FREE"].(map[string]any); code != http.StatusOK || q["deadLetters"] != float64(1) {
		t.Fatalf("queues after looking: %d %v; want FREE with 1 dead letter", code, body)
	}
	// The stats name them as the admin view does: deadLetters.
	code, body = ops.do("GET", "/api/queue/stats", nil)
	byTier, _ := body["byTier"].(map[string]any)
	if free, _ := byTier["FREE"].(map[string]any); code != http.StatusOK || body["deadLetters"] != float64(1) || free["deadLetters"] != float64(1) {
		t.Fatalf("stats with a dead letter: %d %v; want deadLetters 1, in all and in FREE", code, body)
	}
	code, body = ops.do("POST", "/api/admin/deadletters/redrive?tier=free", nil)
	moved, _ := body["moved"].(map[string]any)
	if code != http.StatusOK || body["total"] != float64(1) || moved["FREE"] != float64(1) {
		t.Fatalf("redrive: %d %v; want one FREE message moved", code, body)
	}
	if code, body := ops.do("POST", "/api/admin/deadletters/redrive?tier=GOLD", nil); code != http.StatusBadRequest || errCode(body) != "unknown_tier" {
		t.Errorf("redrive of an unknown tier: %d %v; want 400 unknown_tier", code, body)
	}
}
