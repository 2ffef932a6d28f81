package generation

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

func TestLifecycleHappyPath(t *testing.T) {
	g := New("g1", "u", Pro, Request{Prompt: "p", Model: DefaultModel}, t0, time.Hour)
	steps := []struct {
		name string
		do   func() error
		want Status
		prog int
	}{
		{"claim", func() error { return g.Claim(1, t0, time.Minute) }, Processing, 10},
		{"submitted", func() error { return g.Submitted("task", t0, time.Hour) }, Processing, 30},
		{"first", func() error { return g.FirstReady([]Track{{ID: "a"}}, t0) }, Processing, 70},
		{"saving", func() error { return g.Saving([]Track{{ID: "a"}, {ID: "b"}}, t0) }, Processing, 90},
		{"complete", func() error { return g.Complete(nil, t0) }, Completed, 100},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if g.Status != s.want || g.Progress != s.prog {
			t.Fatalf("after %s: %s %d, want %s %d", s.name, g.Status, g.Progress, s.want, s.prog)
		}
	}
	if len(g.Tracks) != 2 || g.Attempts != 1 {
		t.Errorf("tracks %d attempts %d, want 2 tracks after 1 attempt", len(g.Tracks), g.Attempts)
	}
}

func TestDuplicatesAreNoOpsAndTerminalStatesAreFinal(t *testing.T) {
	g := New("g1", "u", Pro, Request{Prompt: "p"}, t0, time.Hour)
	_ = g.Claim(1, t0, time.Minute)
	if err := g.Claim(1, t0, time.Minute); !errors.Is(err, ErrNoChange) {
		t.Errorf("second claim within the lease: %v, want ErrNoChange", err)
	}
	_ = g.Submitted("task", t0, time.Hour)
	_ = g.FirstReady(nil, t0)
	if err := g.FirstReady(nil, t0); !errors.Is(err, ErrNoChange) {
		t.Errorf("second first-ready: %v, want ErrNoChange", err)
	}
	_ = g.Complete(nil, t0)
	if err := g.Complete(nil, t0); !errors.Is(err, ErrNoChange) {
		t.Errorf("second completion: %v, want ErrNoChange", err)
	}
	var te *TransitionError
	for name, err := range map[string]error{
		"cancel": g.Cancel(t0), "fail": g.Fail("x", t0), "retry": g.Retry("x", t0, t0), "saving": g.Saving(nil, t0),
	} {
		if !errors.As(err, &te) {
			t.Errorf("%s after completion: %v, want a TransitionError", name, err)
		}
	}
	if g.Status != Completed || g.Progress != 100 {
		t.Errorf("completed generation moved to %s %d", g.Status, g.Progress)
	}
}

func TestCancelledGenerationCannotBeClaimedOrCompleted(t *testing.T) {
	g := New("g1", "u", Free, Request{Prompt: "p"}, t0, time.Hour)
	if err := g.Cancel(t0); err != nil {
		t.Fatal(err)
	}
	var te *TransitionError
	if err := g.Claim(1, t0, time.Minute); !errors.As(err, &te) {
		t.Errorf("claim after cancel: %v", err)
	}
	if err := g.Complete(nil, t0); !errors.As(err, &te) {
		t.Errorf("complete after cancel: %v", err)
	}
}

