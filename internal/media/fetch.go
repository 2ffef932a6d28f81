// Package media copies a song's files from Suno into the stack's own
// storage (DESIGN.md section 11): Fetch downloads one file to a temporary
// file, checked and bounded, so that nothing the size of a song is held in
// memory; Dir keeps the copies in a local directory and serves them, as the
// local stack does (the S3 bucket is package s3media).
package media

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	neturl "net/url"
	"os"
	"path"
	"strings"
	"time"
)

// CacheControl is what the songs' copies are served with, by the local
// stack (Dir) and, as the objects' metadata, through CloudFront (s3media;
// template.yaml's MediaCachePolicy keeps them at the edge no longer).
//
// A copy's URL is its only key: anyone with the link can play the song
// (ids are random UUIDs, so links cannot be guessed), as with Suno's own
// URLs. A copy never changes, but its owner may delete it, so it is not
// "immutable" for a year: browsers and the edge keep it CacheMaxAge, then
// revalidate (a 304 while it exists, a 404 once deleted). A deleted song
// is thus gone from every cache of ours within the hour; docs/
// threat-model.md says why this and not signed URLs.
const (
	CacheMaxAge  = 3600 // seconds
	CacheControl = "public, max-age=3600"
)

// Kind is what a file must be.
type Kind string

const (
	Audio Kind = "audio"
	Image Kind = "image"
)

