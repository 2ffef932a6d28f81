// Package httpapi is the HTTP API of DESIGN.md section 3 as a plain
// http.Handler: the local stack serves it directly and the API Lambda
// adapts API Gateway events to it.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/suno"
)

// Authenticator finds the caller of a request.
type Authenticator interface {
	Authenticate(r *http.Request) (identity.Caller, error)
}

// Songs is what the song makers' routes need of the service.
type Songs interface {
	Create(ctx context.Context, c identity.Caller, req generation.Request, idempotencyKey string) (service.CreateResult, error)
	Get(ctx context.Context, c identity.Caller, id string) (generation.Generation, error)
	List(ctx context.Context, c identity.Caller, limit int, cursor string) (service.Page, error)
	Cancel(ctx context.Context, c identity.Caller, id string) (generation.Generation, error)
	Delete(ctx context.Context, c identity.Caller, id string) error
	Stats(ctx context.Context) (service.Stats, error)
	// Quota returns the caller's own quota: their tier's limits and their
	// use of them.
	Quota(ctx context.Context, c identity.Caller) (service.QuotaView, error)
	// Places returns the place in line of each pending generation, by id.
	Places(ctx context.Context, gens ...generation.Generation) map[string]service.Place
}

// Callbacks is what Suno's callback route needs of the service.
type Callbacks interface {
	Handle(ctx context.Context, auth service.CallbackAuth, report generation.TaskReport) error
}

// Routes are the roles behind the API's routes; a function serves the
// routes of the roles it is given, and answers route_not_found for the
// others (the callback function serves only the callback).
type Routes struct {
	Songs     Songs
	Operators Admin
	Callbacks Callbacks
	// Limits bound each caller's requests on these routes; the zero
	// value bounds none.
	Limits Limits
}

// MaxBody is the largest request body accepted: Suno's longest fields
// (5000 + 1000 + 100 characters) fit several times over, even escaped.
const MaxBody = 64 << 10

// New returns the API handler of routes.
func New(routes Routes, authn Authenticator, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	a := &api{songs: routes.Songs, ops: routes.Operators, callbacks: routes.Callbacks, authn: authn, log: log, limits: routes.Limits}
	mux := http.NewServeMux()
	if a.songs != nil {
		mux.HandleFunc("POST /api/generation/create", a.authed(a.create))
		mux.HandleFunc("GET /api/generation/status/{id}", a.authed(a.status))
		mux.HandleFunc("POST /api/generation/{id}/cancel", a.authed(a.cancel))
		mux.HandleFunc("GET /api/generation", a.authed(a.list))
		// /api/generation/create is a path of its own (POST only), not a
		// generation called "create": openapi.yaml's concrete path wins
		// over /api/generation/{id}, and so does the Allow of its 405.
		mux.HandleFunc("DELETE /api/generation/create", a.limitedBy("ip", a.limits.IP, func(w http.ResponseWriter, r *http.Request) {
			notAllowed(w, r, mux)
		}))
		mux.HandleFunc("DELETE /api/generation/{id}", a.authed(a.remove))
		mux.HandleFunc("GET /api/queue/stats", a.authed(a.stats))
		mux.HandleFunc("GET /api/quota", a.authed(a.quota))
	}
	if a.ops != nil {
		a.adminRoutes(mux)
	}
	if a.callbacks != nil {
		mux.HandleFunc("POST /api/suno/callback", a.limitedBy("callback", a.limits.Callback, a.callback))
	}
	mux.HandleFunc("/api/", a.limitedBy("ip", a.limits.IP, func(w http.ResponseWriter, r *http.Request) {
		notAllowed(w, r, mux)
	}))
	return a.recoverer(mux)
}

// notAllowed answers a request no route serves: 405 with Allow when its
// path has routes for other methods, else 404.
func notAllowed(w http.ResponseWriter, r *http.Request, mux *http.ServeMux) {
	if allow := methodsOf(mux, r); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
			fmt.Sprintf("%s is not served at %s; use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")))
		return
	}
	writeError(w, http.StatusNotFound, "route_not_found", fmt.Sprintf("no route %s %s; see openapi.yaml", r.Method, r.URL.Path))
}

