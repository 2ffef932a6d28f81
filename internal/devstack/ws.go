package devstack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/songqueue/songqueue/internal/cors"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/memory"
	"github.com/songqueue/songqueue/internal/service"
)

// realtime is the local stand-in for the API Gateway WebSocket API: it
// authenticates at connect, registers the connection with the same service
// calls the $connect, $disconnect and $default Lambdas make, and lets the
// notifier reach connections through the hub, directly or through the
// management API's @connections routes.
type realtime struct {
	svc      *service.Realtime
	verifier interface {
		Verify(context.Context, string) (identity.Caller, error)
	}
	hub  *memory.Hub
	cors cors.Policy
	log  interface {
		Warn(string, ...any)
	}
}

// sameOrigin reports whether origin is the stack's own (the bundled page).
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

func newConnectionID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:]) + "="
}

func (rt *realtime) serveWS(w http.ResponseWriter, r *http.Request) {
	// A browser says which page opens the socket; only the stack's own and
	// those CORS_ALLOW_ORIGINS lists may. (Other clients send no Origin.)
	if o := r.Header.Get("Origin"); o != "" && !rt.cors.AllowsOrigin(o) && !sameOrigin(o, r) {
		http.Error(w, `{"message":"Forbidden: this origin is not in CORS_ALLOW_ORIGINS"}`, http.StatusForbidden)
		return
	}
	caller, err := rt.verifier.Verify(r.Context(), r.URL.Query().Get("token"))
	if err != nil {
		// API Gateway answers a refused $connect with 401 or 403 before
		// any upgrade; so do we.
		http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	// Beyond the per-user cap, refused before the upgrade as API Gateway
	// refuses a $connect the function answers with 429.
	if err := rt.svc.CheckConnections(r.Context(), caller); err != nil {
		var se *service.Error
		if errors.As(err, &se) && se.Kind == service.KindQuota {
			w.Header().Set("Retry-After", strconv.Itoa(int(se.RetryAfter/time.Second)))
			http.Error(w, `{"message":"`+se.Message+`"}`, http.StatusTooManyRequests)
			return
		}
		http.Error(w, `{"message":"Internal server error"}`, http.StatusInternalServerError)
		return
	}
	// The origin was checked above; the token in the query string, not a
	// cookie, authenticates, so a foreign page cannot ride on a user's
	// session either. A WebSocket lives longer than the server's timeouts
	// allow a request.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	conn.SetReadLimit(service.MaxClientMessage + 1)
	id := newConnectionID()
	ctx := r.Context()
	rt.hub.Attach(id, func(ctx context.Context, payload []byte) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return conn.Write(ctx, websocket.MessageText, payload)
	}, func() { conn.Close(websocket.StatusPolicyViolation, "token expired; reconnect with a fresh one") })
	defer rt.hub.Detach(id)
	if err := rt.svc.Connect(ctx, caller, id); err != nil {
		// The cap, checked again in the write: a burst of connects that
		// all passed the check above.
		var se *service.Error
		if errors.As(err, &se) && se.Kind == service.KindQuota {
			conn.Close(websocket.StatusTryAgainLater, "too many connections; close one first")
			return
		}
		rt.log.Warn("connect", "err", err)
		conn.Close(websocket.StatusInternalError, "could not register the connection")
		return
	}
	defer func() {
		if err := rt.svc.Disconnect(context.WithoutCancel(ctx), id); err != nil {
			rt.log.Warn("disconnect", "err", err)
		}
	}()
	// The connection lives no longer than the token it was opened with.
	if !caller.Expires.IsZero() {
		expiry := time.AfterFunc(time.Until(caller.Expires), func() {
			conn.Close(websocket.StatusPolicyViolation, "token expired; reconnect with a fresh one")
		})
		defer expiry.Stop()
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			conn.CloseNow()
			return
		}
		reply, err := rt.svc.HandleMessage(ctx, caller, id, data)
		if err != nil {
			rt.log.Warn("websocket message", "err", err)
			continue
		}
		if err := rt.hub.Post(ctx, id, mustJSON(reply)); err != nil {
			return
		}
	}
}

// serveConnections implements the API Gateway management API for local
// connections: POST sends, DELETE disconnects, GET describes.
func (rt *realtime) serveConnections(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	switch r.Method {
	case http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, 128<<10+1))
		if err != nil || len(body) > 128<<10 {
			http.Error(w, `{"message":"Payload too large"}`, http.StatusRequestEntityTooLarge)
			return
		}
		err = rt.hub.Post(r.Context(), id, body)
		switch {
		case errors.Is(err, service.ErrGone):
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Amzn-Errortype", "GoneException")
			w.WriteHeader(http.StatusGone)
			_, _ = w.Write([]byte(`{"message":"GoneException"}`))
		case err != nil:
			http.Error(w, `{"message":"Internal"}`, http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusOK)
		}
	case http.MethodDelete:
		_ = rt.hub.Close(r.Context(), id)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, `{"message":"Method not allowed"}`, http.StatusMethodNotAllowed)
	}
}
