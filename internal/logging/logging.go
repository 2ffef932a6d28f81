// Package logging is the one place every program (the Lambda functions, the
// local stack) makes its *slog.Logger, so that they all print the same format
// and every line logged for a request names that request.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// Format is how log records are printed. JSON is what CloudWatch Logs
// Insights parses into fields; text is easier to read in a terminal.
type Format string

const (
	Text Format = "text"
	JSON Format = "json"
)

// ParseFormat reads a format from configuration (LOG_FORMAT), where an unset
// variable means the program's own default and a typo must stop the program
// rather than silently print another format.
func ParseFormat(s string, def Format) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case "":
		return def, nil
	case Text, JSON:
		return f, nil
	}
	return "", fmt.Errorf("logging: unknown log format %q (accepted: %q, %q)", s, Text, JSON)
}

// New returns the logger for w. Records logged with a context from
// WithRequestID carry the attribute "requestId", so code deep in a request
// need not pass the id along to name it. A format other than JSON prints
// text: ParseFormat is where a bad value is refused.
func New(w io.Writer, format Format, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == JSON {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(&handler{root: h, inner: h})
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying id (the Lambda request id, or the HTTP
// request id), which the loggers from New and the metrics recorders add to
// what they print.
func WithRequestID(ctx context.Context, id string) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the id WithRequestID put in ctx, or "" (also for a nil
// ctx, so that a logging call can never panic).
func RequestID(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// handler adds the request id of the record's context. The id must stay a
// top-level field (one query finds every line of a request), so when the
// logger has groups open it is added to root, before the groups are replayed,
// rather than to the record, which a handler prints inside the groups.
type handler struct {
	root   slog.Handler // the handler New made, before any With
	inner  slog.Handler // root with ops applied
	ops    []func(slog.Handler) slog.Handler
	groups bool // some op is a WithGroup
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	id := RequestID(ctx)
	if ctx == nil {
		ctx = context.Background()
	}
	switch {
	case id == "":
		return h.inner.Handle(ctx, r)
	case !h.groups:
		r.AddAttrs(slog.String("requestId", id))
		return h.inner.Handle(ctx, r)
	}
	inner := h.root.WithAttrs([]slog.Attr{slog.String("requestId", id)})
	for _, op := range h.ops {
		inner = op(inner)
	}
	return inner.Handle(ctx, r)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	return h.with(func(in slog.Handler) slog.Handler { return in.WithAttrs(as) }, false)
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(func(in slog.Handler) slog.Handler { return in.WithGroup(name) }, true)
}

func (h *handler) with(op func(slog.Handler) slog.Handler, group bool) *handler {
	return &handler{
		root:   h.root,
		inner:  op(h.inner),
		ops:    append(h.ops[:len(h.ops):len(h.ops)], op),
		groups: h.groups || group,
	}
}

// SyncWriter returns w guarded by a mutex. The logger and the metrics writer
// share stdout, and each already writes a whole line per Write call, but
// nothing stops two of their Writes from running at once and interleaving in
// w; sharing one SyncWriter serializes them.
func SyncWriter(w io.Writer) io.Writer {
	return &syncWriter{w: w}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write passes p to w in one call, so that a line is never split between the
// writes of two callers.
func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// LevelFromEnv reads the log level: AWS_LAMBDA_LOG_LEVEL (what a function's
// LoggingConfig sets) or else LOG_LEVEL, INFO when neither is set. Lambda's
// TRACE and FATAL map to DEBUG and ERROR.
func LevelFromEnv(getenv func(string) string) (slog.Level, error) {
	s := getenv("AWS_LAMBDA_LOG_LEVEL")
	if s == "" {
		s = getenv("LOG_LEVEL")
	}
	if s == "" {
		return slog.LevelInfo, nil
	}
	name := strings.ToUpper(strings.TrimSpace(s))
	switch name {
	case "TRACE":
		name = "DEBUG"
	case "FATAL":
		name = "ERROR"
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(name)); err != nil {
		return slog.LevelInfo, fmt.Errorf("log level %q: want DEBUG, INFO, WARN or ERROR", s)
	}
	return l, nil
}