// methodsOf lists the methods mux serves at r's path, for the Allow header
// of a 405: the catch-all pattern would otherwise answer every method the
// routes do not name with a 404.
func methodsOf(mux *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/api/" && pattern != "DELETE /api/generation/create" {
			out = append(out, m)
		}
	}
	return out
}

type api struct {
	songs     Songs
	ops       Admin
	callbacks Callbacks
	authn     Authenticator
	log       *slog.Logger
	limits    Limits
}

type handler func(w http.ResponseWriter, r *http.Request, c identity.Caller)

// authed serves h to authenticated callers within their limits (Limits):
// the source address's, and the user's.
func (a *api) authed(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := a.authn.Authenticate(r)
		user := c.UserID
		if err != nil {
			user = ""
		}
		if !a.admit(w, r, "ip", a.limits.IP, user) {
			return
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="songqueue"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "send a valid token as 'Authorization: Bearer <JWT>': "+err.Error())
			return
		}
		h(w, r, c)
	}
}

// recoverer turns a panic into a 500 so no input takes the process down.
func (a *api) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.ErrorContext(r.Context(), "panic in handler", "path", r.URL.Path, "panic", v)
				writeError(w, http.StatusInternalServerError, "internal", "something went wrong on our side; try again")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// CreateRequest is the body of a create. It is decoded strictly: unknown
// fields are refused, so a client that sends "tier" learns it is ignored
// instead of believing it worked.
type CreateRequest = generation.Request

// CreateResponse is the answer to a create.
type CreateResponse struct {
	GenerationID string            `json:"generationId"`
	Status       generation.Status `json:"status"`
	Tier         generation.Tier   `json:"tier"`
	Priority     int               `json:"priority"`
	Message      string            `json:"message"`
	// Queue is the new song's place in line.
	Queue *service.Place `json:"queue,omitempty"`
	// Version is the version of the state this answer shows, as in GET
	// status and the events: a client keeps the highest it has seen, and
	// a push may arrive before this answer.
	Version int64 `json:"version"`
}

