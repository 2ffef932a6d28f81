package media_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/songqueue/songqueue/internal/media"
)

// wav is the start of a real WAV file, as the fake Suno serves them.
func wav(n int) []byte {
	b := make([]byte, n)
	copy(b, "RIFF\x24\x08\x00\x00WAVEfmt ")
	return b
}

func server(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/song.mp3", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		_, _ = w.Write(wav(100 << 10))
	})
	mux.HandleFunc("/page.mp3", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg") // says audio, is a web page
		_, _ = w.Write([]byte("<!doctype html><html><script>alert(1)</script></html>"))
	})
	mux.HandleFunc("/raw.mp3", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		_, _ = w.Write(bytes.Repeat([]byte{0xff, 0xfb, 0x90, 0x00}, 1000)) // MP3 frames, no ID3 tag
	})
	mux.HandleFunc("/big.wav", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(wav(2 << 20)) // no Content-Length announced: chunked
		w.(http.Flusher).Flush()
		_, _ = w.Write(wav(2 << 20))
	})
	mux.HandleFunc("/gone.mp3", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/busy.mp3", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("/moved.mp3", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})
	mux.HandleFunc("/cover.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 500)...))
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func TestFetch(t *testing.T) {
	s := server(t)
	// The test server is on this machine, served over http: the local
	// stack's case.
	f := media.Fetcher{MaxBytes: 3 << 20, Dir: t.TempDir(), AllowLoopback: true}
	ctx := context.Background()

	got, err := f.Fetch(ctx, s.URL+"/song.mp3", media.Audio)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got)
	sum := sha256.Sum256(wav(100 << 10))
	if !bytes.Equal(body, wav(100<<10)) || got.Size != 100<<10 || got.SHA256 != hex.EncodeToString(sum[:]) || got.ContentType != "audio/wav" {
		t.Errorf("fetched %d bytes (%s, %s), want the WAV served, typed by its bytes", got.Size, got.ContentType, got.SHA256)
	}
	name := got.Name()
	if err := got.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(got); err == nil {
		t.Errorf("the temporary file %s is still readable after Close", name)
	}

	if raw, err := f.Fetch(ctx, s.URL+"/raw.mp3", media.Audio); err != nil || raw.ContentType != "audio/mpeg" {
		t.Errorf("MP3 frames declared audio/mpeg: %v, %v", raw, err)
	} else {
		raw.Close()
	}
	if img, err := f.Fetch(ctx, s.URL+"/cover.png", media.Image); err != nil || img.ContentType != "image/png" {
		t.Errorf("cover: %v, %v", img, err)
	} else {
		img.Close()
	}

	for path, c := range map[string]struct {
		kind      media.Kind
		permanent bool
		reason    string
	}{
		"/page.mp3":  {media.Audio, true, "not audio"},
		"/cover.png": {media.Audio, true, "not audio"},
		"/song.mp3":  {media.Image, true, "not image"},
		"/big.wav":   {media.Audio, true, "limit"},
		"/gone.mp3":  {media.Audio, true, "404"},
		"/busy.mp3":  {media.Audio, false, "503"},
		"/moved.mp3": {media.Audio, true, "redirected"},
	} {
		_, err := f.Fetch(ctx, s.URL+path, c.kind)
		var fe *media.Error
		if !errors.As(err, &fe) || fe.Permanent != c.permanent || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("Fetch(%s as %s) = %v; want a %s error (permanent %v)", path, c.kind, err, c.reason, c.permanent)
		}
	}
}

func TestDirStoresAndServes(t *testing.T) {
	d, err := media.OpenDir(t.TempDir(), "http://stack/media")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	song := wav(10000)
	if err := d.Put(ctx, "gen-1/0-audio.wav", "audio/wav", bytes.NewReader(song), int64(len(song))); err != nil {
		t.Fatal(err)
	}
	if u := d.URL("gen-1/0-audio.wav"); u != "http://stack/media/gen-1/0-audio.wav" {
		t.Errorf("URL = %s", u)
	}
	srv := httptest.NewServer(http.StripPrefix("/media", d))
	defer srv.Close()
	get := func(path, rng string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
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
	resp, b := get("/media/gen-1/0-audio.wav", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" || resp.ContentLength != 10000 || !bytes.Equal(b, song) {
		t.Errorf("GET = %d %s %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), resp.ContentLength)
	}
	resp, b = get("/media/gen-1/0-audio.wav", "bytes=100-199")
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != "bytes 100-199/10000" || !bytes.Equal(b, song[100:200]) {
		t.Errorf("range = %d %s", resp.StatusCode, resp.Header.Get("Content-Range"))
	}
	for _, p := range []string{"/media/../../etc/passwd", "/media/gen-1", "/media/gen-1/missing.wav", "/media/%2e%2e/x"} {
		if resp, _ := get(p, ""); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s = %d, want not found", p, resp.StatusCode)
		}
	}
	for _, k := range []string{"../x", "/abs", "a//b", "a/./b", ""} {
		if err := d.Put(ctx, k, "audio/wav", bytes.NewReader(song), 1); err == nil {
			t.Errorf("Put(%q) accepted", k)
		}
	}
	if err := d.Delete(ctx, "gen-1"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get("/media/gen-1/0-audio.wav", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("after Delete: %d", resp.StatusCode)
	}
	if err := d.Delete(ctx, "gen-1"); err != nil {
		t.Errorf("second Delete: %v", err)
	}
}

// TestCopiesAreCachedAnHourNotForEver: a copy's owner may delete it, so
// it is served with a lifetime of an hour, not as immutable for a year
// that a deleted song would live on for in browsers' caches.
func TestCopiesAreCachedAnHourNotForEver(t *testing.T) {
	if strings.Contains(media.CacheControl, "immutable") || !strings.Contains(media.CacheControl, "max-age="+strconv.Itoa(media.CacheMaxAge)) ||
		media.CacheMaxAge <= 0 || media.CacheMaxAge > 86400 {
		t.Fatalf("media.CacheControl = %q (CacheMaxAge %d); want a max-age of at most a day, not immutable", media.CacheControl, media.CacheMaxAge)
	}
	d, err := media.OpenDir(t.TempDir(), "http://stack/media")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Put(context.Background(), "gen-1/0-audio.wav", "audio/wav", bytes.NewReader(wav(1000)), 1000); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, httptest.NewRequest("GET", "/gen-1/0-audio.wav", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != media.CacheControl {
		t.Errorf("GET a copy = %d, Cache-Control %q; want %q", rec.Code, rec.Header().Get("Cache-Control"), media.CacheControl)
	}
}
