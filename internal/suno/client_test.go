package suno

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// answer starts a server that replies with the given HTTP status and body
// to every request, and a client pointed at it.
func answer(t *testing.T, status int, body string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return NewClient(srv.URL, "key", srv.Client())
}

func TestSubmitSendsWireRequest(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/generate" {
			t.Errorf("request %s %s, want POST /api/v1/generate", r.Method, r.URL.Path)
		}
		if a := r.Header.Get("Authorization"); a != "Bearer secret" {
			t.Errorf("Authorization = %q", a)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			t.Errorf("decode body: %v", err)
		}
		io.WriteString(w, `{"code":200,"msg":"success","data":{"taskId":"5c79be8e"}}`)
	}))
	defer srv.Close()

	c := NewClient(srv.URL+"/", "secret", nil) // trailing slash is trimmed
	id, err := c.Submit(context.Background(), generation.Request{
		Prompt: "lyrics", Style: "Classical", Title: "Calm", CustomMode: true,
		Instrumental: true, Model: "V5", NegativeTags: "metal",
	}, "https://cb.example/x")
	if err != nil {
		t.Fatal(err)
	}
	if id != "5c79be8e" {
		t.Errorf("task id = %q", id)
	}
	want := map[string]any{
		"prompt": "lyrics", "style": "Classical", "title": "Calm", "customMode": true,
		"instrumental": true, "model": "V5", "negativeTags": "metal", "callBackUrl": "https://cb.example/x",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body = %v\nwant %v", got, want)
	}
}

func TestSubmitDefaultsAndOmitsEmptyFields(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewDecoder(r.Body).Decode(&got)
		io.WriteString(w, `{"code":200,"msg":"success","data":{"taskId":"t1"}}`)
	}))
	defer srv.Close()
	if _, err := NewClient(srv.URL, "k", nil).Submit(context.Background(), generation.Request{Prompt: "a song"}, ""); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"prompt": "a song", "customMode": false, "instrumental": false, "model": generation.DefaultModel}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body = %v\nwant %v", got, want)
	}
}