func (a *api) create(w http.ResponseWriter, r *http.Request, c identity.Caller) {
	req, err := DecodeCreate(r.Body)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.songs.Create(r.Context(), c, req, r.Header.Get("Idempotency-Key"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	g := res.Generation
	msg := "Generation queued; follow it on the WebSocket or at GET /api/generation/status/" + g.ID
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
		msg = "Generation already created with this Idempotency-Key"
	}
	writeJSON(w, http.StatusAccepted, CreateResponse{g.ID, g.Status, g.Tier, g.Tier.Priority(), msg, res.Place, g.Version})
}

// DecodeCreate reads a create body strictly, with errors that say what is
// wrong with it.
func DecodeCreate(body io.Reader) (generation.Request, error) {
	data, err := io.ReadAll(io.LimitReader(body, MaxBody+1))
	if err != nil {
		return generation.Request{}, &service.Error{Kind: service.KindInvalid, Code: "unreadable_body", Message: "the request body could not be read"}
	}
	if len(data) > MaxBody {
		return generation.Request{}, errTooLarge
	}
	if !utf8.Valid(data) {
		// encoding/json would quietly turn bad bytes into U+FFFD and send
		// Suno a prompt the user never wrote.
		return generation.Request{}, badBody("invalid_encoding", "the body must be UTF-8 encoded")
	}
	var req generation.Request
	if err := decodeStrict(data, &req); err != nil {
		return generation.Request{}, err
	}
	return req, nil
}

var errTooLarge = errors.New("body too large")

func decodeStrict(data []byte, v any) error {
	if len(strings.TrimSpace(string(data))) == 0 {
		return badBody("empty_body", `send a JSON object such as {"prompt":"a calm piano song"}`)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	// encoding/json reads null as "leave it", so {"style":null} would pass
	// for a body without style; the document allows no null anywhere.
	if field, path := firstNull(data); path != "" {
		return service.InvalidField(field, path+" must not be null: leave it out instead")
	}
	if dec.More() {
		return badBody("invalid_json", "the body must hold exactly one JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badBody("invalid_json", "the body must hold exactly one JSON object")
	}
	return nil
}

// firstNull finds a null in a JSON object (already decoded once, so
// valid): the top-level field it is in and its path, such as "filter" and
// "filter.createdBefore"; empty when there is none.
func firstNull(data []byte) (field, path string) {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return "", ""
	}
	var walk func(v any, path string) string
	walk = func(v any, path string) string {
		switch v := v.(type) {
		case nil:
			return path
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := k
				if path != "" {
					p = path + "." + k
				}
				if found := walk(v[k], p); found != "" {
					return found
				}
			}
		case []any:
			for i, e := range v {
				if found := walk(e, fmt.Sprintf("%s[%d]", path, i)); found != "" {
					return found
				}
			}
		}
		return ""
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return "", ""
	}
	path = walk(obj, "")
	field, _, _ = strings.Cut(path, ".")
	field, _, _ = strings.Cut(field, "[")
	return field, path
}

func describeJSONError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return badBody("invalid_json", fmt.Sprintf("the body is not valid JSON (at byte %d)", syntax.Offset))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badBody("invalid_json", "the body must be a JSON object")
		}
		return service.InvalidField(typ.Field, fmt.Sprintf("%s must be a %s, not a %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if field == "tier" || field == "priority" || field == "userId" {
			return badBody("unknown_field", fmt.Sprintf("%q cannot be set in the body: it comes from your token", field))
		}
		return badBody("unknown_field", fmt.Sprintf("unknown field %q; allowed fields are prompt, style, title, instrumental, model, customMode, negativeTags", field))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badBody("invalid_json", "the body is truncated JSON")
	}
	return badBody("invalid_json", "the body is not a valid JSON object: "+err.Error())
}

func jsonKind(k string) string {
	switch k {
	case "bool":
		return "boolean"
	case "string":
		return "string"
	}
	return k
}

func badBody(code, msg string) error {
	return &service.Error{Kind: service.KindInvalid, Code: code, Message: msg}
}

// StatusResponse is a generation as its owner sees it.
type StatusResponse struct {
	GenerationID string             `json:"generationId"`
	Status       generation.Status  `json:"status"`
	Progress     int                `json:"progress"`
	Message      string             `json:"message"`
	Tier         generation.Tier    `json:"tier"`
	Prompt       string             `json:"prompt"`
	Title        string             `json:"title,omitempty"`
	Style        string             `json:"style,omitempty"`
	Model        string             `json:"model"`
	Instrumental bool               `json:"instrumental"`
	Tracks       []generation.Track `json:"tracks"`
	AudioURL     string             `json:"audioUrl"`
	// Archived says the tracks' URLs point at the stack's own copies,
	// which outlive Suno's.
	Archived bool   `json:"archived"`
	Error    string `json:"error"`
	// ErrorCode is why a failed generation failed (openapi.yaml lists
	// the codes); Error says it in plain words.
	ErrorCode string `json:"errorCode,omitempty"`
	// WaitReason is why a pending generation is held (suno_unavailable,
	// suno_credits, tier_paused); Message says it in plain words.
	WaitReason string `json:"waitReason,omitempty"`
	// Queue is a pending generation's place in line.
	Queue    *service.Place `json:"queue,omitempty"`
	Attempts int            `json:"attempts"`
	// Version grows with every saved change; WebSocket events carry it too,
	// so a client keeps whichever state is newer.
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// placed is View(g) with g's place in line, if places has it.
func placed(g generation.Generation, places map[string]service.Place) StatusResponse {
	v := View(g)
	if p, ok := places[g.ID]; ok {
		v.Queue = &p
	}
	return v
}

// View is the API's representation of g.
func View(g generation.Generation) StatusResponse {
	tracks := g.Tracks
	if tracks == nil {
		tracks = []generation.Track{}
	}
	return StatusResponse{
		GenerationID: g.ID, Status: g.Status, Progress: g.Progress, Message: g.Message, Tier: g.Tier,
		Prompt: g.Request.Prompt, Title: g.Request.Title, Style: g.Request.Style, Model: g.Request.Model,
		Instrumental: g.Request.Instrumental, Tracks: tracks, AudioURL: g.AudioURL(), Archived: g.Archived, Error: g.Error,
		ErrorCode: g.ErrorCode, WaitReason: g.WaitReason, Attempts: g.Attempts, Version: g.Version, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt,
	}
}

func (a *api) status(w http.ResponseWriter, r *http.Request, c identity.Caller) {
	g, err := a.songs.Get(r.Context(), c, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, placed(g, a.songs.Places(r.Context(), g)))
}

func (a *api) cancel(w http.ResponseWriter, r *http.Request, c identity.Caller) {
	g, err := a.songs.Cancel(r.Context(), c, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"generationId": g.ID, "status": g.Status})
}

