package awstest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// ManagementAPI emulates API Gateway's WebSocket management API on
// loopback: POST, GET and DELETE /[stage/]@connections/{id}, answering 410
// GoneException for a connection that is not open, as API Gateway does.
// moto's version of this API treats every connection id as open, so it can
// not show a Gone connection; this one can, and records what was posted.
type ManagementAPI struct {
	srv   *httptest.Server
	mu    sync.Mutex
	open  map[string]bool
	posts map[string][][]byte
	calls int
}

// NewManagementAPI starts an emulator that stops with the test.
func NewManagementAPI(t testing.TB) *ManagementAPI {
	m := &ManagementAPI{open: map[string]bool{}, posts: map[string][][]byte{}}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.srv.Close)
	return m
}

// Endpoint is the base URL to give the notifier, with a stage path.
func (m *ManagementAPI) Endpoint() string { return m.srv.URL + "/test" }

// Open makes connection id open.
func (m *ManagementAPI) Open(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.open[id] = true
}

// Close makes connection id gone.
func (m *ManagementAPI) Close(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.open, id)
}

// Received returns what was posted to connection id.
func (m *ManagementAPI) Received(id string) [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]byte(nil), m.posts[id]...)
}

// Calls counts the requests the emulator answered.
func (m *ManagementAPI) Calls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

func writeError(w http.ResponseWriter, status int, kind, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", kind)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func (m *ManagementAPI) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeError(w, http.StatusForbidden, "ForbiddenException", "Missing Authentication Token")
		return
	}
	_, id, ok := strings.Cut(r.URL.Path, "/@connections/")
	if !ok || id == "" || strings.Contains(id, "/") {
		writeError(w, http.StatusNotFound, "NotFoundException", "no such route")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 128<<10+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequestException", err.Error())
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if !m.open[id] {
		writeError(w, http.StatusGone, "GoneException", "")
		return
	}
	switch r.Method {
	case http.MethodPost:
		if len(body) > 128<<10 {
			writeError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "payload too large")
			return
		}
		m.posts[id] = append(m.posts[id], body)
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"connectedAt": time.Now().UTC().Format(time.RFC3339), "lastActiveAt": time.Now().UTC().Format(time.RFC3339)})
	case http.MethodDelete:
		delete(m.open, id)
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, http.StatusMethodNotAllowed, "BadRequestException", "method not allowed")
	}
}
