package apispec_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/songqueue/songqueue/internal/apispec"
)

func spec(t *testing.T) *apispec.Spec {
	t.Helper()
	s, err := apispec.Load(apispec.Path())
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	return s
}

// status is a status answer as the code gives it.
const status = `{"generationId":"g-1","status":"completed","progress":100,"message":"Your song is ready","tier":"PRO",
"prompt":"p","model":"V4_5","instrumental":false,"tracks":[{"id":"t","audioUrl":"https://cdn/a.mp3","streamAudioUrl":"",
"imageUrl":"","title":"T","duration":6}],"audioUrl":"https://cdn/a.mp3","archived":true,"error":"","attempts":1,"version":7,
"createdAt":"2026-12-01T10:00:00Z","updatedAt":"2026-12-01T10:01:00Z"}`

// TestTransportCatchesWhatTheSpecLacks shows the wiring the end-to-end
// tests use catching answers the document does not describe.
func TestTransportCatchesWhatTheSpecLacks(t *testing.T) {
	s := spec(t)
	for name, c := range map[string]struct {
		code    int
		body    string
		header  map[string]string
		problem string // "" when the exchange conforms
	}{
		"as the code answers":       {200, status, nil, ""},
		"a field of the wrong type": {200, strings.Replace(status, `"progress":100`, `"progress":"done"`, 1), nil, "progress"},
		"a required field missing":  {200, strings.Replace(status, `"archived":true,`, ``, 1), nil, "archived"},
		"a status it does not list": {418, `{"error":{"code":"teapot","message":"x"}}`, nil, "418"},
		"an error of another shape": {404, `{"message":"Not Found"}`, nil, "error"},
	} {
		t.Run(name, func(t *testing.T) {
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(c.code)
				_, _ = w.Write([]byte(c.body))
			}))
			defer api.Close()
			var reported []error
			client := &http.Client{Transport: s.Transport(func(err error) { reported = append(reported, err) }, nil)}
			req, _ := http.NewRequest("GET", api.URL+"/api/generation/status/g-1", nil)
			req.Header.Set("Authorization", "Bearer x")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			switch {
			case c.problem == "" && len(reported) > 0:
				t.Errorf("a conforming answer was reported: %v", reported)
			case c.problem != "" && (len(reported) == 0 || !strings.Contains(reported[0].Error(), c.problem)):
				t.Errorf("reported %v; want a mismatch naming %q", reported, c.problem)
			}
		})
	}
}

// TestRequestsTheAPIAccepts: an accepted request must conform too.
func TestRequestsTheAPIAccepts(t *testing.T) {
	s := spec(t)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"generationId":"g-1","status":"pending","tier":"PRO","priority":10,"message":"Queued"}`))
	}))
	defer api.Close()
	var reported []error
	client := &http.Client{Transport: s.Transport(func(err error) { reported = append(reported, err) }, nil)}
	req, _ := http.NewRequest("POST", api.URL+"/api/generation/create", strings.NewReader(`{"style":"jazz"}`)) // no prompt
	req.Header.Set("Authorization", "Bearer x")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(reported) == 0 || !strings.Contains(reported[0].Error(), "prompt") {
		t.Errorf("a create without prompt that the API accepted was not reported: %v", reported)
	}
}
