package ratelimit

import (
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

func TestAloneEachTierGetsTheFullRate(t *testing.T) {
	p := Policy{Rate: 10}
	for _, tier := range generation.Tiers {
		start := time.Unix(1000, 0)
		var tat time.Time
		granted := 0
		// Ask every 10 ms for 10 s: the bucket must hand out ~rate×10 tokens.
		for now := start; now.Before(start.Add(10 * time.Second)); now = now.Add(10 * time.Millisecond) {
			if next, ok, _ := p.Decide(tat, now, tier, 0); ok {
				tat, granted = next, granted+1
			}
		}
		if granted < 100 || granted > 100+p.burst() {
			t.Errorf("%s alone got %d tokens in 10 s at 10/s, want ~100", tier, granted)
		}
	}
}

func TestHigherTierFindsTokensALowerTierCannotTake(t *testing.T) {
	p := Policy{Rate: 10}
	now := time.Unix(1000, 0)
	var tat time.Time
	// FREE drains what it may use.
	for {
		next, ok, _ := p.Decide(tat, now, generation.Free, 0)
		if !ok {
			break
		}
		tat = next
	}
	if _, ok, wait := p.Decide(tat, now, generation.Free, 0); ok || wait <= 0 {
		t.Fatalf("FREE should be told to wait, got ok=%v wait=%v", ok, wait)
	}
	if _, ok, _ := p.Decide(tat, now, generation.Enterprise, 0); !ok {
		t.Fatal("ENTERPRISE should still get a token when FREE has used its share")
	}
}

func TestWaitingPromotesSoNoTierStarves(t *testing.T) {
	p := Policy{Rate: 10, AgingStep: time.Second}
	if got := p.Rank(generation.Free, 0); got != 3 {
		t.Fatalf("FREE rank = %d, want 3", got)
	}
	if got := p.Rank(generation.Free, 3*time.Second); got != 0 {
		t.Fatalf("FREE after 3 aging steps rank = %d, want 0", got)
	}
	if p.Tolerance(generation.Free, 3*time.Second) != p.Tolerance(generation.Enterprise, 0) {
		t.Fatal("a FREE job that waited three steps should compete as ENTERPRISE")
	}
}

func TestRetryAfterIsWhenTheTokenWillBeThere(t *testing.T) {
	p := Policy{Rate: 1, Burst: 1}
	now := time.Unix(1000, 0)
	tat, ok, _ := p.Decide(time.Time{}, now, generation.Free, 0)
	if !ok {
		t.Fatal("first token refused")
	}
	_, ok, wait := p.Decide(tat, now, generation.Free, 0)
	if ok || wait != time.Second {
		t.Fatalf("second token: ok=%v wait=%v, want refused for 1s", ok, wait)
	}
	if _, ok, _ := p.Decide(tat, now.Add(wait), generation.Free, 0); !ok {
		t.Fatal("token not there after the advertised wait")
	}
}
