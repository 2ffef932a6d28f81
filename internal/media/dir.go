package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

// Dir keeps copies in a local directory and serves them under a base URL:
// the local stack's stand-in for the S3 bucket behind CloudFront.
type Dir struct {
	root *os.Root
	base string
}

// OpenDir returns the store in dir (created if missing) whose files are
// served at baseURL (for instance http://localhost:3001/media).
func OpenDir(dir, baseURL string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("media directory: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("media directory: %w", err)
	}
	return &Dir{root: root, base: strings.TrimRight(baseURL, "/")}, nil
}

// Close releases the directory.
func (d *Dir) Close() error { return d.root.Close() }

// ValidKey reports whether key is one the stores accept: a relative path of
// plain segments, so no key names anything outside the store.
func ValidKey(key string) bool {
	if key == "" || len(key) > 512 || strings.HasPrefix(key, "/") || path.Clean(key) != key {
		return false
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "\\\x00") {
			return false
		}
	}
	return true
}

// Put stores body at key. It writes a temporary file and renames it, so a
// reader never sees half a file and a crash leaves no partial copy.
func (d *Dir) Put(_ context.Context, key, _ string, body io.Reader, _ int64) error {
	if !ValidKey(key) {
		return fmt.Errorf("media key %q is not valid", key)
	}
	if dir := path.Dir(key); dir != "." {
		if err := d.root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("store %s: %w", key, err)
		}
	}
	tmp := key + ".partial"
	f, err := d.root.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	_, err = io.Copy(f, body)
	err = errors.Join(err, f.Close())
	if err == nil {
		err = d.root.Rename(tmp, key)
	}
	if err != nil {
		_ = d.root.Remove(tmp)
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

// URL is where key is served.
func (d *Dir) URL(key string) string { return d.base + "/" + key }

// Delete removes every file under prefix (a generation's directory).
func (d *Dir) Delete(_ context.Context, prefix string) error {
	if !ValidKey(prefix) {
		return fmt.Errorf("media prefix %q is not valid", prefix)
	}
	if err := d.root.RemoveAll(prefix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", prefix, err)
	}
	return nil
}

// ServeHTTP serves GET and HEAD of a file by its key (the request path
// relative to the handler's mount, /media/ stripped), with its type, its
// length and range requests, so an audio element can seek.
func (d *Dir) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	key := strings.TrimPrefix(r.URL.Path, "/")
	if !ValidKey(key) || strings.HasSuffix(key, ".partial") {
		http.NotFound(w, r)
		return
	}
	f, err := d.root.Open(key)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", TypeOf(key))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", CacheControl)
	http.ServeContent(w, r, "", st.ModTime(), f)
}
