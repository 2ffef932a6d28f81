package generation

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestFailureKindString(t *testing.T) {
	for k, want := range map[FailureKind]string{Transient: "transient", RateLimited: "rate_limited", Permanent: "permanent", Unavailable: "unavailable"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(k), k.String(), want)
		}
	}
}

func TestDecideUnavailable(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 3, BackoffBase: 2 * time.Second}
	want := Decision{Retry: true, Delay: 2 * time.Second, CountsAsAttempt: false}
	// Suno being unavailable never fails a song, however many attempts it
	// has spent, and never spends one.
	for _, attempts := range []int{0, 1, 2, 3, 10} {
		if d := p.Decide(attempts, Unavailable); d != want {
			t.Errorf("Decide(%d, Unavailable) = %+v, want %+v", attempts, d, want)
		}
		if d := p.Decide(attempts, RateLimited); d != want {
			t.Errorf("Decide(%d, RateLimited) = %+v, want %+v", attempts, d, want)
		}
	}
	if d := p.Decide(3, Transient); d.Retry || !d.CountsAsAttempt {
		t.Errorf("Decide(3, Transient) = %+v, want the song failed", d)
	}
}

// outageErr reports an outage, possibly none.
type outageErr struct{ o Outage }

func (e outageErr) Error() string            { return "outage " + string(e.o) }
func (e outageErr) Outage() Outage           { return e.o }
func (e outageErr) FailureKind() FailureKind { return Unavailable }

// kindErr only says its kind.
type kindErr FailureKind

func (e kindErr) Error() string            { return "dial tcp 127.0.0.1:443: connection refused" }
func (e kindErr) FailureKind() FailureKind { return FailureKind(e) }

func TestOutageOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Outage // "": none
	}{
		{"nil", nil, ""},
		{"plain error", errors.New("x"), ""},
		{"reporter", outageErr{OutageCredits}, OutageCredits},
		{"wrapped reporter", fmt.Errorf("a: %w", fmt.Errorf("b: %w", outageErr{OutageMaintenance})), OutageMaintenance},
		{"reporter of no outage", outageErr{""}, ""},
		{"failure with an outage", &Failure{Kind: Unavailable, Outage: OutageKeyRefused}, OutageKeyRefused},
		{"wrapped failure with an outage", fmt.Errorf("x: %w", &Failure{Kind: Unavailable, Outage: OutageServer}), OutageServer},
		{"unavailable failure without an outage", &Failure{Kind: Unavailable}, ""},
		{"transient failure with an outage set", &Failure{Kind: Transient, Outage: OutageServer}, ""},
		{"unknown task", ErrUnknownTask, ""},
	}
	for _, tt := range tests {
		o, ok := OutageOf(tt.err)
		if o != tt.want || ok != (tt.want != "") {
			t.Errorf("%s: OutageOf = %q, %v; want %q", tt.name, o, ok, tt.want)
		}
	}
}

var unplain = regexp.MustCompile(`(?i)http|://|127\.0\.0\.1|localhost|:\d|suno:`)

func TestCodeAndMessageOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code string
		msg  string // "": MessageFor(code)
	}{
		{"nil", nil, CodeSunoError, ""},
		{"plain error", errors.New(`Post "http://127.0.0.1:8080/x": EOF`), CodeSunoError, "Suno could not make the song this time"},
		{"transient kind", kindErr(Transient), CodeSunoError, ""},
		{"permanent kind", kindErr(Permanent), CodeSunoError, ""},
		{"rate limited kind", kindErr(RateLimited), CodeRateLimited, ""},
		{"unavailable kind without outage", kindErr(Unavailable), CodeSunoUnavailable, ""},
		{"credits", outageErr{OutageCredits}, CodeSunoCredits, ""},
		{"key", fmt.Errorf("w: %w", outageErr{OutageKeyRefused}), CodeSunoKeyRefused, ""},
		{"maintenance", outageErr{OutageMaintenance}, CodeSunoUnavailable, "Suno is down for maintenance"},
		{"server", outageErr{OutageServer}, CodeSunoUnavailable, OutageMessage(OutageServer)},
		{"unreachable", outageErr{OutageUnreachable}, CodeSunoUnavailable, "Suno cannot be reached right now"},
		{"unknown task", fmt.Errorf("suno: record-info t: %w (code 400)", ErrUnknownTask), CodeUnknownTask, ErrUnknownTask.Reason},
		{"failure with a code", &Failure{Kind: Transient, Code: CodeSunoTimeout, Reason: "Suno did not finish the song in time", Detail: "task t1"},
			CodeSunoTimeout, "Suno did not finish the song in time"},
		{"failure with a code, no reason", &Failure{Kind: Transient, Code: CodeMaxWaitExceeded}, CodeMaxWaitExceeded, ""},
		{"failure without a code: its reason is not shown", &Failure{Kind: Transient, Reason: "bad track: parse http://x:1"}, CodeSunoError, ""},
		{"failure with an unknown code", &Failure{Kind: Permanent, Code: "nope", Reason: "http://x"}, CodeSunoError, ""},
		{"unavailable failure", &Failure{Kind: Unavailable, Outage: OutageCredits}, CodeSunoCredits, ""},
		{"unavailable failure, maintenance", &Failure{Kind: Unavailable, Outage: OutageMaintenance}, CodeSunoUnavailable, "Suno is down for maintenance"},
		{"rate limited failure", &Failure{Kind: RateLimited}, CodeRateLimited, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c := CodeOf(tt.err); c != tt.code {
				t.Errorf("CodeOf = %q, want %q", c, tt.code)
			}
			want := tt.msg
			if want == "" {
				want = MessageFor(tt.code)
			}
			m := MessageOf(tt.err)
			if m != want {
				t.Errorf("MessageOf = %q, want %q", m, want)
			}
			if unplain.MatchString(m) {
				t.Errorf("MessageOf = %q is not plain", m)
			}
		})
	}
}

func TestFailureError(t *testing.T) {
	tests := []struct {
		f    Failure
		want string
	}{
		{Failure{Reason: "r"}, "r"},
		{Failure{Reason: "r", Detail: "d"}, "r: d"},
		{Failure{Detail: "d"}, "d"},
	}
	for _, tt := range tests {
		if got := tt.f.Error(); got != tt.want {
			t.Errorf("%+v: Error() = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestErrorCodesClosedList(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	seen := map[string]bool{}
	for _, c := range ErrorCodes {
		if !snake.MatchString(c) {
			t.Errorf("code %q is not snake_case", c)
		}
		if seen[c] {
			t.Errorf("code %q listed twice", c)
		}
		seen[c] = true
		m := MessageFor(c)
		if c != CodeSunoError && m == MessageFor(CodeSunoError) {
			t.Errorf("code %q has no message of its own", c)
		}
		if unplain.MatchString(m) || m == "" || strings.HasSuffix(m, ".") {
			t.Errorf("message %q of %q is not a plain sentence", m, c)
		}
	}
	if len(seen) != len(codeMessages) {
		t.Errorf("ErrorCodes has %d codes, messages %d", len(seen), len(codeMessages))
	}
	if len(ErrorCodes) != 14 {
		t.Errorf("ErrorCodes has %d codes, want the 14 documented", len(ErrorCodes))
	}
	for _, o := range Outages {
		if !seen[OutageCode(o)] {
			t.Errorf("outage %q has code %q, not in ErrorCodes", o, OutageCode(o))
		}
		if m := OutageMessage(o); unplain.MatchString(m) || m == "" {
			t.Errorf("message %q of outage %q is not plain", m, o)
		}
	}
}
