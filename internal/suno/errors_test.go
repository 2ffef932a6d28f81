package suno

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// unplain matches what a message for a person must not hold: a scheme, an
// address, a port, the package's error prefix.
var unplain = regexp.MustCompile(`(?i)http|://|127\.0\.0\.1|localhost|\[::1\]|:\d|suno:|\d+\.\d+\.\d+\.\d+`)

func checkPlain(t *testing.T, msg string) {
	t.Helper()
	if msg == "" {
		t.Errorf("empty message")
	}
	if unplain.MatchString(msg) {
		t.Errorf("message %q is not plain: it holds %q", msg, unplain.FindString(msg))
	}
}

// hijack starts a server that takes each connection over and runs f on it,
// and returns a client pointed at it.
func hijack(t *testing.T, hc *http.Client, f func(net.Conn)) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		f(conn)
	}))
	t.Cleanup(srv.Close)
	return NewClient(srv.URL, "k", hc)
}

func TestNetworkFailuresAreUnreachable(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake errors are expected
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)

	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so that the server notices the client leaving
		select {
		case <-block:
		case <-r.Context().Done():
		case <-time.After(5 * time.Second): // never hold the test's end, whatever the client does
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(block) }) // runs before slow.Close

	dnsFails := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: "api.sunoapi.org", IsNotFound: true}}
		},
	}}
	resets := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nil, &net.OpError{Op: "read", Net: network, Err: fmt.Errorf("connection reset by peer")}
		},
	}}

	tests := []struct {
		name string
		c    func(t *testing.T) *Client
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"server closed: connection refused", func(t *testing.T) *Client { return NewClient(closed.URL, "k", nil) }, nil},
		{"hijacked connection closed without an answer", func(t *testing.T) *Client {
			return hijack(t, nil, func(net.Conn) {})
		}, nil},
		{"connection closed in the middle of the body", func(t *testing.T) *Client {
			return hijack(t, nil, func(c net.Conn) {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"code\":200,")
			})
		}, nil},
		{"garbage instead of HTTP", func(t *testing.T) *Client {
			return hijack(t, nil, func(c net.Conn) { io.WriteString(c, "SSH-2.0-OpenSSH\r\n") })
		}, nil},
		{"client timeout", func(t *testing.T) *Client {
			return NewClient(slow.URL, "k", &http.Client{Timeout: 50 * time.Millisecond})
		}, nil},
		{"context deadline on the call", func(t *testing.T) *Client { return NewClient(slow.URL, "k", nil) },
			func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			}},
		{"TLS failure: unknown authority", func(t *testing.T) *Client { return NewClient(tlsSrv.URL, "k", &http.Client{}) }, nil},
		{"DNS failure", func(t *testing.T) *Client { return NewClient("https://api.sunoapi.org", "k", dnsFails) }, nil},
		{"connection reset", func(t *testing.T) *Client { return NewClient("https://api.sunoapi.org", "k", resets) }, nil},
	}
	calls := []struct {
		name string
		call func(context.Context, *Client) error
	}{
		{"submit", func(ctx context.Context, c *Client) error {
			_, err := c.Submit(ctx, generation.Request{Prompt: "p"}, "")
			return err
		}},
		{"record", func(ctx context.Context, c *Client) error { _, err := c.Task(ctx, "t1"); return err }},
		{"credits", func(ctx context.Context, c *Client) error { _, err := c.Credits(ctx); return err }},
	}
	for _, tt := range tests {
		for _, call := range calls {
			t.Run(tt.name+"/"+call.name, func(t *testing.T) {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if tt.ctx != nil {
					ctx, cancel = tt.ctx()
				}
				defer cancel()
				err := call.call(ctx, tt.c(t))
				if err == nil {
					t.Fatal("call succeeded")
				}
				var ue *UnreachableError
				if !errors.As(err, &ue) {
					t.Errorf("error %v is not an *UnreachableError", err)
				}
				if !strings.HasPrefix(err.Error(), "suno: ") || len(err.Error()) < 40 {
					t.Errorf("error %q lacks the detail the log needs", err)
				}
				checkClassified(t, err, generation.Transient, generation.OutageUnreachable, "suno_error")
				if m := generation.MessageOf(err); m != "Suno cannot be reached right now" {
					t.Errorf("MessageOf = %q", m)
				}
			})
		}
	}
}