// Fetcher downloads media files. The caller checks the URL's host first
// (the service allows only Suno's media hosts); Fetcher bounds the rest:
// https only, public addresses only (the guard, guard.go), no redirect
// followed, size and time capped.
type Fetcher struct {
	// AllowLoopback admits the local stack's fake Suno, which serves its
	// files over plain http from this machine: a URL whose host is a
	// loopback name (LoopbackName) may use http, and is dialled at
	// loopback addresses only. Nothing else changes: private, link-local
	// and the other refused addresses stay refused, and any other host
	// needs https. Set only for a media host list that names a loopback
	// host (AnyLoopback); never in AWS.
	AllowLoopback bool
	// MaxBytes bounds one file (default 64 MiB: Suno's 8-minute songs are a
	// fraction of it).
	MaxBytes int64
	// Timeout bounds one download, headers to last byte (default 2 min).
	Timeout time.Duration
	// Dir holds the temporary files (default os.TempDir(): Lambda's /tmp).
	Dir string

	// lookup replaces the system's resolver (tests).
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// File is a downloaded file on local disk. Close removes it.
type File struct {
	*os.File
	Size        int64
	ContentType string
	SHA256      string
}

// Close closes and removes the temporary file.
func (f *File) Close() error {
	err := f.File.Close()
	return errors.Join(err, os.Remove(f.Name()))
}

// Error is a download that failed; Permanent says whether trying again can
// help (a missing file, one too large or of the wrong kind cannot).
type Error struct {
	URL       string
	Reason    string
	Permanent bool
}

func (e *Error) Error() string { return "fetch " + e.URL + ": " + e.Reason }

// Fetch downloads url, which must be a kind file, to a temporary file and
// returns it positioned at its start. The body is streamed to disk in
// small buffers whatever its size.
func (f Fetcher) Fetch(ctx context.Context, url string, kind Kind) (*File, error) {
	if err := f.checkURL(url); err != nil {
		return nil, err
	}
	max := f.MaxBytes
	if max <= 0 {
		max = 64 << 20
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	transport := sharedTransport(f.AllowLoopback)
	if f.lookup != nil {
		transport = guard{allowLoopback: f.AllowLoopback, lookup: f.lookup}.transport()
		defer transport.CloseIdleConnections()
	}
	noRedirects := http.Client{
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, &Error{URL: url, Reason: err.Error(), Permanent: true}
	}
	resp, err := noRedirects.Do(req)
	if ae := (*AddressError)(nil); errors.As(err, &ae) {
		return nil, &Error{URL: url, Reason: ae.Error(), Permanent: true}
	}
	if err != nil {
		return nil, &Error{URL: url, Reason: err.Error()}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, &Error{URL: url, Reason: fmt.Sprintf("redirected (%d) to %q, which is not fetched", resp.StatusCode, resp.Header.Get("Location")), Permanent: true}
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone || resp.StatusCode == http.StatusForbidden:
		return nil, &Error{URL: url, Reason: resp.Status, Permanent: true}
	default:
		return nil, &Error{URL: url, Reason: resp.Status}
	}
	if resp.ContentLength > max {
		return nil, &Error{URL: url, Reason: fmt.Sprintf("%d bytes, more than the limit of %d", resp.ContentLength, max), Permanent: true}
	}

	tmp, err := os.CreateTemp(f.Dir, "songqueue-media-*")
	if err != nil {
		return nil, fmt.Errorf("temporary file: %w", err)
	}
	file := &File{File: tmp}
	keep := false
	defer func() {
		if !keep {
			_ = file.Close()
		}
	}()
	// The first bytes decide the kind, before the rest is read.
	head := make([]byte, 512)
	n, err := io.ReadFull(resp.Body, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, &Error{URL: url, Reason: "reading the body: " + err.Error()}
	}
	head = head[:n]
	ct, ok := contentType(resp.Header.Get("Content-Type"), head, kind)
	if !ok {
		return nil, &Error{URL: url, Reason: fmt.Sprintf("the body is %s, not %s", ct, kind), Permanent: true}
	}
	hash := sha256.New()
	w := io.MultiWriter(tmp, hash)
	if _, err := w.Write(head); err != nil {
		return nil, fmt.Errorf("write temporary file: %w", err)
	}
	copied, err := io.Copy(w, io.LimitReader(resp.Body, max-int64(n)+1))
	size := int64(n) + copied
	if err != nil {
		return nil, &Error{URL: url, Reason: "reading the body: " + err.Error()}
	}
	if size > max {
		return nil, &Error{URL: url, Reason: fmt.Sprintf("more than the limit of %d bytes", max), Permanent: true}
	}
	if resp.ContentLength >= 0 && size != resp.ContentLength {
		return nil, &Error{URL: url, Reason: fmt.Sprintf("%d bytes of %d", size, resp.ContentLength)}
	}
	if size == 0 {
		return nil, &Error{URL: url, Reason: "empty body", Permanent: true}
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind temporary file: %w", err)
	}
	file.Size, file.ContentType, file.SHA256 = size, ct, hex.EncodeToString(hash.Sum(nil))
	keep = true
	return file, nil
}

// checkURL refuses a URL that is not https (or, with AllowLoopback, http
// to a loopback name) before anything is resolved or dialled.
func (f Fetcher) checkURL(raw string) error {
	u, err := neturl.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return &Error{URL: raw, Reason: "not an absolute URL without credentials", Permanent: true}
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && f.AllowLoopback && LoopbackName(u.Host):
	case u.Scheme == "http":
		return &Error{URL: raw, Reason: "plain http: media is fetched over https only (http only from a loopback host of the local stack)", Permanent: true}
	default:
		return &Error{URL: raw, Reason: fmt.Sprintf("scheme %q: media is fetched over https only", u.Scheme), Permanent: true}
	}
	return nil
}

// contentType is the type a file of kind is stored with: what its first
// bytes say when they are specific, else what the server declared. ok is
// false when neither says kind: a server that sends a web page, or a
// script, where a song was expected is not copied.
func contentType(declared string, head []byte, kind Kind) (string, bool) {
	sniffed := http.DetectContentType(head)
	if mt, _, _ := mime.ParseMediaType(sniffed); strings.HasPrefix(mt, string(kind)+"/") {
		return normal(mt), true
	}
	mt, _, err := mime.ParseMediaType(declared)
	if err != nil || !strings.HasPrefix(mt, string(kind)+"/") || strings.Contains(mt, "svg") {
		if err != nil {
			mt = sniffed
		}
		return mt, false
	}
	// Declared so, and nothing in its first bytes says otherwise (MP3
	// frames without an ID3 tag sniff as octet-stream).
	if s, _, _ := mime.ParseMediaType(sniffed); s != "application/octet-stream" {
		return s, false
	}
	return normal(mt), true
}

func normal(mt string) string {
	switch mt {
	case "audio/wave", "audio/x-wav", "audio/vnd.wave":
		return "audio/wav"
	case "audio/mp3":
		return "audio/mpeg"
	}
	return mt
}

// Ext is the file extension a stored file of contentType gets; keys are
// then the same for every copy of the same source, so a retried copy
// overwrites rather than adds. Empty for a type without one.
func Ext(contentType string) string {
	for e, t := range types {
		if t == contentType && e != ".jpeg" {
			return e
		}
	}
	return ""
}

// TypeOf is the content type of a stored file, by its extension: the
// system's MIME table may lack the audio types.
func TypeOf(name string) string {
	if t, ok := types[strings.ToLower(path.Ext(name))]; ok {
		return t
	}
	return "application/octet-stream"
}

var types = map[string]string{
	".mp3": "audio/mpeg", ".wav": "audio/wav", ".ogg": "audio/ogg", ".m4a": "audio/mp4",
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
}
