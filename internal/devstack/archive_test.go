package devstack_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// Songs that last (DESIGN.md section 11): the copies in the stack's own
// storage.

// fetch GETs url (with an optional Range) and returns the answer.
func fetch(t *testing.T, url, rng string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func tracksOf(st map[string]any) []map[string]any {
	var out []map[string]any
	ts, _ := st["tracks"].([]any)
	for _, t := range ts {
		out = append(out, t.(map[string]any))
	}
	return out
}

func scenarioCompletedSongsPlayFromOwnStorage(t *testing.T, b backend) {
	s := startStack(t, b, nil, devstack.Options{})
	u := user(t, s, "keeper", generation.Pro)
	sock := u.dial()
	id := u.create("a song to keep")
	var saving bool
	done := sock.wait(t, "completion", func(e event) bool {
		if e.id() == id && e.progress() == generation.ProgressSaving {
			saving = true
		}
		return e.id() == id && e.Event == service.EventComplete
	}, 15*time.Second)
	if !saving {
		t.Errorf("no 90 %% (saving) event before completion: %v", sock.events(id))
	}
	st := u.status(id)
	if st["archived"] != true {
		t.Fatalf("completed generation not archived: %v", st)
	}
	tracks := tracksOf(st)
	if len(tracks) == 0 {
		t.Fatalf("no tracks: %v", st)
	}
	if st["audioUrl"] != tracks[0]["audioUrl"] || done.Data["audioUrl"] != st["audioUrl"] {
		t.Errorf("top-level audioUrl %v, event %v, first track %v; want the same copy", st["audioUrl"], done.Data["audioUrl"], tracks[0]["audioUrl"])
	}
	for i, tr := range tracks {
		for _, f := range []struct{ copy, source, kind string }{{"audioUrl", "sourceAudioUrl", "audio/"}, {"imageUrl", "sourceImageUrl", "image/"}} {
			cp, _ := tr[f.copy].(string)
			src, _ := tr[f.source].(string)
			if !strings.HasPrefix(cp, s.URL+"/media/") || src == "" || strings.HasPrefix(src, s.URL+"/media/") {
				t.Fatalf("track %d: %s %q from %s %q; want a copy under %s/media/ and Suno's URL kept", i, f.copy, cp, f.source, src, s.URL)
			}
			resp, mine := fetch(t, cp, "")
			_, theirs := fetch(t, src, "")
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), f.kind) ||
				resp.ContentLength != int64(len(mine)) || sha256.Sum256(mine) != sha256.Sum256(theirs) || len(mine) == 0 {
				t.Errorf("track %d %s: %d %s, %d bytes; want Suno's %d bytes, typed %s*", i, f.copy, resp.StatusCode,
					resp.Header.Get("Content-Type"), len(mine), len(theirs), f.kind)
			}
			if f.kind == "audio/" {
				resp, part := fetch(t, cp, "bytes=100-1099")
				if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, mine[100:1100]) ||
					resp.Header.Get("Content-Range") == "" {
					t.Errorf("track %d: range request = %d %q, %d bytes", i, resp.StatusCode, resp.Header.Get("Content-Range"), len(part))
				}
			}
		}
	}
	// The owner removes the song: its copies go with it.
	if code, _ := u.do("DELETE", "/api/generation/"+id, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if resp, _ := fetch(t, tracks[0]["audioUrl"].(string), ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a deleted song's copy answers %d, want 404", resp.StatusCode)
	}
}

// flakyMedia fails or crashes the stores it wraps on demand.
type flakyMedia struct {
	service.Media
	mu       sync.Mutex
	fail     bool           // every Put fails
	crashAt  int            // panic after this many puts (0: never), once
	puts     int            // successful puts
	keys     map[string]int // puts per key
	attempts atomic.Int32
}

func (f *flakyMedia) Put(ctx context.Context, key, ct string, body io.Reader, size int64) error {
	f.attempts.Add(1)
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return errors.New("injected: storage unavailable")
	}
	if err := f.Media.Put(ctx, key, ct, body, size); err != nil {
		return err
	}
	f.mu.Lock()
	f.puts++
	if f.keys == nil {
		f.keys = map[string]int{}
	}
	f.keys[key]++
	crash := f.crashAt > 0 && f.puts == f.crashAt
	if crash {
		f.crashAt = 0
	}
	f.mu.Unlock()
	if crash {
		// The worker dies between the copies and the completion: the
		// message comes back after its visibility timeout.
		panic("injected crash after the last copy")
	}
	return nil
}

func (f *flakyMedia) setFail(v bool) {
	f.mu.Lock()
	f.fail = v
	f.mu.Unlock()
}

