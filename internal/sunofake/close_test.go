package sunofake_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/songqueue/songqueue/internal/suno"
	"github.com/songqueue/songqueue/internal/sunofake"
)

// roundTripFunc delivers callbacks without a network, so the whole fake can
// run inside a synctest bubble with virtual time.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestCloseStopsPendingCallbacks runs the fake on virtual time: callbacks
// scheduled minutes ahead must never be sent once Close returns, and
// synctest.Test itself fails if Close left a goroutine behind.
func TestCloseStopsPendingCallbacks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu    sync.Mutex
			types []string
		)
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			b, _ := io.ReadAll(r.Body)
			cb, err := suno.ParseCallback(b)
			if err != nil {
				t.Errorf("callback %s: %v", b, err)
			}
			mu.Lock()
			types = append(types, cb.Type)
			mu.Unlock()
			return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(""))}, nil
		})}
		fake := sunofake.New(sunofake.Config{
			TextDelay: time.Minute, FirstDelay: 2 * time.Minute, CompleteDelay: 3 * time.Minute,
			HTTPClient: hc,
		})
		for range 5 {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/api/v1/generate",
				strings.NewReader(`{"prompt":"p","callBackUrl":"http://receiver.test/cb"}`))
			fake.ServeHTTP(rec, req)
			if !strings.Contains(rec.Body.String(), `"code":200`) {
				t.Fatalf("submit: %s", rec.Body)
			}
		}

		time.Sleep(90 * time.Second) // past the text stage only
		synctest.Wait()
		mu.Lock()
		got := len(types)
		mu.Unlock()
		if got != 5 {
			t.Fatalf("%d callbacks before Close, want 5 text callbacks", got)
		}

		fake.Close()
		time.Sleep(time.Hour) // long past every stage
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(types) != 5 {
			t.Errorf("callbacks after Close: %v", types[5:])
		}
	})
}
