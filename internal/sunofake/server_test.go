package sunofake_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/suno"
	"github.com/songqueue/songqueue/internal/sunofake"
)

// startFake runs a fake behind an httptest server and returns it with a
// client pointed at it. Cleanup closes the fake first, so no callback
// outlives the test.
func startFake(t *testing.T, cfg sunofake.Config) (*sunofake.Server, *httptest.Server, *client) {
	t.Helper()
	fake := sunofake.New(cfg)
	srv := httptest.NewServer(fake)
	t.Cleanup(func() {
		fake.Close()
		srv.Close()
	})
	return fake, srv, newClient(srv, cfg.APIKey)
}

// client is the project's Suno client, taking the wire's requests and
// showing record-info's wire status beside the stage the client makes of
// it: the fake's contract is the wire, status by status.
type client struct {
	*suno.Client
	srv *httptest.Server
	key string
}

func newClient(srv *httptest.Server, key string) *client {
	return &client{Client: suno.NewClient(srv.URL, key, srv.Client()), srv: srv, key: key}
}

// task is what record-info says of a task.
type task struct {
	ID           string
	Status       suno.TaskStatus
	ErrorMessage string
	Tracks       []generation.Track
	report       generation.TaskReport
}

// Failure is the failure the client reads from the task, or nil.
func (t task) Failure() error {
	if t.report.Failure == nil {
		return nil
	}
	return t.report.Failure
}

func (c *client) Submit(ctx context.Context, req suno.GenerateRequest) (string, error) {
	return c.Client.Submit(ctx, generation.Request{
		Prompt: req.Prompt, Style: req.Style, Title: req.Title, CustomMode: req.CustomMode,
		Instrumental: req.Instrumental, Model: req.Model, NegativeTags: req.NegativeTags,
	}, req.CallBackURL)
}

// Record reads the task twice, through the client and off the wire, until
// both readings agree (the task may move on between them).
func (c *client) Record(ctx context.Context, id string) (task, error) {
	for {
		t, err := c.record(ctx, id)
		if err != nil || stageOf(t.Status) == t.report.Stage {
			return t, err
		}
	}
}

func stageOf(s suno.TaskStatus) generation.TaskStage {
	switch {
	case s.Failed():
		return generation.TaskFailed
	case s.Done():
		return generation.TaskDone
	case s.FirstReady():
		return generation.TaskFirstReady
	}
	return generation.TaskRunning
}

