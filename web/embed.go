// Package web holds the browser page of SongQueue: plain HTML, CSS and
// JavaScript modules with no build step, embedded in the binary so the
// local stack can serve them at "/".
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

// Static is the page as embedded, under the "static" directory.
//
//go:embed static
var Static embed.FS

// Files is Static rooted at the static directory: index.html is at its top.
var Files fs.FS = mustSub(Static, "static")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // dir is a constant embedded above
	}
	return sub
}

// contentSecurityPolicy allows the page's own files and API (same origin,
// including its WebSocket) and covers and audio from any http(s) host,
// since Suno's files live on its own servers.
const contentSecurityPolicy = "default-src 'self'; connect-src 'self' ws: wss:; " +
	"img-src 'self' data: http: https:; media-src 'self' http: https:; " +
	"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the page. Responses are revalidated on every load
// (no-cache), so a new build is picked up without stale modules.
func Handler() http.Handler {
	files := http.FileServerFS(Files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	})
}
