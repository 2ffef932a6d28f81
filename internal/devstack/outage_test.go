package devstack_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/sunofake"
)

// Suno's bad days (DESIGN.md section 13), on both backends: a steady
// stream of songs from every tier while the fake Suno is in trouble and
// then fine again.
func init() {
	scenarios["SunoOutageLongerThanTheDeadline"] = scenarioOutageLongerThanTheDeadline
	scenarios["HeldPastMaxWaitFails"] = scenarioHeldPastMaxWaitFails
	scenarios["CreditReserveKeepsFreeSongsWaiting"] = scenarioCreditReserve
	scenarios["FailedSongsSayWhyInPlainWords"] = scenarioFailedSongsSayWhyInPlainWords
}

// TestSunoOutages streams songs through each kind of Suno trouble, one
// scenario at a time on each backend: a steady stream measures the
// service, and thirty scenarios at once on two cores would measure the
// emulator instead.
func TestSunoOutages(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, mode := range []sunofake.Mode{sunofake.ModeMaintenance, sunofake.ModeCredits, sunofake.ModeKeyRefused, sunofake.ModeHTTP503, sunofake.ModeDrop} {
				t.Run(string(mode), func(t *testing.T) { scenarioSunoOutage(t, b, mode) })
			}
			t.Run("OneOfThreeAccountsRunsDry", func(t *testing.T) { scenarioOneOfThreeAccountsRunsDry(t, b) })
		})
	}
}

// outageConfig is fastConfig with the breaker's times compressed: it opens
// on 3 suspect failures within 2 s, probes after 200 ms doubling to 1 s,
// and a held job looks again at least every 300 ms. The rate limit is low
// enough that a backlog drains in tier order.
func outageConfig(c *devstack.Config) {
	c.Pipeline.Health.Window = 2 * time.Second
	c.Pipeline.Health.Threshold = 3
	c.Pipeline.Health.ProbeFirst = 200 * time.Millisecond
	c.Pipeline.Health.ProbeMax = time.Second
	c.Pipeline.Health.Verdict = 300 * time.Millisecond
	c.Pipeline.HoldRecheck = 300 * time.Millisecond
	c.RateLimit.Rate, c.RateLimit.Window, c.RateLimit.Burst = 10, time.Second, 3
	// A claim must not lapse because the emulator, shared with every other
	// package's tests, took seconds over one transaction: a lapsed claim
	// spends an attempt, which these scenarios count.
	c.QueueSettings.VisibilityTimeout = 16 * time.Second
	c.Pipeline.ClaimLease = 14 * time.Second
	c.WorkerTimeout = 12 * time.Second
}

// sunoCounts are the submissions and credit reads that reached Suno, and
// the most credit reads (probes) under way at once, across every stack
// whose Suno client counted wraps.
type sunoCounts struct {
	submits, credits    atomic.Int64
	probing, maxProbing atomic.Int64
}

func (c *sunoCounts) wrap(s service.Suno) service.Suno { return &counted{Suno: s, c: c} }

// counted is a Suno client that counts its calls in c.
type counted struct {
	service.Suno
	c *sunoCounts
}

func (s *counted) Submit(ctx context.Context, r generation.Request, cb string) (string, error) {
	s.c.submits.Add(1)
	return s.Suno.Submit(ctx, r, cb)
}

func (s *counted) Credits(ctx context.Context) (int, error) {
	s.c.credits.Add(1)
	n := s.c.probing.Add(1)
	defer s.c.probing.Add(-1)
	for {
		m := s.c.maxProbing.Load()
		if n <= m || s.c.maxProbing.CompareAndSwap(m, n) {
			break
		}
	}
	return s.Suno.Credits(ctx)
}

// streamInterval is the time between two songs of a stream: the emulator
// serves the AWS backend's requests more slowly than the memory backend,
// and a stream it cannot keep up with measures moto, not the service.
func (b backend) streamInterval() time.Duration {
	if b.name == "aws" {
		return 100 * time.Millisecond
	}
	return 40 * time.Millisecond
}

type streamed struct {
	id   string
	tier generation.Tier
	c    client
}

// stream creates a song every interval, round-robin over the tiers,
// until stop is closed.
func stream(t *testing.T, s *devstack.Stack, interval time.Duration, stop <-chan struct{}) func() []streamed {
	users := map[generation.Tier]client{}
	for _, tier := range generation.Tiers {
		users[tier] = user(t, s, "stream-"+string(tier), tier)
	}
	var mu sync.Mutex
	var out []streamed
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			tier := generation.Tiers[i%len(generation.Tiers)]
			id, err := users[tier].tryCreate(fmt.Sprintf("steady stream %d", i))
			if err != nil {
				t.Errorf("create during the stream: %v", err)
				return
			}
			mu.Lock()
			out = append(out, streamed{id, tier, users[tier]})
			mu.Unlock()
		}
	}()
	return func() []streamed {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return out
	}
}

