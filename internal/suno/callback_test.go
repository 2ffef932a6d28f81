package suno

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

func TestParseCallback(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Callback
	}{
		{
			name: "complete, createTime as string",
			body: `{"code":200,"msg":"All generated successfully.","data":{"callbackType":"complete","task_id":"2fac9f72","data":[
				{"id":"8551662c","audio_url":"https://cdn/a.mp3","source_audio_url":"x","stream_audio_url":"https://cdn/a",
				 "image_url":"https://cdn/a.jpeg","prompt":"[Verse]","model_name":"chirp-v3-5","title":"Iron Man","tags":"rock",
				 "createTime":"2025-01-01 00:00:00","duration":198.44},
				{"id":"bd151873","audio_url":"https://cdn/b.mp3","stream_audio_url":"https://cdn/b","image_url":"https://cdn/b.jpeg",
				 "title":"Iron Man","createTime":"2025-01-01 00:00:00","duration":228.28}]}}`,
			want: Callback{Type: CallbackComplete, TaskID: "2fac9f72", Code: 200, Msg: "All generated successfully.", Tracks: []generation.Track{
				{ID: "8551662c", AudioURL: "https://cdn/a.mp3", StreamAudioURL: "https://cdn/a", ImageURL: "https://cdn/a.jpeg", Title: "Iron Man", Duration: 198.44},
				{ID: "bd151873", AudioURL: "https://cdn/b.mp3", StreamAudioURL: "https://cdn/b", ImageURL: "https://cdn/b.jpeg", Title: "Iron Man", Duration: 228.28},
			}},
		},
		{
			name: "first, createTime as epoch milliseconds",
			body: `{"code":200,"msg":"First audio generated.","data":{"callbackType":"first","task_id":"t1","data":[
				{"id":"a","audio_url":"","stream_audio_url":"https://cdn/a","image_url":"https://cdn/a.jpeg","title":"T","createTime":1735689600000,"duration":null}]}}`,
			want: Callback{Type: CallbackFirst, TaskID: "t1", Code: 200, Msg: "First audio generated.", Tracks: []generation.Track{
				{ID: "a", StreamAudioURL: "https://cdn/a", ImageURL: "https://cdn/a.jpeg", Title: "T"},
			}},
		},
		{
			name: "text",
			body: `{"code":200,"msg":"Text generation completed successfully.","data":{"callbackType":"text","task_id":"t1","data":[{"id":"a","title":"T"}]}}`,
			want: Callback{Type: CallbackText, TaskID: "t1", Code: 200, Msg: "Text generation completed successfully.", Tracks: []generation.Track{{ID: "a", Title: "T"}}},
		},
		{
			name: "error with null data and an error detail",
			body: `{"code":501,"msg":"Audio generation failed.","data":{"callbackType":"error","task_id":"t1","data":null,"error":"technical issues"}}`,
			want: Callback{Type: CallbackError, TaskID: "t1", Code: 501, Msg: "Audio generation failed.: technical issues"},
		},
		{
			name: "taskId spelling and upper-case type are accepted",
			body: `{"code":200,"msg":"ok","data":{"callbackType":"COMPLETE","taskId":"t9","data":[]}}`,
			want: Callback{Type: CallbackComplete, TaskID: "t9", Code: 200, Msg: "ok"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCallback([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseCallback = %+v\nwant            %+v", got, tt.want)
			}
		})
	}
}

// TestParseCallbackTakesAnyIntegralCode: JSON Schema's integer (and
// JSON's number) makes no difference between 200 and 200.0, and
// schemathesis sent such a code (make test-conformance).
func TestParseCallbackTakesAnyIntegralCode(t *testing.T) {
	for _, code := range []string{"200", "200.0", "2e2", "2.00E+2"} {
		cb, err := ParseCallback([]byte(`{"code":` + code + `,"data":{"callbackType":"complete","task_id":"t"}}`))
		if err != nil || cb.Code != 200 {
			t.Errorf("code %s: ParseCallback = %+v, %v; want code 200", code, cb, err)
		}
	}
}

func TestParseCallbackRejectsMalformed(t *testing.T) {
	tests := []struct{ name, body, wantInErr string }{
		{"empty", ``, "not valid JSON"},
		{"not JSON", `hello`, "not valid JSON"},
		{"array", `[1,2]`, "not valid JSON"},
		{"missing code", `{"msg":"x","data":{"callbackType":"complete","task_id":"t"}}`, `missing "code"`},
		{"missing data", `{"code":200,"msg":"x"}`, `missing "data"`},
		{"null data", `{"code":200,"msg":"x","data":null}`, `missing "data"`},
		{"missing task id", `{"code":200,"data":{"callbackType":"complete","data":[]}}`, "task_id"},
		{"blank task id", `{"code":200,"data":{"callbackType":"complete","task_id":"  "}}`, "task_id"},
		{"missing type", `{"code":200,"data":{"task_id":"t"}}`, "callbackType"},
		{"unknown type", `{"code":200,"data":{"callbackType":"partial","task_id":"t"}}`, `unknown callbackType "partial"`},
		{"code of the wrong type", `{"code":"200","data":{"callbackType":"complete","task_id":"t"}}`, "not valid JSON"},
		{"code with a fraction", `{"code":200.5,"data":{"callbackType":"complete","task_id":"t"}}`, "not a whole number"},
		{"code beyond int64", `{"code":29464670359676530688,"data":{"callbackType":"complete","task_id":"t"}}`, "not a whole number"},
		{"tracks of the wrong type", `{"code":200,"data":{"callbackType":"complete","task_id":"t","data":{"id":"a"}}}`, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb, err := ParseCallback([]byte(tt.body))
			if err == nil {
				t.Fatalf("ParseCallback = %+v, nil; want an error", cb)
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantInErr)
			}
		})
	}
}