func TestSubmitErrorClassification(t *testing.T) {
	const (
		none        = generation.Outage("")
		maintenance = generation.OutageMaintenance
		credits     = generation.OutageCredits
		keyRefused  = generation.OutageKeyRefused
		server      = generation.OutageServer
	)
	tests := []struct {
		name     string
		status   int
		body     string
		kind     generation.FailureKind
		outage   generation.Outage // "": not Suno-wide
		code     string
		apiError *APIError // nil: an unclassified (wrapped) error
	}{
		{"200 body 405 rate limit", 200, `{"code":405,"msg":"Rate limit exceeded"}`, generation.RateLimited, none, "rate_limited", &APIError{200, 405, "Rate limit exceeded"}},
		{"200 body 430 too frequent", 200, `{"code":430,"msg":"Your call frequency is too high"}`, generation.RateLimited, none, "rate_limited", &APIError{200, 430, "Your call frequency is too high"}},
		{"200 body 429 insufficient credits", 200, `{"code":429,"msg":"Insufficient credits"}`, generation.Unavailable, credits, "suno_credits", &APIError{200, 429, "Insufficient credits"}},
		{"HTTP 429 body 429 is credits, not a rate limit", 429, `{"code":429,"msg":"Insufficient credits"}`, generation.Unavailable, credits, "suno_credits", &APIError{429, 429, "Insufficient credits"}},
		{"200 body 455 maintenance", 200, `{"code":455,"msg":"System maintenance"}`, generation.Unavailable, maintenance, "suno_unavailable", &APIError{200, 455, "System maintenance"}},
		{"200 body 500", 200, `{"code":500,"msg":"Server error"}`, generation.Transient, "", "suno_error", &APIError{200, 500, "Server error"}},
		{"HTTP 500 body 500", 500, `{"code":500,"msg":"Server error"}`, generation.Transient, "", "suno_error", &APIError{500, 500, "Server error"}},
		{"200 body 503", 200, `{"code":503,"msg":"busy"}`, generation.Transient, none, "suno_error", &APIError{200, 503, "busy"}},
		{"200 body 501 (a callback code)", 200, `{"code":501,"msg":"Audio generation failed"}`, generation.Transient, none, "suno_error", &APIError{200, 501, "Audio generation failed"}},
		{"200 body 531", 200, `{"code":531,"msg":"refunded"}`, generation.Transient, none, "suno_error", &APIError{200, 531, "refunded"}},
		{"200 body 408", 200, `{"code":408,"msg":"timeout"}`, generation.Transient, none, "suno_error", &APIError{200, 408, "timeout"}},
		{"200 body 400", 200, `{"code":400,"msg":"Invalid parameters"}`, generation.Permanent, none, "content_refused", &APIError{200, 400, "Invalid parameters"}},
		{"200 body 400 sensitive words", 200, `{"code":400,"msg":"The prompt contains sensitive words"}`, generation.Permanent, none, "content_refused", &APIError{200, 400, "The prompt contains sensitive words"}},
		{"200 body 413", 200, `{"code":413,"msg":"Theme or prompt too long"}`, generation.Permanent, none, "prompt_too_long", &APIError{200, 413, "Theme or prompt too long"}},
		{"200 body 401", 200, `{"code":401,"msg":"Unauthorized"}`, generation.Unavailable, keyRefused, "suno_key_refused", &APIError{200, 401, "Unauthorized"}},
		{"200 body 403", 200, `{"code":403,"msg":"Forbidden"}`, generation.Unavailable, keyRefused, "suno_key_refused", &APIError{200, 403, "Forbidden"}},
		{"200 body 404", 200, `{"code":404,"msg":"Invalid path"}`, generation.Permanent, none, "suno_error", &APIError{200, 404, "Invalid path"}},
		{"200 body 422 other 4xx", 200, `{"code":422,"msg":"nope"}`, generation.Permanent, none, "suno_error", &APIError{200, 422, "nope"}},
		{"200 body undocumented code", 200, `{"code":999,"msg":"?"}`, generation.Transient, none, "suno_error", &APIError{200, 999, "?"}},
		{"401 body 401", 401, `{"code":401,"msg":"Unauthorized"}`, generation.Unavailable, keyRefused, "suno_key_refused", &APIError{401, 401, "Unauthorized"}},
		{"HTTP 401 text", 401, `Unauthorized`, generation.Unavailable, keyRefused, "suno_key_refused", &APIError{401, 0, "Unauthorized"}},
		{"HTTP 403 HTML", 403, `<html>Forbidden</html>`, generation.Unavailable, keyRefused, "suno_key_refused", &APIError{403, 0, "<html>Forbidden</html>"}},
		{"500 body 430: body code wins", 500, `{"code":430,"msg":"slow down"}`, generation.RateLimited, none, "rate_limited", &APIError{500, 430, "slow down"}},
		{"503 body 400: body code wins", 503, `{"code":400,"msg":"Invalid parameters"}`, generation.Permanent, none, "content_refused", &APIError{503, 400, "Invalid parameters"}},
		{"503 body 200: HTTP status decides", 503, `{"code":200,"msg":"success"}`, generation.Transient, server, "suno_error", &APIError{503, 200, "success"}},
		{"503 HTML page", 503, `<html>Service Unavailable</html>`, generation.Transient, server, "suno_error", &APIError{503, 0, "<html>Service Unavailable</html>"}},
		{"502 empty body", 502, ``, generation.Transient, server, "suno_error", &APIError{502, 0, ""}},
		{"504 gateway timeout", 504, `upstream timed out at http://10.0.0.1:8080/`, generation.Transient, server, "suno_error", &APIError{504, 0, "upstream timed out at http://10.0.0.1:8080/"}},
		{"HTTP 405 text is method not allowed, not rate limit", 405, "Method Not Allowed", generation.Permanent, none, "suno_error", &APIError{405, 0, "Method Not Allowed"}},
		{"HTTP 429 text from a gateway", 429, "Too Many Requests", generation.RateLimited, none, "rate_limited", &APIError{429, 0, "Too Many Requests"}},
		{"HTTP 408 from a gateway", 408, "Request Timeout", generation.Transient, none, "suno_error", &APIError{408, 0, "Request Timeout"}},
		{"HTTP 400 JSON without code", 400, `{"error":"bad"}`, generation.Permanent, none, "suno_error", &APIError{400, 0, `{"error":"bad"}`}},
		{"200 garbage", 200, `not json`, generation.Transient, none, "suno_error", nil},
		{"200 success without taskId", 200, `{"code":200,"msg":"success","data":{}}`, generation.Transient, none, "suno_error", nil},
		{"200 success with null data", 200, `{"code":200,"msg":"success","data":null}`, generation.Transient, none, "suno_error", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := answer(t, tt.status, tt.body)
			id, err := c.Submit(context.Background(), generation.Request{Prompt: "p"}, "")
			if err == nil {
				t.Fatalf("Submit = %q, nil; want an error", id)
			}
			checkClassified(t, err, tt.kind, tt.outage, tt.code)
			var ae *APIError
			if tt.apiError == nil {
				if errors.As(err, &ae) {
					t.Errorf("error %v is an *APIError, want a plain error", err)
				}
				return
			}
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *APIError", err)
			}
			if *ae != *tt.apiError {
				t.Errorf("APIError = %+v, want %+v", *ae, *tt.apiError)
			}
			if !strings.Contains(err.Error(), "suno") {
				t.Errorf("error %q lacks context", err)
			}
		})
	}
}