func scenarioSunoOutage(t *testing.T, b backend, mode sunofake.Mode) {
	counter := &sunoCounts{}
	s := startStack(t, b, outageConfig, devstack.Options{Options: app.Options{WrapSuno: counter.wrap}})
	stop := make(chan struct{})
	songs := stream(t, s, b.streamInterval(), stop)

	time.Sleep(400 * time.Millisecond)
	if err := s.Fake.SetTrouble("", mode, 0); err != nil {
		t.Fatal(err)
	}
	downAt, submitsBefore, creditsBefore := time.Now(), counter.submits.Load(), counter.credits.Load()
	outage := 2 * time.Second
	time.Sleep(outage)
	if err := s.Fake.SetTrouble("", sunofake.ModeOK, 0); err != nil {
		t.Fatal(err)
	}
	upAt := time.Now()
	duringSubmits, duringCredits := counter.submits.Load()-submitsBefore, counter.credits.Load()-creditsBefore
	time.Sleep(300 * time.Millisecond)
	close(stop)
	all := songs()

	// Every song completes, and none spent an attempt on the outage.
	type done struct {
		tier      generation.Tier
		submitted time.Time
		created   time.Time
	}
	var finished []done
	for _, song := range all {
		st := song.c.waitStatus(song.id, "finished", statusIs("completed", "failed", "cancelled"), 60*time.Second)
		if st["status"] != "completed" {
			t.Errorf("%s (%s): %v %v %v; want completed", song.id, song.tier, st["status"], st["errorCode"], st["error"])
			continue
		}
		if st["attempts"].(float64) != 1 {
			t.Errorf("%s (%s) took %v attempts; Suno's trouble must spend none", song.id, song.tier, st["attempts"])
		}
		g, err := s.Generations.Get(context.Background(), song.id)
		if err != nil {
			t.Fatal(err)
		}
		finished = append(finished, done{song.tier, g.SubmittedAt, g.CreatedAt})
	}

	// While Suno was down, submissions stopped once the breaker opened and
	// probes followed its schedule: a few submissions in flight or before
	// the threshold, then one probe at a time, 200 ms, 400, 800, 1 s ...
	probeBound := int64(2 + outage/(200*time.Millisecond)) // generous: the schedule's probes within the outage, plus the reads of credits
	submitBound := int64(3 + 4*s.Config.Concurrency)
	t.Logf("%s: %d songs; during %s of trouble Suno got %d submissions and %d credit reads (probes)", mode, len(all), outage, duringSubmits, duringCredits)
	if duringSubmits > submitBound {
		t.Errorf("%d submissions to a Suno in trouble; at most %d (the threshold and those in flight)", duringSubmits, submitBound)
	}
	if duringCredits > probeBound {
		t.Errorf("%d probes in %s; the schedule allows about %d", duringCredits, outage, probeBound)
	}
	if n := counter.maxProbing.Load(); n > 1 {
		t.Errorf("%d probes at once; one at a time", n)
	}

	// After recovery the held backlog went in tier order: the songs
	// created during the outage, ranked by submission, put ENTERPRISE's
	// before FREE's.
	var held []done
	last := upAt
	for _, d := range finished {
		if d.created.After(downAt) && d.created.Before(upAt) {
			held = append(held, d)
		}
		if d.submitted.After(last) {
			last = d.submitted
		}
	}
	sort.Slice(held, func(i, j int) bool { return held[i].submitted.Before(held[j].submitted) })
	rank := map[generation.Tier][]int{}
	for i, d := range held {
		rank[d.tier] = append(rank[d.tier], i)
	}
	mean := func(r []int) float64 {
		sum := 0
		for _, v := range r {
			sum += v
		}
		return float64(sum) / float64(max(len(r), 1))
	}
	t.Logf("%s: %d held songs drained in %s after recovery; mean submission rank E %.1f, P %.1f, PRO %.1f, F %.1f", mode, len(held), last.Sub(upAt).Round(10*time.Millisecond),
		mean(rank[generation.Enterprise]), mean(rank[generation.Premium]), mean(rank[generation.Pro]), mean(rank[generation.Free]))
	// The drain never went faster than the limiter allows. Its grants are
	// exact; the times seen here are the submitted writes', after the
	// claim and Suno's answer, whose jitter on a loaded machine can put
	// one more into a window (the margin absorbs the jitter up to Suno's
	// arrival, not after it): so the assertion is on the drain's rate,
	// and the busiest window is logged.
	var after []time.Time
	for _, d := range finished {
		if d.submitted.After(upAt) {
			after = append(after, d.submitted)
		}
	}
	slices.SortFunc(after, time.Time.Compare)
	limit, window := s.Config.RateLimit.Limit()
	most := 0
	for i, j := 0, 0; i < len(after); i++ {
		for after[i].Sub(after[j]) >= window {
			j++
		}
		most = max(most, i-j+1)
	}
	if len(after) > 1 {
		rate := float64(len(after)-1) / after[len(after)-1].Sub(after[0]).Seconds()
		t.Logf("%s: %d submissions after recovery at %.1f a second (the limit: %d per %s), at most %d in any %s", mode, len(after), rate, limit, window, most, window)
		if allowed := float64(limit) / window.Seconds(); rate > allowed {
			t.Errorf("the drain after recovery went at %.2f a second, over the limit's %.2f", rate, allowed)
		}
	}
	// On the emulator the order is blurred by its latency and by SQS's
	// whole-second delays, with a backlog too small to contend for tokens;
	// the memory backend measures the service.
	if b.name == "memory" && len(rank[generation.Enterprise]) > 0 && len(rank[generation.Free]) > 0 && mean(rank[generation.Enterprise]) >= mean(rank[generation.Free]) {
		t.Errorf("held ENTERPRISE songs went no sooner than FREE ones after recovery: ranks %v vs %v", rank[generation.Enterprise], rank[generation.Free])
	}
}

