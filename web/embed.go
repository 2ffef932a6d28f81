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

// ClientModule and ClientTypes are the paths of the client module for
// frontends (songqueue-client.js) and its TypeScript declarations. Pages
// on other origins import them, so they are served with CORS.
const (
	ClientModule = "/songqueue-client.js"
	ClientTypes  = "/songqueue-client.d.ts"
	// Config is the page's optional deployment settings. A deployment
	// writes its own next to index.html (make deploy-web); this handler,
	// which serves the embedded page (the local stack), answers an empty
	// one, so the page's request for it is not a 404 in the console.
	Config = "/config.json"
)

// Handler serves the page. Responses are revalidated on every load
// (no-cache), so a new build is picked up without stale modules.
//
// The client module and its types may be loaded by any origin: a
// cross-origin <script type="module"> import is a CORS request, and the
// files are public code that no credential unlocks (the rest of the page
// stays same-origin).
func Handler() http.Handler {
	files := http.FileServerFS(Files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Referrer-Policy", "no-referrer")
		switch r.URL.Path {
		case ClientModule:
			allowAnyOrigin(h)
			// Deno and some editors find the types through this header.
			h.Set("X-TypeScript-Types", ClientTypes)
			h.Add("Access-Control-Expose-Headers", "X-TypeScript-Types")
		case ClientTypes:
			allowAnyOrigin(h)
			// Not in Go's MIME table (the system's may call .ts video/mp2t).
			h.Set("Content-Type", "application/typescript; charset=utf-8")
		}
		if r.URL.Path == Config && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			if _, err := fs.Stat(Files, Config[1:]); err != nil {
				h.Set("Content-Type", "application/json")
				_, _ = w.Write([]byte("{}\n"))
				return
			}
		}
		files.ServeHTTP(w, r)
	})
}

func allowAnyOrigin(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	// For pages that set Cross-Origin-Embedder-Policy: require-corp.
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
}