// checkClassified checks err's kind, outage ("" for none) and owner's code,
// and that its message is plain.
func checkClassified(t *testing.T, err error, kind generation.FailureKind, outage generation.Outage, code string) {
	t.Helper()
	if k := generation.Classify(err); k != kind {
		t.Errorf("Classify(%v) = %v, want %v", err, k, kind)
	}
	o, ok := generation.OutageOf(err)
	if ok != (outage != "") || o != outage {
		t.Errorf("OutageOf(%v) = %q, %v; want %q", err, o, ok, outage)
	}
	if (kind == generation.Unavailable) != (ok && o.Certain()) {
		t.Errorf("%v: kind %v but OutageOf = %q, %v: only a certain outage is unavailable at once", err, kind, o, ok)
	}
	if c := generation.CodeOf(err); c != code {
		t.Errorf("CodeOf(%v) = %q, want %q", err, c, code)
	}
	checkPlain(t, generation.MessageOf(err))
}

func TestNetworkErrorsAreWrappedAndSuspect(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more

	c := NewClient(url, "k", nil)
	_, err := c.Submit(context.Background(), generation.Request{Prompt: "p"}, "")
	if err == nil {
		t.Fatal("Submit to a closed server succeeded")
	}
	if !strings.HasPrefix(err.Error(), "suno: submit:") {
		t.Errorf("error %q is not wrapped with context", err)
	}
	if !strings.Contains(err.Error(), url) {
		t.Errorf("error %q lost the detail the log needs", err)
	}
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Errorf("error %v is not an *UnreachableError", err)
	}
	checkClassified(t, err, generation.Transient, generation.OutageUnreachable, "suno_error")
	_, err = c.Task(context.Background(), "t1")
	if err == nil {
		t.Fatal("Record from a closed server succeeded")
	}
	checkClassified(t, err, generation.Transient, generation.OutageUnreachable, "suno_error")
}

func TestContextCancellation(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := NewClient(srv.URL, "k", nil).Submit(ctx, generation.Request{Prompt: "p"}, "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
	}
}