// TestClaimIsHeldThenLapses: while its lease holds, a claim is held (another
// delivery waits); once it lapses without a submission the attempt is over
// (its worker died), and only the next attempt may claim.
func TestClaimIsHeldThenLapses(t *testing.T) {
	g := New("g1", "u", Free, Request{Prompt: "p"}, t0, time.Hour)
	_ = g.Claim(1, t0, time.Minute)
	if g.Claimable(1) || !g.ClaimHeld(1, t0.Add(30*time.Second)) || g.ClaimLapsed(1, t0.Add(30*time.Second)) {
		t.Error("while the lease holds the claim is held, not claimable nor lapsed")
	}
	if !g.Deadline.Equal(t0.Add(time.Minute)) {
		t.Errorf("deadline %s, want the lease's end so the sweeper looks then", g.Deadline)
	}
	if g.ClaimHeld(1, t0.Add(2*time.Minute)) || !g.ClaimLapsed(1, t0.Add(2*time.Minute)) {
		t.Error("after the lease the claim has lapsed")
	}
	if g.ClaimHeld(2, t0) || g.ClaimLapsed(2, t0.Add(time.Hour)) {
		t.Error("another attempt's job neither holds nor loses this claim")
	}
	_ = g.Submitted("task", t0, time.Hour)
	if g.ClaimHeld(1, t0) || g.ClaimLapsed(1, t0.Add(2*time.Minute)) {
		t.Error("a submitted attempt's claim is neither held nor lapsed")
	}
	_ = g.Retry("boom", t0, t0)
	if g.Claimable(1) || !g.Claimable(2) {
		t.Error("after a retry only attempt 2 may claim")
	}
}

func TestDeferDoesNotCountAnAttempt(t *testing.T) {
	g := New("g1", "u", Free, Request{Prompt: "p"}, t0, time.Hour)
	_ = g.Claim(1, t0, time.Minute)
	if err := g.Defer(t0, t0); err != nil {
		t.Fatal(err)
	}
	if g.Attempts != 0 || g.Status != Pending || !g.Claimable(1) {
		t.Errorf("after a rate-limit wait: attempts %d status %s", g.Attempts, g.Status)
	}
}

func TestRetryPolicy(t *testing.T) {
	p := DefaultRetryPolicy()
	cases := []struct {
		attempts int
		kind     FailureKind
		want     Decision
	}{
		{1, Transient, Decision{Retry: true, Delay: 2 * time.Second, CountsAsAttempt: true}},
		{2, Transient, Decision{Retry: true, Delay: 4 * time.Second, CountsAsAttempt: true}},
		{3, Transient, Decision{Retry: false, CountsAsAttempt: true}},
		{1, Permanent, Decision{Retry: false, CountsAsAttempt: true}},
		{3, RateLimited, Decision{Retry: true, Delay: 2 * time.Second, CountsAsAttempt: false}},
	}
	for _, c := range cases {
		if got := p.Decide(c.attempts, c.kind); got != c.want {
			t.Errorf("Decide(%d, %s) = %+v, want %+v", c.attempts, c.kind, got, c.want)
		}
	}
	if d := (RetryPolicy{BackoffBase: time.Minute, MaxBackoff: 5 * time.Minute}).Backoff(10); d != 5*time.Minute {
		t.Errorf("backoff is not capped: %v", d)
	}
}

func TestParseTier(t *testing.T) {
	for in, want := range map[string]Tier{"": Free, "pro": Pro, " ENTERPRISE ": Enterprise} {
		if got, err := ParseTier(in); err != nil || got != want {
			t.Errorf("ParseTier(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := ParseTier("GOLD"); err == nil {
		t.Error("GOLD accepted as a tier")
	}
	if Enterprise.Priority() != 1 || Premium.Priority() != 5 || Pro.Priority() != 10 || Free.Priority() != 20 {
		t.Error("priorities differ from the seed's")
	}
}

// A tier is named in ASCII letters of any case; letters that only
// upper-case to ASCII name no tier (the contract's pattern refuses them).
func TestTierNamedFoldsOnlyASCII(t *testing.T) {
	for in, want := range map[string]Tier{
		"pro": Pro, "Premium": Premium, "ENTERPRISE": Enterprise,
		"premıum": "PREMıUM", "ENTERPRIſE": "ENTERPRIſE",
	} {
		if got := TierNamed(in); got != want {
			t.Errorf("TierNamed(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := ParseTier("premıum"); err == nil {
		t.Error(`ParseTier("premıum") accepted a dotless i`)
	}
}