// ListResponse is a page of the caller's generations.
type ListResponse struct {
	Items      []StatusResponse `json:"items"`
	NextCursor string           `json:"nextCursor,omitempty"`
}

// pageLimit reads the limit query parameter; 0 when absent. Present and
// empty (limit=) is no number, and refused like any other.
func pageLimit(q url.Values) (int, error) {
	if !q.Has("limit") {
		return 0, nil
	}
	s := q.Get("limit")
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > service.MaxPageSize {
		return 0, badBody("invalid_limit", fmt.Sprintf("limit must be a whole number between 1 and %d", service.MaxPageSize))
	}
	return n, nil
}

func (a *api) list(w http.ResponseWriter, r *http.Request, c identity.Caller) {
	q := r.URL.Query()
	limit, err := pageLimit(q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.songs.List(r.Context(), c, limit, q.Get("cursor"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := ListResponse{Items: make([]StatusResponse, 0, len(p.Items)), NextCursor: p.NextCursor}
	places := a.songs.Places(r.Context(), p.Items...)
	for _, g := range p.Items {
		out.Items = append(out.Items, placed(g, places))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) remove(w http.ResponseWriter, r *http.Request, c identity.Caller) {
	if err := a.songs.Delete(r.Context(), c, r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) stats(w http.ResponseWriter, r *http.Request, _ identity.Caller) {
	s, err := a.songs.Stats(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

// quota answers the caller's own quota: whose it is and what tier's
// limits come from the token, never from the request.
func (a *api) quota(w http.ResponseWriter, r *http.Request, c identity.Caller) {
	q, err := a.songs.Quota(r.Context(), c)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, q)
}

func (a *api) callback(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil || len(data) > 1<<20 {
		a.fail(w, r, errTooLarge)
		return
	}
	cb, err := suno.ParseCallback(data)
	if err != nil {
		a.fail(w, r, badBody("invalid_callback", err.Error()))
		return
	}
	q := r.URL.Query()
	err = a.callbacks.Handle(r.Context(), service.CallbackAuth{GenerationID: q.Get("g"), Signature: q.Get("sig")}, cb.Report())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": 200, "msg": "success"})
}

func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *service.Error
	switch {
	case errors.Is(err, errTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body is larger than %d bytes", MaxBody))
	case errors.As(err, &se):
		status := map[service.Kind]int{
			service.KindInvalid: http.StatusBadRequest, service.KindNotFound: http.StatusNotFound,
			service.KindConflict: http.StatusConflict, service.KindQuota: http.StatusTooManyRequests,
			service.KindForbidden: http.StatusForbidden,
		}[se.Kind]
		if status == 0 {
			status = http.StatusBadRequest
		}
		if se.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(se.RetryAfter.Round(time.Second)/time.Second)))
		}
		writeError(w, status, se.Code, se.Message)
	default:
		a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "something went wrong on our side; try again")
	}
}

// ErrorBody is the shape of every error answer.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b ErrorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