func TestRecord(t *testing.T) {
	tests := []struct {
		name string
		body string
		want generation.TaskReport
	}{
		{
			name: "success, createTime as string",
			body: `{"code":200,"msg":"success","data":{"taskId":"t1","parentMusicId":"",
				"param":"{\"prompt\":\"x\"}","response":{"taskId":"t1","sunoData":[
				{"id":"a","audioUrl":"https://cdn/a.mp3","streamAudioUrl":"https://cdn/a","imageUrl":"https://cdn/a.jpeg",
				 "prompt":"[Verse]","modelName":"chirp-v3-5","title":"Iron Man","tags":"rock","createTime":"2025-01-01 00:00:00","duration":198.44},
				{"id":"b","audioUrl":"https://cdn/b.mp3","streamAudioUrl":"https://cdn/b","imageUrl":"https://cdn/b.jpeg",
				 "title":"Iron Man","createTime":"2025-01-01 00:00:00","duration":228.28}]},
				"status":"SUCCESS","type":"GENERATE","errorCode":null,"errorMessage":null}}`,
			want: generation.TaskReport{TaskID: "t1", Stage: generation.TaskDone, Tracks: []generation.Track{
				{ID: "a", AudioURL: "https://cdn/a.mp3", StreamAudioURL: "https://cdn/a", ImageURL: "https://cdn/a.jpeg", Title: "Iron Man", Duration: 198.44},
				{ID: "b", AudioURL: "https://cdn/b.mp3", StreamAudioURL: "https://cdn/b", ImageURL: "https://cdn/b.jpeg", Title: "Iron Man", Duration: 228.28},
			}},
		},
		{
			name: "success, createTime as epoch milliseconds",
			body: `{"code":200,"msg":"success","data":{"taskId":"t2","status":"SUCCESS","response":{"sunoData":[
				{"id":"a","audioUrl":"u","streamAudioUrl":"s","imageUrl":"i","title":"T","createTime":1735689600000,"duration":"12.5"}]}}}`,
			want: generation.TaskReport{TaskID: "t2", Stage: generation.TaskDone, Tracks: []generation.Track{
				{ID: "a", AudioURL: "u", StreamAudioURL: "s", ImageURL: "i", Title: "T", Duration: 12.5},
			}},
		},
		{
			name: "first success streams only, null duration",
			body: `{"code":200,"msg":"success","data":{"taskId":"t3","status":"FIRST_SUCCESS","response":{"sunoData":[
				{"id":"a","audioUrl":"","streamAudioUrl":"https://cdn/a","imageUrl":"https://cdn/a.jpeg","title":"T","duration":null,"createTime":null}]}}}`,
			want: generation.TaskReport{TaskID: "t3", Stage: generation.TaskFirstReady, Tracks: []generation.Track{
				{ID: "a", StreamAudioURL: "https://cdn/a", ImageURL: "https://cdn/a.jpeg", Title: "T"},
			}},
		},
		{
			name: "pending, no response yet, missing taskId falls back to the asked id",
			body: `{"code":200,"msg":"success","data":{"status":"PENDING","response":null}}`,
			want: generation.TaskReport{TaskID: "asked", Stage: generation.TaskRunning},
		},
		{
			name: "snake_case tracks under response.data",
			body: `{"code":200,"msg":"success","data":{"taskId":"t5","status":"SUCCESS","response":{"data":[
				{"id":"a","audio_url":"u","stream_audio_url":"s","image_url":"i","title":"T","duration":3}]}}}`,
			want: generation.TaskReport{TaskID: "t5", Stage: generation.TaskDone, Tracks: []generation.Track{{ID: "a", AudioURL: "u", StreamAudioURL: "s", ImageURL: "i", Title: "T", Duration: 3}}},
		},
		{
			name: "failed with message",
			body: `{"code":200,"msg":"success","data":{"taskId":"t6","status":"SENSITIVE_WORD_ERROR","errorCode":400,"errorMessage":"contains banned words"}}`,
			want: generation.TaskReport{TaskID: "t6", Stage: generation.TaskFailed, Failure: &generation.Failure{
				Kind: generation.Permanent, Code: "content_refused",
				Reason: "Suno refused the prompt: it may contain sensitive words",
				Detail: "status SENSITIVE_WORD_ERROR: contains banned words",
			}},
		},
		{
			name: "failed with only an error code",
			body: `{"code":200,"msg":"success","data":{"taskId":"t7","status":"GENERATE_AUDIO_FAILED","errorCode":"501","errorMessage":null}}`,
			want: generation.TaskReport{TaskID: "t7", Stage: generation.TaskFailed, Failure: &generation.Failure{
				Kind: generation.Transient, Code: "audio_failed",
				Reason: "Suno could not generate the audio",
				Detail: "status GENERATE_AUDIO_FAILED: error code 501",
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotQuery string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != "/api/v1/generate/record-info" {
					t.Errorf("request %s %s", r.Method, r.URL.Path)
				}
				gotQuery = r.URL.Query().Get("taskId")
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			got, err := NewClient(srv.URL, "k", nil).Task(context.Background(), "asked")
			if err != nil {
				t.Fatal(err)
			}
			if gotQuery != "asked" {
				t.Errorf("taskId query = %q", gotQuery)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Record = %+v\nwant     %+v", got, tt.want)
			}
		})
	}
}

func TestRecordErrors(t *testing.T) {
	tests := []struct {
		name, body string
		kind       generation.FailureKind
	}{
		// Suno restarted or forgot the task: the attempt is retried.
		{"unknown task", `{"code":400,"msg":"task not found"}`, generation.Transient},
		{"unknown task, 404", `{"code":404,"msg":"not found"}`, generation.Transient},
		{"rate limited", `{"code":430,"msg":"too frequent"}`, generation.RateLimited},
		{"null data", `{"code":200,"msg":"success","data":null}`, generation.Transient},
		{"data of the wrong type", `{"code":200,"msg":"success","data":"oops"}`, generation.Transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := answer(t, 200, tt.body).Task(context.Background(), "t1")
			if err == nil {
				t.Fatal("Record succeeded")
			}
			if k := generation.Classify(err); k != tt.kind {
				t.Errorf("Classify(%v) = %v, want %v", err, k, tt.kind)
			}
			if unknown := strings.HasPrefix(tt.name, "unknown task"); errors.Is(err, generation.ErrUnknownTask) != unknown {
				t.Errorf("%v: errors.Is ErrUnknownTask = %v, want %v", err, !unknown, unknown)
			}
		})
	}
	if _, err := NewClient("http://unused", "k", nil).Task(context.Background(), ""); err == nil {
		t.Error("Record with an empty task id succeeded")
	}
}