func (c *client) record(ctx context.Context, id string) (task, error) {
	r, err := c.Client.Task(ctx, id)
	if err != nil {
		return task{}, err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.srv.URL+"/api/v1/generate/record-info?taskId="+url.QueryEscape(id), nil)
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		return task{}, err
	}
	defer resp.Body.Close()
	var wire struct {
		Data struct {
			Status       suno.TaskStatus `json:"status"`
			ErrorMessage *string         `json:"errorMessage"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&wire); err != nil {
		return task{}, err
	}
	out := task{ID: r.TaskID, Status: wire.Data.Status, Tracks: r.Tracks, report: r}
	if wire.Data.ErrorMessage != nil {
		out.ErrorMessage = *wire.Data.ErrorMessage
	}
	return out, nil
}

// receiver collects the callbacks posted to it.
type receiver struct {
	URL string
	ch  chan []byte
}

func startReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{ch: make(chan []byte, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("callback %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read callback: %v", err)
		}
		rc.ch <- b
	}))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL + "/api/suno/callback"
	return rc
}

// next returns the next callback, parsed, or fails the test after a while.
func (rc *receiver) next(t *testing.T) suno.Callback {
	t.Helper()
	select {
	case b := <-rc.ch:
		cb, err := suno.ParseCallback(b)
		if err != nil {
			t.Fatalf("callback %s does not parse: %v", b, err)
		}
		return cb
	case <-time.After(5 * time.Second):
		t.Fatal("no callback arrived")
		return suno.Callback{}
	}
}

// none checks that no callback arrives within d.
func (rc *receiver) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case b := <-rc.ch:
		t.Errorf("unexpected callback %s", b)
	case <-time.After(d):
	}
}

// waitFor polls record-info until the task reaches a final status.
func waitFor(t *testing.T, c *client, id string) (task, []suno.TaskStatus) {
	t.Helper()
	var seen []suno.TaskStatus
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		task, err := c.Record(context.Background(), id)
		if err != nil {
			t.Fatalf("Record: %v", err)
		}
		if len(seen) == 0 || seen[len(seen)-1] != task.Status {
			seen = append(seen, task.Status)
		}
		if task.Status.Done() || task.Status.Failed() {
			return task, seen
		}
		time.Sleep(3 * time.Millisecond)
	}
	t.Fatalf("task %s did not finish; statuses seen %v", id, seen)
	return task{}, nil
}

func submit(t *testing.T, c *client, req suno.GenerateRequest) string {
	t.Helper()
	id, err := c.Submit(context.Background(), req)
	if err != nil {
		t.Fatalf("Submit(%q): %v", req.Prompt, err)
	}
	return id
}

func TestProgressionByPolling(t *testing.T) {
	_, srv, c := startFake(t, sunofake.Config{TextDelay: 20 * time.Millisecond, FirstDelay: 40 * time.Millisecond, CompleteDelay: 60 * time.Millisecond})
	id := submit(t, c, suno.GenerateRequest{Prompt: "a calm piano piece"})

	task, seen := waitFor(t, c, id)
	order := map[suno.TaskStatus]int{suno.StatusPending: 0, suno.StatusTextSuccess: 1, suno.StatusFirstSuccess: 2, suno.StatusSuccess: 3}
	for i := 1; i < len(seen); i++ {
		if order[seen[i]] <= order[seen[i-1]] {
			t.Errorf("statuses out of order: %v", seen)
		}
	}
	if task.Status != suno.StatusSuccess || task.ID != id {
		t.Fatalf("final task %+v", task)
	}
	if len(task.Tracks) != 2 {
		t.Fatalf("%d tracks, want 2", len(task.Tracks))
	}
	for _, tr := range task.Tracks {
		if !strings.HasPrefix(tr.AudioURL, srv.URL+"/fake-audio/") || !strings.HasPrefix(tr.StreamAudioURL, srv.URL+"/fake-audio/") ||
			!strings.HasPrefix(tr.ImageURL, srv.URL+"/fake-image/") {
			t.Errorf("track URLs do not point back at the fake: %+v", tr)
		}
		if tr.ID == "" || tr.Title != "a calm piano piece" || tr.Duration <= 0 {
			t.Errorf("track %+v", tr)
		}
		for _, u := range []string{tr.AudioURL, tr.StreamAudioURL, tr.ImageURL} {
			resp, err := srv.Client().Get(u)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
			}
		}
	}
	if task.Tracks[0].ID == task.Tracks[1].ID {
		t.Error("both tracks have the same id")
	}
}

// TestStages checks what record-info shows at each stage, with delays that
// hold the task in that stage for an hour so that timing cannot interfere.
func TestStages(t *testing.T) {
	const hour = time.Hour
	tests := []struct {
		name                 string
		text, first, done    time.Duration
		status               suno.TaskStatus
		tracks               int
		stream, audio, cover bool
	}{
		{"pending", hour, hour, hour, suno.StatusPending, 0, false, false, false},
		{"text", 0, hour, hour, suno.StatusTextSuccess, 2, false, false, false},
		{"first streams only", 0, 0, hour, suno.StatusFirstSuccess, 2, true, false, true},
		{"success", 0, 0, 0, suno.StatusSuccess, 2, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, c := startFake(t, sunofake.Config{TextDelay: tt.text, FirstDelay: tt.first, CompleteDelay: tt.done})
			id := submit(t, c, suno.GenerateRequest{Prompt: "p"})
			task, err := c.Record(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if task.Status != tt.status || len(task.Tracks) != tt.tracks {
				t.Fatalf("status %s with %d tracks, want %s with %d", task.Status, len(task.Tracks), tt.status, tt.tracks)
			}
			for _, tr := range task.Tracks {
				if (tr.StreamAudioURL != "") != tt.stream || (tr.AudioURL != "") != tt.audio || (tr.ImageURL != "") != tt.cover {
					t.Errorf("track %+v: want stream=%v audio=%v cover=%v", tr, tt.stream, tt.audio, tt.cover)
				}
				if (tr.Duration > 0) != tt.audio {
					t.Errorf("track %+v: duration set before the audio is ready, or missing after", tr)
				}
				if tr.Title == "" {
					t.Errorf("track %+v has no title", tr)
				}
			}
			if err := task.Failure(); err != nil {
				t.Errorf("Failure() = %v", err)
			}
		})
	}
}

func TestCallbacksInOrder(t *testing.T) {
	rc := startReceiver(t)
	_, srv, c := startFake(t, sunofake.Config{TextDelay: 10 * time.Millisecond, FirstDelay: 20 * time.Millisecond, CompleteDelay: 30 * time.Millisecond})
	id := submit(t, c, suno.GenerateRequest{Prompt: "p", CustomMode: true, Style: "jazz", Title: "Blue", CallBackURL: rc.URL})

	text := rc.next(t)
	first := rc.next(t)
	complete := rc.next(t)
	for i, want := range []struct {
		cb  suno.Callback
		typ string
	}{{text, suno.CallbackText}, {first, suno.CallbackFirst}, {complete, suno.CallbackComplete}} {
		if want.cb.Type != want.typ || want.cb.TaskID != id || want.cb.Code != 200 || want.cb.Failure() != nil {
			t.Errorf("callback %d = %+v, want type %s for task %s with code 200", i, want.cb, want.typ, id)
		}
		if len(want.cb.Tracks) != 2 {
			t.Errorf("callback %s has %d tracks, want 2", want.typ, len(want.cb.Tracks))
		}
	}
	for _, tr := range first.Tracks {
		if tr.StreamAudioURL == "" || tr.AudioURL != "" {
			t.Errorf("first callback track %+v: want a stream URL only", tr)
		}
	}
	for _, tr := range complete.Tracks {
		if !strings.HasPrefix(tr.AudioURL, srv.URL+"/fake-audio/") || tr.Title != "Blue" || tr.Duration <= 0 {
			t.Errorf("complete callback track %+v", tr)
		}
	}
	// The complete callback carries the same tracks as record-info.
	task, err := c.Record(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(task.Tracks, complete.Tracks) {
		t.Errorf("record-info tracks %+v\ndiffer from callback tracks %+v", task.Tracks, complete.Tracks)
	}
	rc.none(t, 50*time.Millisecond)
}

func TestFailDirective(t *testing.T) {
	fake, _, c := startFake(t, sunofake.Config{})
	const prompt = "rainy day blues [fake:fail=2]"
	for i := 1; i <= 2; i++ {
		_, err := c.Submit(context.Background(), suno.GenerateRequest{Prompt: prompt})
		var ae *suno.APIError
		if !errors.As(err, &ae) || ae.Code != suno.CodeServerError {
			t.Fatalf("submission %d: err = %v, want an APIError with code 500", i, err)
		}
		if k := generation.Classify(err); k != generation.Transient {
			t.Errorf("submission %d: kind %v, want transient", i, k)
		}
	}
	submit(t, c, suno.GenerateRequest{Prompt: prompt})
	// Another prompt is not affected by this prompt's counter.
	submit(t, c, suno.GenerateRequest{Prompt: "another song"})

	if got := fake.SubmissionsFor(prompt); got != 3 {
		t.Errorf("SubmissionsFor = %d, want 3", got)
	}
	if got := fake.Submissions(); got != 4 {
		t.Errorf("Submissions = %d, want 4", got)
	}
	if got := fake.Tasks(); got != 2 {
		t.Errorf("Tasks = %d, want 2", got)
	}
}

func TestRateLimitDirective(t *testing.T) {
	fake, _, c := startFake(t, sunofake.Config{})
	const prompt = "[fake:ratelimit=1] [fake:fail=1] song"
	want := []generation.FailureKind{generation.RateLimited, generation.Transient}
	for i, kind := range want {
		_, err := c.Submit(context.Background(), suno.GenerateRequest{Prompt: prompt})
		if err == nil {
			t.Fatalf("submission %d succeeded", i+1)
		}
		if k := generation.Classify(err); k != kind {
			t.Errorf("submission %d: kind %v (%v), want %v", i+1, k, err, kind)
		}
	}
	submit(t, c, suno.GenerateRequest{Prompt: prompt})
	if fake.Tasks() != 1 || fake.SubmissionsFor(prompt) != 3 {
		t.Errorf("Tasks = %d, SubmissionsFor = %d; want 1, 3", fake.Tasks(), fake.SubmissionsFor(prompt))
	}
}

func TestAudioFailedDirective(t *testing.T) {
	rc := startReceiver(t)
	_, _, c := startFake(t, sunofake.Config{TextDelay: 5 * time.Millisecond, FirstDelay: 10 * time.Millisecond, CompleteDelay: 15 * time.Millisecond})
	id := submit(t, c, suno.GenerateRequest{Prompt: "[fake:audio-failed] p", CallBackURL: rc.URL})

	if cb := rc.next(t); cb.Type != suno.CallbackText || cb.Failure() != nil {
		t.Errorf("first callback %+v, want a successful text callback", cb)
	}
	cb := rc.next(t)
	if cb.Type != suno.CallbackError || cb.TaskID != id || cb.Code != suno.CodeAudioFailed {
		t.Errorf("second callback %+v, want an error callback with code 501", cb)
	}
	if k := generation.Classify(cb.Failure()); cb.Failure() == nil || k != generation.Transient {
		t.Errorf("callback failure %v (%v), want transient", cb.Failure(), k)
	}
	rc.none(t, 50*time.Millisecond)

	task, _ := waitFor(t, c, id)
	if task.Status != suno.StatusGenerateAudioFailed || task.ErrorMessage == "" || len(task.Tracks) != 0 {
		t.Errorf("task %+v", task)
	}
	if err := task.Failure(); err == nil || generation.Classify(err) != generation.Transient {
		t.Errorf("task failure %v, want transient", err)
	}
}

func TestSensitiveDirective(t *testing.T) {
	rc := startReceiver(t)
	_, _, c := startFake(t, sunofake.Config{TextDelay: 5 * time.Millisecond, FirstDelay: 10 * time.Millisecond, CompleteDelay: 15 * time.Millisecond})
	id := submit(t, c, suno.GenerateRequest{Prompt: "p [fake:sensitive] [fake:audio-failed]", CallBackURL: rc.URL})

	cb := rc.next(t)
	if cb.Type != suno.CallbackError || cb.TaskID != id {
		t.Errorf("callback %+v, want an error callback", cb)
	}
	if err := cb.Failure(); err == nil || generation.Classify(err) != generation.Permanent {
		t.Errorf("callback failure %v, want permanent", err)
	}
	rc.none(t, 50*time.Millisecond)

	task, _ := waitFor(t, c, id)
	if task.Status != suno.StatusSensitiveWordError {
		t.Errorf("status %s, want SENSITIVE_WORD_ERROR", task.Status)
	}
	if err := task.Failure(); err == nil || generation.Classify(err) != generation.Permanent {
		t.Errorf("task failure %v, want permanent", err)
	}
}

func TestSlowDirective(t *testing.T) {
	tests := []struct {
		name string
		cfg  sunofake.Config
	}{
		{"scales long configured delays down", sunofake.Config{TextDelay: time.Hour, FirstDelay: 2 * time.Hour, CompleteDelay: 4 * time.Hour}},
		{"stretches zero delays", sunofake.Config{}},
	}
	const slow = 300 * time.Millisecond
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := startReceiver(t)
			_, _, c := startFake(t, tt.cfg)
			start := time.Now()
			id := submit(t, c, suno.GenerateRequest{Prompt: fmt.Sprintf("[fake:slow=%s] p", slow), CallBackURL: rc.URL})
			task, err := c.Record(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if task.Status.Done() {
				t.Fatalf("task done at once with [fake:slow=%s]", slow)
			}
			var types []string
			for {
				cb := rc.next(t)
				types = append(types, cb.Type)
				if cb.Type == suno.CallbackComplete {
					break
				}
			}
			if elapsed := time.Since(start); elapsed < slow {
				t.Errorf("complete after %v, want at least %v", elapsed, slow)
			}
			if !reflect.DeepEqual(types, []string{"text", "first", "complete"}) {
				t.Errorf("callbacks %v", types)
			}
			if task, _ := waitFor(t, c, id); !task.Status.Done() {
				t.Errorf("status %s after the complete callback", task.Status)
			}
		})
	}
}

func TestNoCallbackDirective(t *testing.T) {
	rc := startReceiver(t)
	_, _, c := startFake(t, sunofake.Config{})
	silent := submit(t, c, suno.GenerateRequest{Prompt: "[fake:nocallback] p", CallBackURL: rc.URL})
	control := submit(t, c, suno.GenerateRequest{Prompt: "p", CallBackURL: rc.URL})

	// The control task's three callbacks arrive; the silent task sends none.
	for range 3 {
		if cb := rc.next(t); cb.TaskID != control {
			t.Errorf("callback for %s, want only %s", cb.TaskID, control)
		}
	}
	rc.none(t, 50*time.Millisecond)
	if task, _ := waitFor(t, c, silent); !task.Status.Done() {
		t.Errorf("silent task status %s, want SUCCESS by polling", task.Status)
	}
}

func TestAuth(t *testing.T) {
	fake, srv, good := startFake(t, sunofake.Config{APIKey: "secret"})
	bad := newClient(srv, "wrong")

	_, err := bad.Submit(context.Background(), suno.GenerateRequest{Prompt: "p"})
	var ae *suno.APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != http.StatusUnauthorized || ae.Code != suno.CodeUnauthorized {
		t.Fatalf("Submit with a wrong key: %v, want HTTP 401 with code 401", err)
	}
	// A refused key is the account's trouble, not the song's (DESIGN.md
	// section 13): the song waits for the key to be fixed.
	if o, _ := generation.OutageOf(err); generation.Classify(err) != generation.Unavailable || o != generation.OutageKeyRefused {
		t.Errorf("kind %v (%q), want unavailable: key refused", generation.Classify(err), o)
	}
	id := submit(t, good, suno.GenerateRequest{Prompt: "p"})
	if _, err := bad.Record(context.Background(), id); !errors.As(err, &ae) || ae.Code != suno.CodeUnauthorized {
		t.Errorf("Record with a wrong key: %v", err)
	}
	// No header at all.
	resp, err := srv.Client().Post(srv.URL+"/api/v1/generate", "application/json", strings.NewReader(`{"prompt":"p"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no Authorization: HTTP %d", resp.StatusCode)
	}
	if fake.Submissions() != 3 || fake.Tasks() != 1 {
		t.Errorf("Submissions = %d, Tasks = %d; want 3, 1", fake.Submissions(), fake.Tasks())
	}
}

func TestValidation(t *testing.T) {
	long := strings.Repeat("a", 501)
	tests := []struct {
		name string
		req  suno.GenerateRequest
		code int // 0: accepted
	}{
		{"empty prompt", suno.GenerateRequest{}, suno.CodeInvalidParams},
		{"blank prompt", suno.GenerateRequest{Prompt: "  "}, suno.CodeInvalidParams},
		{"custom without style", suno.GenerateRequest{Prompt: "l", CustomMode: true, Title: "t"}, suno.CodeInvalidParams},
		{"custom vocal without lyrics", suno.GenerateRequest{CustomMode: true, Style: "s", Title: "t"}, suno.CodeInvalidParams},
		{"custom instrumental without lyrics", suno.GenerateRequest{CustomMode: true, Instrumental: true, Style: "s", Title: "t"}, 0},
		{"unknown model", suno.GenerateRequest{Prompt: "p", Model: "V9"}, suno.CodeInvalidParams},
		{"non-custom prompt over 500", suno.GenerateRequest{Prompt: long}, suno.CodeTooLong},
		{"custom prompt of 501 is fine", suno.GenerateRequest{Prompt: long, CustomMode: true, Style: "s", Title: "t"}, 0},
		{"V4 style over 200", suno.GenerateRequest{Prompt: "l", CustomMode: true, Model: "V4", Style: strings.Repeat("s", 201), Title: "t"}, suno.CodeTooLong},
		{"callBackUrl optional", suno.GenerateRequest{Prompt: "p", Model: "V5"}, 0},
	}
	_, _, c := startFake(t, sunofake.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Submit(context.Background(), tt.req)
			if tt.code == 0 {
				if err != nil {
					t.Errorf("Submit: %v", err)
				}
				return
			}
			var ae *suno.APIError
			if !errors.As(err, &ae) || ae.Code != tt.code || ae.Msg == "" {
				t.Fatalf("Submit: %v, want code %d with a message", err, tt.code)
			}
			if generation.Classify(err) != generation.Permanent {
				t.Errorf("kind %v, want permanent", generation.Classify(err))
			}
		})
	}
}