func scenarioCrashBetweenCopyAndCompletion(t *testing.T, b backend) {
	flaky := &flakyMedia{crashAt: 4} // two tracks, audio and image each
	s := startStack(t, b, func(c *devstack.Config) {
		// Redelivered soon after the crash; the worker's timeout leaves
		// the copy time beyond the margin it keeps (3 s), and stays below
		// the lease and the visibility timeout (Config.Check).
		c.QueueSettings.VisibilityTimeout = 5 * time.Second
		c.Pipeline.ClaimLease, c.WorkerTimeout = 4800*time.Millisecond, 4500*time.Millisecond
	},
		devstack.Options{Options: app.Options{WrapMedia: func(m service.Media) service.Media { flaky.Media = m; return flaky }}})
	u := user(t, s, "crashy", generation.Free)
	sock := u.dial()
	id := u.create("saved twice, kept once")
	sock.waitFinal(t, id, time.Minute) // seconds alone; a loaded emulator's writes take more
	quiet()
	st := u.status(id)
	if st["status"] != "completed" || st["archived"] != true {
		t.Fatalf("after the crash: %v", st)
	}
	flaky.mu.Lock()
	defer flaky.mu.Unlock()
	if len(flaky.keys) != 4 {
		t.Errorf("copies went to %d keys (%v), want 4: one per track file, whatever the retries", len(flaky.keys), flaky.keys)
	}
	for _, tr := range tracksOf(st) {
		if resp, _ := fetch(t, tr["audioUrl"].(string), ""); resp.StatusCode != http.StatusOK {
			t.Errorf("copy %v: %d", tr["audioUrl"], resp.StatusCode)
		}
	}
	if n := count(sock.events(id), service.EventComplete); n != 1 {
		t.Errorf("%d completion events, want exactly one", n)
	}
}

func scenarioFailedCopyCompletesWithSunoURLs(t *testing.T, b backend) {
	flaky := &flakyMedia{fail: true}
	s := startStack(t, b, func(c *devstack.Config) {
		c.Pipeline.ArchiveAttempts = 3
		c.Pipeline.ArchiveRetry = 2 * time.Second
		c.SweepInterval = 500 * time.Millisecond
	}, devstack.Options{Options: app.Options{WrapMedia: func(m service.Media) service.Media { flaky.Media = m; return flaky }}})
	u := user(t, s, "unlucky", generation.Premium)
	id := u.create("storage is down")
	st := u.waitStatus(id, "completed", statusIs("completed"), 15*time.Second)
	if st["archived"] != false {
		t.Fatalf("completed without copies but archived = %v", st["archived"])
	}
	if n := flaky.attempts.Load(); n != 3 {
		t.Errorf("%d copy tries, want 3 (ArchiveAttempts)", n)
	}
	for _, tr := range tracksOf(st) {
		if a, _ := tr["audioUrl"].(string); strings.HasPrefix(a, s.URL+"/media/") || a == "" || tr["sourceAudioUrl"] != nil && tr["sourceAudioUrl"] != "" && tr["sourceAudioUrl"] != a {
			t.Errorf("not archived but track %v", tr)
		}
	}
	// Storage is back: the sweeper makes the copies later.
	flaky.setFail(false)
	st = u.waitStatus(id, "archived by the sweeper", func(st map[string]any) bool { return st["archived"] == true }, 15*time.Second)
	if a := tracksOf(st)[0]["audioUrl"].(string); !strings.HasPrefix(a, s.URL+"/media/") {
		t.Errorf("after the sweeper: audioUrl %s", a)
	}
}

func scenarioForeignMediaHostIsNotFetched(t *testing.T, b backend) {
	var asked atomic.Int32
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Header().Set("Content-Type", "audio/wav")
		_, _ = w.Write([]byte("RIFF....WAVEfmt "))
	}))
	defer foreign.Close()
	s := startStack(t, b, nil, devstack.Options{})
	u := user(t, s, "target", generation.Free)
	// Suno (here, the fake told to) answers with tracks on a host that is
	// not one of SUNO_MEDIA_HOSTS.
	id := u.create("tracks elsewhere [fake:media-base=" + foreign.URL + "]")
	st := u.waitStatus(id, "failed", statusIs("failed"), 15*time.Second)
	// The owner reads why in plain words and a stable code; the host
	// refused is for the log line, not for them (DESIGN.md section 13).
	if e, _ := st["error"].(string); !strings.Contains(e, "track data") || strings.Contains(e, "127.0.0.1") || strings.Contains(e, "http") {
		t.Errorf("error %q (%v), want the track data refused, without the host", e, st["errorCode"])
	}
	if len(tracksOf(st)) != 0 || st["archived"] != false {
		t.Errorf("refused tracks were kept: %v", st)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the foreign host was asked %d times; nothing from it may be fetched", n)
	}
}