// An outage longer than an attempt's deadline: a song already at Suno is
// not failed for Suno's silence, and completes when Suno is back.
func scenarioOutageLongerThanTheDeadline(t *testing.T, b backend) {
	s := startStack(t, b, func(c *devstack.Config) {
		outageConfig(c)
		c.Pipeline.Deadline = time.Second
		c.FakeTextDelay, c.FakeFirstDelay, c.FakeCompleteDelay = 100*time.Millisecond, 200*time.Millisecond, 1500*time.Millisecond
		c.SweepInterval = 200 * time.Millisecond
	}, devstack.Options{})
	alice := user(t, s, "alice-deadline", generation.Pro)
	id := alice.create("at Suno when it goes down [fake:nocallback]")
	alice.waitStatus(id, "submitted", submitted, 10*time.Second)
	if err := s.Fake.SetTrouble("", sunofake.ModeHTTP503, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // three deadlines
	if st := alice.status(id); st["status"] != "processing" || st["attempts"].(float64) != 1 {
		t.Fatalf("during the outage: %v after %v attempts; want still processing its first", st["status"], st["attempts"])
	}
	if err := s.Fake.SetTrouble("", sunofake.ModeOK, 0); err != nil {
		t.Fatal(err)
	}
	st := alice.waitStatus(id, "completed", statusIs("completed", "failed"), 30*time.Second)
	if st["status"] != "completed" || st["attempts"].(float64) != 1 {
		t.Fatalf("after the outage: %v after %v attempts (%v); want completed at its first", st["status"], st["attempts"], st["error"])
	}
}

// A hold is bounded: a song held past GENERATION_MAX_WAIT fails with a
// clear reason and frees its quota slot.
func scenarioHeldPastMaxWaitFails(t *testing.T, b backend) {
	s := startStack(t, b, func(c *devstack.Config) {
		outageConfig(c)
		c.Pipeline.MaxWait = time.Second
		c.Pipeline.Quotas = map[generation.Tier]service.Quota{generation.Free: {Open: 1}}
	}, devstack.Options{})
	if err := s.Fake.SetTrouble("", sunofake.ModeMaintenance, 0); err != nil {
		t.Fatal(err)
	}
	bob := user(t, s, "bob-maxwait", generation.Free)
	id := bob.create("held too long")
	st := bob.waitStatus(id, "held", func(st map[string]any) bool { return st["waitReason"] != nil }, 10*time.Second)
	if st["status"] != "pending" || st["waitReason"] != "suno_unavailable" || st["message"] == "" {
		t.Fatalf("held song: %v", st)
	}
	// The statistics count it as held, not as waiting or delayed.
	if _, stats := bob.do("GET", "/api/queue/stats", nil); stats["held"] != 1.0 || stats["waiting"] != 0.0 || stats["delayed"] != 0.0 {
		t.Errorf("stats while one song is held: %v; want held 1, waiting 0, delayed 0", stats)
	}
	if a := bob.createFull("a second while the first is held", ""); a.code != http.StatusTooManyRequests {
		t.Fatalf("the open quota of 1 answered %d to a second song while the first was held", a.code)
	}
	st = bob.waitStatus(id, "failed", statusIs("failed", "completed"), 20*time.Second)
	if st["status"] != "failed" || st["errorCode"] != generation.CodeMaxWaitExceeded || st["error"] == "" {
		t.Fatalf("after the max wait: %v", st)
	}
	if _, err := bob.tryCreate("the slot is free again"); err != nil {
		t.Fatalf("the failed hold did not free the quota slot: %v", err)
	}
}

// The credit reserve: below it only paid tiers' songs are submitted; FREE
// songs wait, told why, and go once credits are back.
func scenarioCreditReserve(t *testing.T, b backend) {
	s := startStack(t, b, func(c *devstack.Config) {
		outageConfig(c)
		c.Pipeline.CreditReserve = 50
		c.Pipeline.CreditCheck = 200 * time.Millisecond
		c.SweepInterval = 200 * time.Millisecond
	}, devstack.Options{})
	if err := s.Fake.SetCredits("", 20); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // a sweep reads the credits
	free, pro := user(t, s, "free-reserve", generation.Free), user(t, s, "pro-reserve", generation.Pro)
	freeID := free.create("free while credits are low")
	proID := pro.create("pro while credits are low")
	if st := pro.waitStatus(proID, "completed", statusIs("completed", "failed"), 20*time.Second); st["status"] != "completed" {
		t.Fatalf("PRO song below the reserve: %v", st)
	}
	st := free.waitStatus(freeID, "held", func(st map[string]any) bool { return st["waitReason"] != nil }, 10*time.Second)
	if st["status"] != "pending" || st["waitReason"] != "suno_credits" {
		t.Fatalf("FREE song below the reserve: %v; want held for credits", st)
	}
	if err := s.Fake.SetCredits("", 1000); err != nil {
		t.Fatal(err)
	}
	if st := free.waitStatus(freeID, "completed", statusIs("completed", "failed"), 20*time.Second); st["status"] != "completed" {
		t.Fatalf("FREE song after the top-up: %v", st)
	}
}

// plainWords refuses what a person must never read in an error: a URL, a
// host name with a port, an address, a Go error chain.
var notPlain = regexp.MustCompile(`(?i)https?:|://|127\.0\.0\.1|localhost|\[::1\]|:\d{2,5}\b|suno: |dial tcp|EOF`)

// No user-facing error of a failed song carries a URL or a host: each
// failed song says why in a stable code and plain words.
func scenarioFailedSongsSayWhyInPlainWords(t *testing.T, b backend) {
	s := startStack(t, b, outageConfig, devstack.Options{})
	carol := user(t, s, "carol-plain", generation.Premium)
	for prompt, code := range map[string]string{
		"never works [fake:fail=10]":             generation.CodeAttemptsExhausted,
		"refused [fake:sensitive]":               generation.CodeContentRefused,
		"audio fails always [fake:audio-failed]": generation.CodeAttemptsExhausted,
	} {
		id := carol.create(prompt)
		st := carol.waitStatus(id, "failed", statusIs("failed", "completed"), 30*time.Second)
		msg, _ := st["error"].(string)
		if st["status"] != "failed" || st["errorCode"] != code || msg == "" {
			t.Errorf("%q: %v %v %q; want failed with %s", prompt, st["status"], st["errorCode"], msg, code)
		}
		if notPlain.MatchString(msg) {
			t.Errorf("%q: the error a user reads carries a URL, host or Go error: %q", prompt, msg)
		}
	}
}

// TestTwoWorkerProcessesShareOneBreaker: two stacks (two sets of workers,
// as two Lambda instances are) on one emulator's tables and queues, and
// one Suno. When Suno goes into maintenance both see one breaker, only
// one probe runs at a time, and an operator on either sees it; when Suno
// is back every song completes at its first attempt.
func TestTwoWorkerProcessesShareOneBreaker(t *testing.T) {
	b := backends[1] // aws
	fake := sunofake.New(sunofake.Config{TextDelay: 20 * time.Millisecond, FirstDelay: 40 * time.Millisecond, CompleteDelay: 80 * time.Millisecond})
	srv := httptest.NewServer(fake)
	t.Cleanup(func() { srv.Close(); fake.Close() })
	counter := &sunoCounts{}
	first := startStack(t, b, func(c *devstack.Config) { outageConfig(c); c.SunoBaseURL = srv.URL }, devstack.Options{Options: app.Options{WrapSuno: counter.wrap}})
	second := startStack(t, b, func(c *devstack.Config) {
		outageConfig(c)
		c.SunoBaseURL = srv.URL
		c.Names = first.Config.Names
	}, devstack.Options{Options: app.Options{WrapSuno: counter.wrap}})

	if err := fake.SetTrouble("", sunofake.ModeMaintenance, 0); err != nil {
		t.Fatal(err)
	}
	u := user(t, first, "two-workers", generation.Premium)
	var ids []string
	for i := range 12 {
		ids = append(ids, u.create(fmt.Sprintf("shared breaker %d", i)))
	}
	u.waitStatus(ids[0], "held", func(st map[string]any) bool { return st["waitReason"] == "suno_unavailable" }, 10*time.Second)
	time.Sleep(2 * time.Second)
	for _, s := range []*devstack.Stack{first, second} {
		code, body := admin(t, s).do("GET", "/api/admin/suno", nil)
		accounts, _ := body["accounts"].([]any)
		if code != http.StatusOK || len(accounts) != 1 {
			t.Fatalf("GET /api/admin/suno: %d %v", code, body)
		}
		a := accounts[0].(map[string]any)
		if a["state"] == "closed" || a["outage"] != "maintenance" || a["lastError"] == "" {
			t.Errorf("a stack sees the breaker %v; want open for maintenance", a)
		}
	}
	if n := counter.maxProbing.Load(); n != 1 {
		t.Errorf("%d probes at once across two worker processes; want exactly one at a time", n)
	}
	t.Logf("two processes, 2 s of maintenance: %d submissions and %d probes reached Suno", counter.submits.Load(), counter.credits.Load())
	if err := fake.SetTrouble("", sunofake.ModeOK, 0); err != nil {
		t.Fatal(err)
	}
	if code, _ := admin(t, second).do("POST", "/api/admin/suno/default/probe", nil); code != http.StatusAccepted {
		t.Errorf("probe now: %d", code)
	}
	for _, id := range ids {
		st := u.waitStatus(id, "completed", statusIs("completed", "failed"), 30*time.Second)
		if st["status"] != "completed" || st["attempts"].(float64) != 1 {
			t.Errorf("%s after the maintenance: %v, %v attempts", id, st["status"], st["attempts"])
		}
	}
}

// One of three Suno accounts runs out of credits mid-run: its breaker
// opens, the other two carry on, and no song fails or spends an attempt.
func scenarioOneOfThreeAccountsRunsDry(t *testing.T, b backend) {
	keys := []string{"key-one", "key-two", "key-three"}
	s := startStack(t, b, func(c *devstack.Config) {
		outageConfig(c)
		c.SunoKeys = nil
		for i, k := range keys {
			c.SunoKeys = append(c.SunoKeys, app.SecretRef{Name: fmt.Sprintf("SUNO_API_KEYS[%d]", i+1), Value: k})
		}
	}, devstack.Options{})
	stop := make(chan struct{})
	songs := stream(t, s, b.streamInterval(), stop)
	time.Sleep(600 * time.Millisecond)
	if err := s.Fake.SetCredits("key-two", 0); err != nil {
		t.Fatal(err)
	}
	dryAt := s.Fake.Accepted("key-two")
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	all := songs()
	for _, song := range all {
		st := song.c.waitStatus(song.id, "finished", statusIs("completed", "failed", "cancelled"), 60*time.Second)
		if st["status"] != "completed" || st["attempts"].(float64) != 1 {
			t.Errorf("%s (%s): %v after %v attempts (%v); want completed at its first", song.id, song.tier, st["status"], st["attempts"], st["errorCode"])
		}
	}
	one, two, three := s.Fake.Accepted("key-one"), s.Fake.Accepted("key-two"), s.Fake.Accepted("key-three")
	t.Logf("%d songs; accepted per account: one %d, two %d (%d before it ran dry), three %d", len(all), one, two, dryAt, three)
	if two != dryAt {
		t.Errorf("the account out of credits accepted %d more submissions after it ran dry", two-dryAt)
	}
	if one == 0 || three == 0 || one+two+three < len(all) {
		t.Errorf("accepted: %d, %d, %d for %d songs; want every song on the accounts with credits", one, two, three, len(all))
	}
	code, body := admin(t, s).do("GET", "/api/admin/suno", nil)
	accounts, _ := body["accounts"].([]any)
	if code != http.StatusOK || len(accounts) != 3 {
		t.Fatalf("GET /api/admin/suno: %d %v", code, body)
	}
	if a := accounts[1].(map[string]any); a["account"] != "account-2" || a["state"] == "closed" || a["outage"] != "credits" {
		t.Errorf("account-2 after running dry: %v; want open for credits", a)
	}
}