func TestMalformedRequests(t *testing.T) {
	_, srv, c := startFake(t, sunofake.Config{})
	resp, err := srv.Client().Post(srv.URL+"/api/v1/generate", "application/json", strings.NewReader(`{"prompt":`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"code":400`) {
		t.Errorf("bad JSON: HTTP %d %s", resp.StatusCode, b)
	}

	_, err = c.Record(context.Background(), "no-such-task")
	// The fake forgets its tasks when it restarts, as Suno might: the
	// attempt is retried, not failed for good.
	if !errors.Is(err, generation.ErrUnknownTask) || generation.Classify(err) != generation.Transient {
		t.Errorf("Record of an unknown task: %v", err)
	}
}

func TestFailRate(t *testing.T) {
	fake, _, c := startFake(t, sunofake.Config{FailRate: 1})
	for range 3 {
		_, err := c.Submit(context.Background(), suno.GenerateRequest{Prompt: "p"})
		if err == nil || generation.Classify(err) != generation.Transient {
			t.Errorf("Submit: %v, want a transient error", err)
		}
	}
	if fake.Tasks() != 0 || fake.Submissions() != 3 {
		t.Errorf("Tasks = %d, Submissions = %d", fake.Tasks(), fake.Submissions())
	}
}

func TestConcurrentSubmissions(t *testing.T) {
	rc := startReceiver(t)
	fake, _, c := startFake(t, sunofake.Config{TextDelay: time.Millisecond, FirstDelay: 2 * time.Millisecond, CompleteDelay: 3 * time.Millisecond})
	const n = 20
	var (
		mu  sync.Mutex
		ids = map[string]bool{}
		wg  sync.WaitGroup
	)
	for i := range n {
		wg.Go(func() {
			id, err := c.Submit(context.Background(), suno.GenerateRequest{Prompt: fmt.Sprintf("song %d", i%5), CallBackURL: rc.URL})
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := c.Record(context.Background(), id); err != nil {
				t.Error(err)
			}
			mu.Lock()
			ids[id] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(ids) != n || fake.Tasks() != n || fake.SubmissionsFor("song 0") != n/5 {
		t.Errorf("%d distinct ids, Tasks = %d, SubmissionsFor = %d", len(ids), fake.Tasks(), fake.SubmissionsFor("song 0"))
	}
	for range 3 * n {
		rc.next(t)
	}
}

// TestCloseAbortsInFlightCallback checks that Close does not wait for a
// receiver that never answers, and that the fake refuses work afterwards.
func TestCloseAbortsInFlightCallback(t *testing.T) {
	arrived := make(chan struct{}, 10)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: the server notices a client hanging up only
		// once the request body has been consumed.
		io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		<-r.Context().Done() // never answers; the fake must give up
	}))
	defer hang.Close()
	// Should Close ever fail to cancel the callback, free the handler so
	// the test fails instead of hanging in hang.Close.
	defer hang.CloseClientConnections()

	fake := sunofake.New(sunofake.Config{CallbackTimeout: time.Minute})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c := newClient(srv, "")
	submit(t, c, suno.GenerateRequest{Prompt: "p", CallBackURL: hang.URL})

	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the callback never started")
	}
	done := make(chan struct{})
	go func() {
		fake.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close is stuck behind an in-flight callback")
	}
	fake.Close() // idempotent

	_, err := c.Submit(context.Background(), suno.GenerateRequest{Prompt: "p"})
	if err == nil || generation.Classify(err) != generation.Transient {
		t.Errorf("Submit after Close: %v, want a transient error", err)
	}
}

func TestMedia(t *testing.T) {
	_, srv, _ := startFake(t, sunofake.Config{})
	get := func(path string, header map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}

	resp, audio := get("/fake-audio/x-1.mp3", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" ||
		string(audio[:4]) != "RIFF" || string(audio[8:12]) != "WAVE" || len(audio) < 1000 {
		t.Errorf("audio: HTTP %d %s, %d bytes starting %q", resp.StatusCode, resp.Header.Get("Content-Type"), len(audio), audio[:12])
	}
	_, again := get("/fake-audio/x-1.mp3", nil)
	if string(again) != string(audio) {
		t.Error("the same track's audio differs between requests")
	}
	// Browsers seek with Range requests.
	if resp, b := get("/fake-audio/stream/x-1", map[string]string{"Range": "bytes=0-99"}); resp.StatusCode != http.StatusPartialContent || len(b) != 100 {
		t.Errorf("range: HTTP %d, %d bytes", resp.StatusCode, len(b))
	}

	resp, img := get("/fake-image/x-1.png", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("image: HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if _, err := png.Decode(strings.NewReader(string(img))); err != nil {
		t.Errorf("image is not a PNG: %v", err)
	}
}

func TestParseDirectives(t *testing.T) {
	tests := []struct {
		prompt string
		want   sunofake.Directives
	}{
		{"a plain song", sunofake.Directives{}},
		{"[fake:fail=3] song", sunofake.Directives{Fail: 3}},
		{"song [FAKE:Fail=2]", sunofake.Directives{Fail: 2}},
		{"x [fake:ratelimit=4] y", sunofake.Directives{RateLimit: 4}},
		{"[fake:audio-failed]", sunofake.Directives{AudioFailed: true}},
		{"lyrics\n[fake:sensitive]\nmore", sunofake.Directives{Sensitive: true}},
		{"[fake:slow=1m30s]", sunofake.Directives{Slow: 90 * time.Second}},
		{"[fake:nocallback]", sunofake.Directives{NoCallback: true}},
		{"[fake:media-base=http://elsewhere:8080/] x", sunofake.Directives{MediaBase: "http://elsewhere:8080"}},
		{"[fake:media-base=javascript:alert(1)]", sunofake.Directives{}},
		{"[fake:fail=1][fake:slow=2s] [fake:nocallback] [fake:audio-failed]",
			sunofake.Directives{Fail: 1, Slow: 2 * time.Second, NoCallback: true, AudioFailed: true}},
		{"[fake:fail=x] [fake:fail=-1] [fake:slow=soon] [fake:slow=-1s]", sunofake.Directives{}},
		{"[fake:unknown=1] [fake:explode] [fake fail=1] fake:fail=1", sunofake.Directives{}},
		{"[fake:fail= 2 ]", sunofake.Directives{Fail: 2}},
	}
	for _, tt := range tests {
		if got := sunofake.ParseDirectives(tt.prompt); got != tt.want {
			t.Errorf("ParseDirectives(%q) = %+v, want %+v", tt.prompt, got, tt.want)
		}
	}
}