func TestCallerCancellationIsNotAnOutage(t *testing.T) {
	arrived := make(chan struct{}, 3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so that the server notices the client leaving
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := NewClient(srv.URL, "k", nil)

	calls := map[string]func(context.Context) error{
		"submit": func(ctx context.Context) error {
			_, err := c.Submit(ctx, generation.Request{Prompt: "p"}, "")
			return err
		},
		"record":  func(ctx context.Context) error { _, err := c.Task(ctx, "t1"); return err },
		"credits": func(ctx context.Context) error { _, err := c.Credits(ctx); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-arrived
				cancel()
			}()
			err := call(ctx)
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			var ue *UnreachableError
			if errors.As(err, &ue) {
				t.Errorf("caller cancellation %v became an *UnreachableError", err)
			}
			if o, ok := generation.OutageOf(err); ok {
				t.Errorf("OutageOf(%v) = %q, want none", err, o)
			}
			if k := generation.Classify(err); k == generation.Unavailable {
				t.Errorf("Classify(%v) = %v", err, k)
			}
			checkPlain(t, generation.MessageOf(err))
		})
	}
	// Cancelled before the call even starts.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Credits(ctx); !errors.Is(err, context.Canceled) || generation.Classify(err) == generation.Unavailable {
		t.Errorf("Credits with a cancelled context: %v (%v)", err, generation.Classify(err))
	}
}

func TestCredits(t *testing.T) {
	var method, path, auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, path, auth = r.Method, r.URL.Path, r.Header.Get("Authorization")
		io.WriteString(w, `{"code":200,"msg":"success","data":1250}`)
	}))
	defer srv.Close()
	keyCalls := 0
	c := NewClientWithKey(srv.URL+"/", func(context.Context) (string, error) { keyCalls++; return "secret", nil }, nil)
	n, err := c.Credits(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 1250 {
		t.Errorf("Credits = %d, want 1250", n)
	}
	if method != http.MethodGet || path != "/api/v1/generate/credit" || auth != "Bearer secret" || keyCalls != 1 {
		t.Errorf("request %s %s, Authorization %q, key read %d times", method, path, auth, keyCalls)
	}

	keyErr := NewClientWithKey(srv.URL, func(context.Context) (string, error) { return "", errors.New("secret store down") }, nil)
	if _, err := keyErr.Credits(context.Background()); err == nil || !strings.Contains(err.Error(), "secret store down") {
		t.Errorf("Credits with a failing key: %v", err)
	}
}

func TestCreditsAnswers(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		credits int // when the error is nil
		kind    generation.FailureKind
		outage  generation.Outage
		code    string // "": no error
	}{
		{"zero", 200, `{"code":200,"msg":"success","data":0}`, 0, 0, "", ""},
		{"a fraction is cut off", 200, `{"code":200,"msg":"success","data":12.5}`, 12, 0, "", ""},
		{"body 401", 200, `{"code":401,"msg":"Unauthorized"}`, 0, generation.Unavailable, generation.OutageKeyRefused, "suno_key_refused"},
		{"HTTP 401 body 401", 401, `{"code":401,"msg":"Unauthorized"}`, 0, generation.Unavailable, generation.OutageKeyRefused, "suno_key_refused"},
		{"HTTP 403", 403, `Forbidden`, 0, generation.Unavailable, generation.OutageKeyRefused, "suno_key_refused"},
		{"body 429 credits", 200, `{"code":429,"msg":"Insufficient credits"}`, 0, generation.Unavailable, generation.OutageCredits, "suno_credits"},
		{"body 455", 200, `{"code":455,"msg":"System maintenance"}`, 0, generation.Unavailable, generation.OutageMaintenance, "suno_unavailable"},
		{"body 500", 200, `{"code":500,"msg":"Server error"}`, 0, generation.Transient, "", "suno_error"},
		{"HTTP 502 HTML", 502, `<html>Bad Gateway</html>`, 0, generation.Transient, generation.OutageServer, "suno_error"},
		{"body 430", 200, `{"code":430,"msg":"too frequent"}`, 0, generation.RateLimited, "", "rate_limited"},
		{"HTTP 429 from a gateway", 429, `Too Many Requests`, 0, generation.RateLimited, "", "rate_limited"},
		{"null data", 200, `{"code":200,"msg":"success","data":null}`, 0, generation.Transient, "", "suno_error"},
		{"no data", 200, `{"code":200,"msg":"success"}`, 0, generation.Transient, "", "suno_error"},
		{"data of the wrong type", 200, `{"code":200,"msg":"success","data":"lots"}`, 0, generation.Transient, "", "suno_error"},
		{"not JSON", 200, `<html>hello</html>`, 0, generation.Transient, "", "suno_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := answer(t, tt.status, tt.body).Credits(context.Background())
			if tt.code == "" {
				if err != nil || n != tt.credits {
					t.Errorf("Credits = %d, %v; want %d", n, err, tt.credits)
				}
				return
			}
			if err == nil {
				t.Fatalf("Credits = %d, nil; want an error", n)
			}
			if !strings.HasPrefix(err.Error(), "suno: credit:") {
				t.Errorf("error %q lacks context", err)
			}
			checkClassified(t, err, tt.kind, tt.outage, tt.code)
		})
	}
}