func TestTaskStatus(t *testing.T) {
	tests := []struct {
		s                        TaskStatus
		done, failed, firstReady bool
	}{
		{StatusPending, false, false, false},
		{StatusTextSuccess, false, false, false},
		{StatusFirstSuccess, false, false, true},
		{StatusSuccess, true, false, true},
		{StatusCreateTaskFailed, false, true, false},
		{StatusGenerateAudioFailed, false, true, false},
		{StatusCallbackException, false, true, false},
		{StatusSensitiveWordError, false, true, false},
		{"SOMETHING_NEW", false, false, false},
	}
	for _, tt := range tests {
		if tt.s.Done() != tt.done || tt.s.Failed() != tt.failed || tt.s.FirstReady() != tt.firstReady {
			t.Errorf("%s: Done=%v Failed=%v FirstReady=%v, want %v %v %v",
				tt.s, tt.s.Done(), tt.s.Failed(), tt.s.FirstReady(), tt.done, tt.failed, tt.firstReady)
		}
	}
}

func TestReportOfStatus(t *testing.T) {
	tests := []struct {
		status TaskStatus
		kind   generation.FailureKind
		code   string
	}{
		{StatusCreateTaskFailed, generation.Transient, "suno_error"},
		{StatusGenerateAudioFailed, generation.Transient, "audio_failed"},
		{StatusCallbackException, generation.Transient, "suno_error"},
		{StatusSensitiveWordError, generation.Permanent, "content_refused"},
	}
	for _, tt := range tests {
		r := report("t", tt.status, nil, "detail")
		f := r.Failure
		if r.Stage != generation.TaskFailed || f == nil {
			t.Fatalf("%s: report = %+v, want a failed task", tt.status, r)
		}
		if f.Kind != tt.kind {
			t.Errorf("%s: kind %v, want %v", tt.status, f.Kind, tt.kind)
		}
		if f.Reason != statusReason(tt.status) {
			t.Errorf("%s: reason %q, want %q", tt.status, f.Reason, statusReason(tt.status))
		}
		if want := "status " + string(tt.status) + ": detail"; f.Detail != want {
			t.Errorf("%s: detail %q, want %q", tt.status, f.Detail, want)
		}
		if want := statusReason(tt.status) + ": status " + string(tt.status) + ": detail"; f.Error() != want {
			t.Errorf("%s: Error() = %q, want %q", tt.status, f.Error(), want)
		}
		checkClassified(t, f, tt.kind, "", tt.code)
		if generation.MessageOf(f) != f.Reason {
			t.Errorf("%s: MessageOf = %q, want the reason %q", tt.status, generation.MessageOf(f), f.Reason)
		}
	}
	stages := map[TaskStatus]generation.TaskStage{
		StatusPending: generation.TaskRunning, StatusTextSuccess: generation.TaskRunning,
		StatusFirstSuccess: generation.TaskFirstReady, StatusSuccess: generation.TaskDone,
	}
	for s, want := range stages {
		if r := report("t", s, nil, ""); r.Stage != want || r.Failure != nil {
			t.Errorf("%s: report = %+v, want stage %s without failure", s, r, want)
		}
	}
}
