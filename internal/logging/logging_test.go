package logging

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// lines parses each line of buf as a JSON object.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(buf)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestJSONRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, JSON, slog.LevelInfo)
	ctx := WithRequestID(context.Background(), "req-1")

	log.InfoContext(ctx, "with id", "k", "v")
	log.InfoContext(context.Background(), "without id")
	log.Info("no context")
	var nilCtx context.Context
	log.InfoContext(nilCtx, "nil context")
	if err := log.Handler().Handle(nilCtx, slog.Record{Message: "direct nil"}); err != nil {
		t.Fatal(err)
	}

	got := lines(t, &buf)
	if len(got) != 5 {
		t.Fatalf("got %d lines, want 5", len(got))
	}
	if got[0]["requestId"] != "req-1" || got[0]["k"] != "v" || got[0]["msg"] != "with id" {
		t.Errorf("line with id = %v", got[0])
	}
	for _, l := range got[1:] {
		if _, ok := l["requestId"]; ok {
			t.Errorf("line %v has a requestId, its context has none", l)
		}
	}
}

func TestWithAttrsAndGroupKeepRequestID(t *testing.T) {
	var buf bytes.Buffer
	base := New(&buf, JSON, slog.LevelInfo)
	ctx := WithRequestID(context.Background(), "req-2")

	base.With("fn", "worker").InfoContext(ctx, "attrs")
	base.With("fn", "worker").WithGroup("job").With("id", "g1").InfoContext(ctx, "group", "n", 1)
	base.WithGroup("job").InfoContext(context.Background(), "group without id", "n", 2)

	got := lines(t, &buf)
	if len(got) != 3 {
		t.Fatalf("got %d lines, want 3", len(got))
	}
	if got[0]["requestId"] != "req-2" || got[0]["fn"] != "worker" {
		t.Errorf("WithAttrs line = %v", got[0])
	}
	// The id stays top level, where a query for it finds every line.
	job, _ := got[1]["job"].(map[string]any)
	if got[1]["requestId"] != "req-2" || got[1]["fn"] != "worker" ||
		job["id"] != "g1" || job["n"] != float64(1) || job["requestId"] != nil {
		t.Errorf("WithGroup line = %v", got[1])
	}
	job, _ = got[2]["job"].(map[string]any)
	if _, ok := got[2]["requestId"]; ok || job["n"] != float64(2) || job["requestId"] != nil {
		t.Errorf("group line without id = %v", got[2])
	}
}

func TestWithDoesNotShareOps(t *testing.T) {
	// Two loggers derived from one must not see each other's attributes
	// (an append into a shared backing array would do that).
	var buf bytes.Buffer
	ctx := WithRequestID(context.Background(), "r")
	base := New(&buf, JSON, slog.LevelInfo).WithGroup("g").With("a", 1).With("b", 2)
	x, y := base.With("x", 1), base.With("y", 1)
	x.InfoContext(ctx, "x")
	y.InfoContext(ctx, "y")
	got := lines(t, &buf)
	gx, _ := got[0]["g"].(map[string]any)
	gy, _ := got[1]["g"].(map[string]any)
	if gx["x"] == nil || gx["y"] != nil || gy["y"] == nil || gy["x"] != nil {
		t.Errorf("derived loggers share attributes: %v / %v", got[0], got[1])
	}
}

func TestText(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, Text, slog.LevelInfo)
	log.InfoContext(WithRequestID(context.Background(), "req-3"), "hello", "k", "v")
	log.InfoContext(context.Background(), "bye")
	out := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(out) != 2 {
		t.Fatalf("got %q, want 2 lines", buf.String())
	}
	if !strings.Contains(out[0], "msg=hello") || !strings.Contains(out[0], "requestId=req-3") || !strings.Contains(out[0], "k=v") {
		t.Errorf("text line = %q", out[0])
	}
	if strings.HasPrefix(out[0], "{") {
		t.Errorf("text format printed JSON: %q", out[0])
	}
	if strings.Contains(out[1], "requestId") {
		t.Errorf("line without id = %q", out[1])
	}
}