func TestRecordErrorCodes(t *testing.T) {
	tests := []struct {
		name, body string
		kind       generation.FailureKind
		outage     generation.Outage
		code       string
	}{
		{"unknown task", `{"code":400,"msg":"task not found"}`, generation.Transient, "", "unknown_task"},
		{"unknown task, 404", `{"code":404,"msg":"not found"}`, generation.Transient, "", "unknown_task"},
		{"key refused", `{"code":401,"msg":"Unauthorized"}`, generation.Unavailable, generation.OutageKeyRefused, "suno_key_refused"},
		{"maintenance", `{"code":455,"msg":"System maintenance"}`, generation.Unavailable, generation.OutageMaintenance, "suno_unavailable"},
		{"server error", `{"code":500,"msg":"Server error"}`, generation.Transient, "", "suno_error"},
		{"rate limited", `{"code":430,"msg":"too frequent"}`, generation.RateLimited, "", "rate_limited"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := answer(t, 200, tt.body).Task(context.Background(), "t1")
			if err == nil {
				t.Fatal("Record succeeded")
			}
			checkClassified(t, err, tt.kind, tt.outage, tt.code)
		})
	}
}

// TestMessagesArePlain checks the message of every code, outage and error
// the package makes, including answers whose raw text holds addresses.
func TestMessagesArePlain(t *testing.T) {
	for _, code := range generation.ErrorCodes {
		checkPlain(t, generation.MessageFor(code))
	}
	for _, o := range generation.Outages {
		checkPlain(t, generation.OutageMessage(o))
	}
	const raw = "see http://10.1.2.3:8080/x or https://localhost:443 (127.0.0.1:80): suno: dial tcp: refused"
	seen := map[string]bool{}
	var errs []error
	codes := []int{0, 100, 302, 600, 999}
	for code := 400; code <= 599; code++ {
		codes = append(codes, code)
	}
	for _, code := range codes {
		errs = append(errs,
			&APIError{HTTPStatus: 200, Code: code, Msg: raw},
			&APIError{HTTPStatus: code, Msg: raw},
			&APIError{HTTPStatus: code, Code: CodeOK, Msg: raw},
			fmt.Errorf("suno: submit: %w", &APIError{HTTPStatus: code, Code: code, Msg: raw}))
		for _, typ := range []string{CallbackError, CallbackComplete} {
			for _, msg := range []string{"", raw, "sensitive " + raw, "copyright " + raw} {
				if f := (Callback{Type: typ, TaskID: "t1", Code: code, Msg: msg}).Failure(); f != nil {
					errs = append(errs, f)
				}
			}
		}
	}
	for _, s := range []TaskStatus{StatusCreateTaskFailed, StatusGenerateAudioFailed, StatusCallbackException, StatusSensitiveWordError} {
		errs = append(errs, report("t1", s, nil, raw).Failure)
	}
	errs = append(errs,
		&UnreachableError{Err: errors.New(raw)},
		fmt.Errorf("suno: record-info t1: %w (%v)", generation.ErrUnknownTask, &APIError{200, 400, raw}),
		errors.New(raw), nil)
	for _, err := range errs {
		m := generation.MessageOf(err)
		checkPlain(t, m)
		c := generation.CodeOf(err)
		known := false
		for _, k := range generation.ErrorCodes {
			known = known || k == c
		}
		if !known {
			t.Errorf("CodeOf(%v) = %q, not in ErrorCodes", err, c)
		}
		seen[c] = true
		if generation.Classify(err) == generation.Unavailable {
			if _, ok := generation.OutageOf(err); !ok {
				t.Errorf("%v is unavailable without an outage", err)
			}
		}
	}
	for _, c := range []string{"content_refused", "prompt_too_long", "audio_failed", "suno_timeout", "suno_error",
		"suno_unavailable", "suno_credits", "suno_key_refused", "rate_limited", "unknown_task"} {
		if !seen[c] {
			t.Errorf("no error of the package has code %s", c)
		}
	}
}