func TestCallbackFailure(t *testing.T) {
	type want struct {
		kind   generation.FailureKind
		outage generation.Outage
		code   string
		reason string // "": not checked
	}
	tests := []struct {
		name string
		cb   Callback
		want *want
	}{
		{"complete ok", Callback{Type: CallbackComplete, Code: 200}, nil},
		{"text ok", Callback{Type: CallbackText, Code: 200}, nil},
		{"error 400 copyright", Callback{Type: CallbackError, Code: 400, Msg: "lyrics contain copyrighted material"},
			&want{generation.Permanent, "", "content_refused", "Suno refused the lyrics: they may contain copyrighted material"}},
		{"error 413 matches a work", Callback{Type: CallbackError, Code: 413, Msg: "matches existing work"},
			&want{generation.Permanent, "", "content_refused", "Suno refused the song: the audio matches an existing work"}},
		{"error 413 without a message", Callback{Type: CallbackError, Code: 413},
			&want{generation.Permanent, "", "content_refused", "Suno refused the song: the audio matches an existing work"}},
		{"error 408 timeout", Callback{Type: CallbackError, Code: 408}, &want{generation.Transient, "", "suno_timeout", ""}},
		{"error 500 is the task's, not an outage", Callback{Type: CallbackError, Code: 500}, &want{generation.Transient, "", "suno_error", ""}},
		{"error 501 audio failed", Callback{Type: CallbackError, Code: 501, Msg: "Audio generation failed."},
			&want{generation.Transient, "", "audio_failed", "Suno could not generate the audio"}},
		{"error 531 refunded", Callback{Type: CallbackError, Code: 531}, &want{generation.Transient, "", "audio_failed", ""}},
		{"error 430 rate limited", Callback{Type: CallbackError, Code: 430}, &want{generation.RateLimited, "", "rate_limited", ""}},
		{"error 405 rate limited", Callback{Type: CallbackError, Code: 405}, &want{generation.RateLimited, "", "rate_limited", ""}},
		{"error 455 maintenance", Callback{Type: CallbackError, Code: 455}, &want{generation.Unavailable, generation.OutageMaintenance, "suno_unavailable", ""}},
		{"error 429 credits", Callback{Type: CallbackError, Code: 429}, &want{generation.Unavailable, generation.OutageCredits, "suno_credits", ""}},
		{"error 401 key", Callback{Type: CallbackError, Code: 401}, &want{generation.Unavailable, generation.OutageKeyRefused, "suno_key_refused", ""}},
		{"error 404", Callback{Type: CallbackError, Code: 404}, &want{generation.Permanent, "", "suno_error", ""}},
		{"sensitive words with a 5xx code", Callback{Type: CallbackError, Code: 500, Msg: "Contains Sensitive words"},
			&want{generation.Permanent, "", "content_refused", "Suno refused the prompt: it may contain sensitive words"}},
		{"error type with code 200", Callback{Type: CallbackError, Code: 200}, &want{generation.Transient, "", "suno_error", ""}},
		{"complete with code 501 (older docs)", Callback{Type: CallbackComplete, Code: 501}, &want{generation.Transient, "", "audio_failed", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cb.TaskID = "t1"
			err := tt.cb.Failure()
			if tt.want == nil {
				if err != nil {
					t.Errorf("Failure() = %v, want nil", err)
				}
				return
			}
			var f *generation.Failure
			if !errors.As(err, &f) {
				t.Fatalf("Failure() = %v, want a *generation.Failure", err)
			}
			if f.Kind != tt.want.kind {
				t.Errorf("kind = %v, want %v", f.Kind, tt.want.kind)
			}
			checkClassified(t, f, tt.want.kind, tt.want.outage, tt.want.code)
			if tt.want.reason != "" && f.Reason != tt.want.reason {
				t.Errorf("reason %q, want %q", f.Reason, tt.want.reason)
			}
			if m := generation.MessageOf(f); m != f.Reason {
				t.Errorf("MessageOf = %q, want the reason %q", m, f.Reason)
			}
			if !strings.Contains(f.Detail, "t1") || !strings.Contains(f.Error(), "t1") {
				t.Errorf("detail %q / Error() %q do not name the task", f.Detail, f.Error())
			}
			if tt.cb.Msg != "" && !strings.Contains(f.Error(), tt.cb.Msg) {
				t.Errorf("Error() %q lacks Suno's message %q", f.Error(), tt.cb.Msg)
			}
		})
	}
}

func TestFlexTime(t *testing.T) {
	want := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{`"2025-01-01 00:00:00"`, want},
		{`"2025-01-01T00:00:00Z"`, want},
		{`"2025-01-01T00:00:00"`, want},
		{`1735689600000`, want},
		{`1735689600`, want}, // seconds, not milliseconds
		{`"1735689600000"`, want},
		{`null`, time.Time{}},
		{`""`, time.Time{}},
		{`"yesterday"`, time.Time{}},
		{`{"weird":true}`, time.Time{}},
	}
	for _, tt := range tests {
		var v struct {
			T flexTime `json:"t"`
		}
		if err := json.Unmarshal([]byte(`{"t":`+tt.in+`}`), &v); err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if !v.T.Equal(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.in, v.T.Time, tt.want)
		}
	}
}