func TestLevel(t *testing.T) {
	var buf bytes.Buffer
	level := new(slog.LevelVar)
	level.Set(slog.LevelWarn)
	log := New(&buf, JSON, level)
	ctx := WithRequestID(context.Background(), "r")
	log.DebugContext(ctx, "debug")
	log.InfoContext(ctx, "info")
	log.WarnContext(ctx, "warn")
	if log.Enabled(ctx, slog.LevelInfo) {
		t.Error("Info enabled at level Warn")
	}
	level.Set(slog.LevelDebug)
	log.With("a", 1).WithGroup("g").DebugContext(ctx, "debug now")
	got := lines(t, &buf)
	if len(got) != 2 || got[0]["msg"] != "warn" || got[1]["msg"] != "debug now" {
		t.Errorf("got %v, want the warn and the later debug line", got)
	}
}

func TestParseFormat(t *testing.T) {
	for _, c := range []struct {
		in   string
		def  Format
		want Format
	}{
		{"", JSON, JSON},
		{"", Text, Text},
		{"text", JSON, Text},
		{"JSON", Text, JSON},
		{" Json ", Text, JSON},
	} {
		got, err := ParseFormat(c.in, c.def)
		if err != nil || got != c.want {
			t.Errorf("ParseFormat(%q, %q) = %q, %v; want %q", c.in, c.def, got, err, c.want)
		}
	}
	for _, bad := range []string{"yaml", "jsonl", "txt"} {
		_, err := ParseFormat(bad, JSON)
		if err == nil {
			t.Errorf("ParseFormat(%q) accepted", bad)
			continue
		}
		for _, want := range []string{bad, "text", "json"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		}
	}
}

func TestRequestID(t *testing.T) {
	var nilCtx context.Context
	if RequestID(nilCtx) != "" || RequestID(context.Background()) != "" {
		t.Error("RequestID of a context without an id is not empty")
	}
	if got := RequestID(WithRequestID(nilCtx, "a")); got != "a" {
		t.Errorf("RequestID(WithRequestID(nil, a)) = %q", got)
	}
	ctx := WithRequestID(WithRequestID(context.Background(), "outer"), "inner")
	if got := RequestID(ctx); got != "inner" {
		t.Errorf("RequestID = %q, want the innermost id", got)
	}
}

// chunkWriter writes a line in several pieces, the way a writer that is not
// line-atomic might; without the mutex two callers' pieces would interleave.
type chunkWriter struct{ w io.Writer }

func (c chunkWriter) Write(p []byte) (int, error) {
	for i := 0; i < len(p); i += 7 {
		if _, err := c.w.Write(p[i:min(i+7, len(p))]); err != nil {
			return i, err
		}
	}
	return len(p), nil
}

// lockedBuffer lets the race detector check only SyncWriter's guarding.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func TestSyncWriterConcurrentLoggers(t *testing.T) {
	var out lockedBuffer
	w := SyncWriter(chunkWriter{&out})
	a, b := New(w, JSON, slog.LevelInfo), New(w, JSON, slog.LevelInfo)
	const n = 200
	var wg sync.WaitGroup
	for i, log := range []*slog.Logger{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := WithRequestID(context.Background(), fmt.Sprint("logger-", i))
			for j := range n {
				log.InfoContext(ctx, "line", "j", j, "pad", strings.Repeat("x", 50))
			}
		}()
	}
	wg.Wait()
	got := lines(t, &out.buf)
	if len(got) != 2*n {
		t.Fatalf("got %d lines, want %d", len(got), 2*n)
	}
	next := map[any]float64{}
	for _, l := range got {
		id := l["requestId"]
		if l["j"] != next[id] {
			t.Fatalf("logger %v: line j=%v, want %v", id, l["j"], next[id])
		}
		next[id]++
	}
}

func TestSyncWriterOneWrite(t *testing.T) {
	var calls int
	w := SyncWriter(writerFunc(func(p []byte) (int, error) { calls++; return len(p), nil }))
	if n, err := w.Write([]byte("a whole line\n")); n != 13 || err != nil || calls != 1 {
		t.Errorf("Write = %d, %v after %d calls; want 13, nil, 1 call", n, err, calls)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
