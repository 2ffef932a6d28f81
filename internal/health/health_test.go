package health

import (
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func policy() Policy {
	return Policy{Window: 10 * time.Second, Threshold: 3, ProbeFirst: 2 * time.Second, ProbeMax: time.Minute, ProbeLease: 30 * time.Second}
}

// A certain outage (maintenance, credits, a refused key) opens the breaker
// at its first answer; the first probe is due after ProbeFirst.
func TestCertainOutageOpensAtOnce(t *testing.T) {
	for _, o := range []generation.Outage{generation.OutageMaintenance, generation.OutageCredits, generation.OutageKeyRefused} {
		var b Breaker
		if !b.Failed(t0, "song-1", o, "down", policy()) || b.Allows() || b.Outage != o || b.LastError != "down" {
			t.Errorf("%s: %+v; want open", o, b)
		}
		if b.ProbeDue(t0.Add(time.Second)) || !b.ProbeDue(t0.Add(2*time.Second)) {
			t.Errorf("%s: probe due at %s; want after 2 s", o, b.NextProbe)
		}
	}
	var b Breaker
	b.Failed(t0, "s", generation.OutageCredits, "no credits", policy())
	if b.WaitReason() != ReasonCredits {
		t.Errorf("credits outage: wait reason %q", b.WaitReason())
	}
}

// Suspect failures (server errors, Suno unreachable) open the breaker only
// when Threshold different songs fail within the window: one song failing
// again and again, or failures spread thinner than the window, are the
// songs' bad luck.
func TestSuspectFailuresNeedSeveralSongsWithinTheWindow(t *testing.T) {
	p := policy()
	var b Breaker
	for i := range 5 {
		if b.Failed(t0.Add(time.Duration(i)*time.Second), "same-song", generation.OutageServer, "500", p) {
			t.Fatalf("one song's %d failures opened the breaker", i+1)
		}
	}
	b = Breaker{}
	b.Failed(t0, "a", generation.OutageServer, "500", p)
	b.Failed(t0.Add(6*time.Second), "b", generation.OutageUnreachable, "eof", p)
	if b.Failed(t0.Add(11*time.Second), "c", generation.OutageServer, "500", p) {
		t.Fatal("three failures spread over 11 s opened a 10 s window")
	}
	if !b.Failed(t0.Add(12*time.Second), "d", generation.OutageServer, "500", p) {
		t.Fatal("three songs failing within 10 s left the breaker closed")
	}
}

// One probe at a time: the first to claim it probes until its lease ends;
// a failed probe backs off, doubling up to ProbeMax; a success closes.
func TestOneProbeAtATimeBackingOff(t *testing.T) {
	p := policy()
	var b Breaker
	b.Failed(t0, "s", generation.OutageMaintenance, "455", p)
	now := t0.Add(2 * time.Second)
	if !b.ClaimProbe(now, p) || b.Current() != Probing {
		t.Fatalf("first claim refused: %+v", b)
	}
	if b.ClaimProbe(now.Add(time.Second), p) {
		t.Fatal("a second probe was claimed while the first runs")
	}
	var waits []time.Duration
	for range 7 {
		b.ProbeFailed(now, generation.OutageMaintenance, "455", p)
		waits = append(waits, b.NextProbe.Sub(now))
		now = b.NextProbe
		if !b.ClaimProbe(now, p) {
			t.Fatalf("probe not due at %s", now)
		}
	}
	want := []time.Duration{4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute, time.Minute}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits between probes %v; want %v", waits, want)
		}
	}
	// A prober that died: its claim lapses and another may probe.
	if !b.ClaimProbe(now.Add(31*time.Second), p) {
		t.Fatal("a lapsed probe's claim was not given to the next")
	}
	b.ProbeSucceeded(now.Add(32 * time.Second))
	if !b.Allows() || b.Outage != "" || b.Probes != 0 || len(b.Failures) != 0 {
		t.Fatalf("after a good probe: %+v; want closed and clean", b)
	}
}

// An operator's probe request makes the next probe due at once; a closed
// breaker stays closed.
func TestReopenMakesTheProbeDueNow(t *testing.T) {
	p := policy()
	var b Breaker
	if b.Reopen(t0) || !b.Allows() {
		t.Fatal("reopen changed a closed breaker")
	}
	b.Failed(t0, "s", generation.OutageKeyRefused, "401", p)
	b.ProbeFailed(t0, generation.OutageKeyRefused, "401", p)
	if b.ProbeDue(t0.Add(time.Second)) {
		t.Fatal("probe due before its wait")
	}
	if !b.Reopen(t0.Add(time.Second)) || !b.ProbeDue(t0.Add(time.Second)) {
		t.Fatalf("after reopen: %+v; want the probe due now", b)
	}
	// A probe under way is left alone: one probe at a time.
	at := t0.Add(2 * time.Second)
	if !b.ClaimProbe(at, p) {
		t.Fatalf("no probe started: %+v", b)
	}
	if b.Reopen(at.Add(time.Second)) || b.ProbeDue(at.Add(time.Second)) {
		t.Fatalf("reopen during a probe: %+v; want the probe left to finish", b)
	}
	if !b.Reopen(at.Add(p.ProbeLease + time.Second)) {
		t.Fatalf("reopen after the probe's lease lapsed refused: %+v", b)
	}
}

// Every wait reason has a plain message.
func TestReasonsHaveMessages(t *testing.T) {
	for _, r := range []string{ReasonUnavailable, ReasonCredits} {
		if ReasonMessage(r) == "" {
			t.Errorf("%s has no message", r)
		}
	}
}

// A submission Suno accepts clears the suspect failures before it: they
// were the songs' own, and failures spread between successes never open
// the breaker.
func TestSuccessClearsEarlierSuspects(t *testing.T) {
	p := policy()
	var b Breaker
	b.Failed(t0, "a", generation.OutageServer, "503", p)
	b.Failed(t0.Add(time.Second), "b", generation.OutageServer, "503", p)
	if !b.Succeeded(t0.Add(1500*time.Millisecond)) || len(b.Failures) != 0 {
		t.Fatalf("after a success: %+v; want the strikes cleared", b)
	}
	if b.Succeeded(t0.Add(2 * time.Second)) {
		t.Fatal("a success with nothing to clear reported a change")
	}
	b.Failed(t0.Add(2*time.Second), "c", generation.OutageServer, "503", p)
	if b.Failed(t0.Add(3*time.Second), "d", generation.OutageServer, "503", p) {
		t.Fatal("two strikes after a success opened the breaker")
	}
	// A success older than a strike does not clear it.
	b.Succeeded(t0.Add(2500 * time.Millisecond))
	if len(b.Failures) != 1 {
		t.Fatalf("strikes %v; want the one after the success kept", b.Failures)
	}
}
