package metrics

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/logging"
)

// cloudWatchUnits is CloudWatch's list of units, which EMF's Unit must be in.
var cloudWatchUnits = map[string]bool{}

func init() {
	for _, u := range strings.Fields(`Seconds Microseconds Milliseconds Bytes Kilobytes
		Megabytes Gigabytes Terabytes Bits Kilobits Megabits Gigabits Terabits Percent
		Count Bytes/Second Kilobytes/Second Megabytes/Second Gigabytes/Second
		Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second
		Terabits/Second Count/Second None`) {
		cloudWatchUnits[u] = true
	}
}

// validate checks one line against the EMF specification's rules and returns
// the parsed document.
func validate(t *testing.T, line []byte, clock time.Time) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber() // to tell an integer Timestamp from a float
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		t.Fatalf("line %s is not a JSON object: %v", line, err)
	}
	if dec.More() {
		t.Fatalf("line %s holds more than one JSON value", line)
	}
	aws, ok := root["_aws"].(map[string]any)
	if !ok {
		t.Fatalf("no _aws object in %s", line)
	}
	ts, ok := aws["Timestamp"].(json.Number)
	if !ok {
		t.Fatalf("Timestamp %v is not a number", aws["Timestamp"])
	}
	ms, err := ts.Int64()
	if err != nil {
		t.Fatalf("Timestamp %s is not an integer: %v", ts, err)
	}
	if d := ms - clock.UnixMilli(); d < -1000 || d > 1000 {
		t.Errorf("Timestamp %d is %d ms from the clock", ms, d)
	}
	directives, ok := aws["CloudWatchMetrics"].([]any)
	if !ok || len(directives) == 0 {
		t.Fatalf("CloudWatchMetrics %v is not a non-empty array", aws["CloudWatchMetrics"])
	}
	for _, d := range directives {
		d, ok := d.(map[string]any)
		if !ok {
			t.Fatalf("directive %v is not an object", d)
		}
		if ns, ok := d["Namespace"].(string); !ok || ns == "" || len(ns) > 255 {
			t.Errorf("Namespace %v is not a 1-255 char string", d["Namespace"])
		}
		sets, ok := d["Dimensions"].([]any)
		if !ok {
			t.Fatalf("Dimensions %v is not an array", d["Dimensions"])
		}
		for _, set := range sets {
			set, ok := set.([]any)
			if !ok || len(set) > 30 {
				t.Fatalf("dimension set %v is not an array of at most 30", set)
			}
			for _, k := range set {
				k, ok := k.(string)
				if !ok || k == "" || len(k) > 255 {
					t.Fatalf("dimension %v is not a 1-255 char string", k)
				}
				if v, ok := root[k].(string); !ok || v == "" || len(v) > 1024 {
					t.Errorf("dimension %s has root value %v, want a 1-1024 char string", k, root[k])
				}
			}
		}
		ms, ok := d["Metrics"].([]any)
		if !ok || len(ms) > 100 {
			t.Fatalf("Metrics %v is not an array of at most 100", d["Metrics"])
		}
		for _, m := range ms {
			m, ok := m.(map[string]any)
			if !ok {
				t.Fatalf("metric %v is not an object", m)
			}
			name, ok := m["Name"].(string)
			if !ok || name == "" || len(name) > 255 {
				t.Fatalf("metric Name %v is not a 1-255 char string", m["Name"])
			}
			if u, ok := m["Unit"]; ok && !cloudWatchUnits[fmt.Sprint(u)] {
				t.Errorf("metric %s has unit %v, not a CloudWatch unit", name, u)
			}
			switch v := root[name].(type) {
			case json.Number:
			case []any:
				if len(v) == 0 || len(v) > 100 {
					t.Errorf("metric %s has %d values, want 1-100", name, len(v))
				}
				for _, x := range v {
					if _, ok := x.(json.Number); !ok {
						t.Errorf("metric %s has value %v, not a number", name, x)
					}
				}
			default:
				t.Errorf("metric %s has root value %v, not a number", name, root[name])
			}
		}
	}
	return root
}

// docs validates each line of buf.
func docs(t *testing.T, buf *bytes.Buffer, clock time.Time) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(buf)
	for sc.Scan() {
		out = append(out, validate(t, sc.Bytes(), clock))
	}
	return out
}

// definitions returns name -> unit of the document's metrics and checks its
// single directive's namespace and dimensions.
func definitions(t *testing.T, doc map[string]any, namespace string) map[string]string {
	t.Helper()
	ds := doc["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)
	out := map[string]string{}
	for _, d := range ds {
		d := d.(map[string]any)
		if d["Namespace"] != namespace {
			t.Errorf("Namespace = %v, want %s", d["Namespace"], namespace)
		}
		if got := fmt.Sprint(d["Dimensions"]); got != "[[Tier]]" {
			t.Errorf("Dimensions = %s, want [[Tier]]", got)
		}
		for _, m := range d["Metrics"].([]any) {
			m := m.(map[string]any)
			out[m["Name"].(string)] = fmt.Sprint(m["Unit"])
		}
	}
	return out
}

var clock = time.Date(2026, 3, 1, 12, 0, 0, 123_000_000, time.UTC)

func fixed() time.Time { return clock }

func TestServiceMetrics(t *testing.T) {
	want := map[Name]Unit{
		Created: Count, Submitted: Count, Completed: Count, Failed: Count,
		Cancelled: Count, Retried: Count, QuotaRefusals: Count,
		RateLimitWaits: Count, QueueWait: Seconds, SunoTime: Seconds,
	}
	// The dashboard and alarms name the metrics by these strings.
	spelled := "Created Submitted Completed Failed Cancelled Retried QuotaRefusals RateLimitWaits QueueWait SunoTime"
	if len(want) != len(strings.Fields(spelled)) {
		t.Fatal("test tables disagree")
	}
	for _, s := range strings.Fields(spelled) {
		if _, ok := want[Name(s)]; !ok {
			t.Errorf("no metric named %s", s)
		}
	}
	for n, u := range want {
		var buf bytes.Buffer
		NewEMF(&buf, "SongQueue", fixed).Record(context.Background(), "FREE", "g1", Sample{n, 2.5})
		ds := docs(t, &buf, clock)
		if len(ds) != 1 {
			t.Fatalf("%s: %d documents, want 1", n, len(ds))
		}
		d := ds[0]
		if got := definitions(t, d, "SongQueue"); len(got) != 1 || got[string(n)] != string(u) {
			t.Errorf("%s: metrics %v, want %s in %s", n, got, n, u)
		}
		if n.Unit() != u {
			t.Errorf("%s.Unit() = %s, want %s", n, n.Unit(), u)
		}
		if d[string(n)] != json.Number("2.5") || d["Tier"] != "FREE" {
			t.Errorf("%s: document %v", n, d)
		}
		if ts := d["_aws"].(map[string]any)["Timestamp"]; ts != json.Number(fmt.Sprint(clock.UnixMilli())) {
			t.Errorf("Timestamp = %v, want %d", ts, clock.UnixMilli())
		}
	}
}

func TestSeveralSamplesOneDocument(t *testing.T) {
	var buf bytes.Buffer
	e := NewEMF(&buf, "SongQueue", fixed)
	ctx := logging.WithRequestID(context.Background(), "req-9")
	e.Record(ctx, "PRO", "gen-7", One(Completed), Sample{SunoTime, 42.25}, Sample{QueueWait, 0.5})
	ds := docs(t, &buf, clock)
	if len(ds) != 1 {
		t.Fatalf("%d documents, want 1", len(ds))
	}
	d := ds[0]
	got := definitions(t, d, "SongQueue")
	if len(got) != 3 || got["Completed"] != "Count" || got["SunoTime"] != "Seconds" || got["QueueWait"] != "Seconds" {
		t.Errorf("metrics = %v", got)
	}
	if d["Completed"] != json.Number("1") || d["SunoTime"] != json.Number("42.25") || d["QueueWait"] != json.Number("0.5") {
		t.Errorf("values in %v", d)
	}
	if d["Tier"] != "PRO" || d["generationId"] != "gen-7" || d["requestId"] != "req-9" {
		t.Errorf("properties in %v", d)
	}
}

func TestRepeatedNameIsAnArray(t *testing.T) {
	var buf bytes.Buffer
	NewEMF(&buf, "SongQueue", fixed).Record(context.Background(), "FREE", "g", One(Retried), One(Retried))
	ds := docs(t, &buf, clock)
	if len(ds) != 1 {
		t.Fatalf("%d documents, want 1", len(ds))
	}
	if got := definitions(t, ds[0], "SongQueue"); len(got) != 1 {
		t.Errorf("metrics = %v, want Retried once", got)
	}
	if got := fmt.Sprint(ds[0]["Retried"]); got != "[1 1]" {
		t.Errorf("Retried = %s, want [1 1]", got)
	}
}

func TestOptionalProperties(t *testing.T) {
	var buf bytes.Buffer
	NewEMF(&buf, "SongQueue", fixed).Record(context.Background(), "", "", One(QuotaRefusals))
	d := docs(t, &buf, clock)[0]
	if _, ok := d["requestId"]; ok {
		t.Errorf("requestId without one in the context: %v", d)
	}
	if _, ok := d["generationId"]; ok {
		t.Errorf("generationId without a generation: %v", d)
	}
	if d["Tier"] != unknownTier {
		t.Errorf("Tier = %v for an empty tier, want %s", d["Tier"], unknownTier)
	}
}

func TestInvalidSamplesDropped(t *testing.T) {
	var buf bytes.Buffer
	e := NewEMF(&buf, "SongQueue", fixed)
	e.Record(context.Background(), "FREE", "g", Sample{QueueWait, math.NaN()}, One(Submitted), Sample{SunoTime, math.Inf(1)})
	ds := docs(t, &buf, clock)
	if len(ds) != 1 {
		t.Fatalf("%d documents, want 1", len(ds))
	}
	if got := definitions(t, ds[0], "SongQueue"); len(got) != 1 || got["Submitted"] != "Count" {
		t.Errorf("metrics = %v, want only Submitted", got)
	}
	if _, ok := ds[0]["QueueWait"]; ok {
		t.Errorf("dropped sample still at root: %v", ds[0])
	}

	buf.Reset()
	e.Record(context.Background(), "FREE", "g", Sample{QueueWait, math.NaN()}, Sample{SunoTime, math.Inf(-1)},
		Sample{"", 1}, Sample{Name(strings.Repeat("x", 256)), 1}, Sample{"Tier", 1}, Sample{"_aws", 1})
	e.Record(context.Background(), "FREE", "g")
	var nilCtx context.Context
	e.Record(nilCtx, "FREE", "g", Sample{Failed, math.NaN()})
	if buf.Len() != 0 {
		t.Errorf("Records without a valid sample wrote %q", buf.String())
	}
}

func TestManyMetricsSplitIntoDirectives(t *testing.T) {
	var buf bytes.Buffer
	var samples []Sample
	for i := range 150 {
		samples = append(samples, Sample{Name(fmt.Sprint("M", i)), float64(i)})
	}
	for range 120 {
		samples = append(samples, One(Created))
	}
	NewEMF(&buf, "SongQueue", fixed).Record(context.Background(), "FREE", "g", samples...)
	ds := docs(t, &buf, clock) // validate checks <= 100 metrics and values
	if len(ds) != 1 {
		t.Fatalf("%d documents, want 1", len(ds))
	}
	if got := definitions(t, ds[0], "SongQueue"); len(got) != 151 {
		t.Errorf("%d metrics, want 151", len(got))
	}
}

func TestConcurrentRecordsWholeLines(t *testing.T) {
	var buf bytes.Buffer
	e := NewEMF(&buf, "SongQueue", time.Now)
	const goroutines, n = 8, 100
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				e.Record(context.Background(), "FREE", fmt.Sprint(g, "-", i), One(Created), Sample{QueueWait, float64(i)})
			}
		}()
	}
	wg.Wait()
	ds := docs(t, &buf, time.Now())
	if len(ds) != goroutines*n {
		t.Fatalf("%d documents, want %d", len(ds), goroutines*n)
	}
}

func TestEMFSharesSyncWriterWithLogger(t *testing.T) {
	var buf bytes.Buffer
	w := logging.SyncWriter(&buf)
	e := NewEMF(w, "SongQueue", time.Now)
	log := logging.New(w, logging.JSON, slog.LevelInfo)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range 100 {
			e.Record(context.Background(), "FREE", "g", One(Created))
		}
	}()
	go func() {
		defer wg.Done()
		for range 100 {
			log.Info("hello")
		}
	}()
	wg.Wait()
	var emf, logs int
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), []byte(`"_aws"`)) {
			validate(t, sc.Bytes(), time.Now())
			emf++
		} else if json.Valid(sc.Bytes()) {
			logs++
		} else {
			t.Fatalf("broken line %q", sc.Text())
		}
	}
	if emf != 100 || logs != 100 {
		t.Errorf("%d EMF and %d log lines, want 100 each", emf, logs)
	}
}

func TestOneWritePerRecord(t *testing.T) {
	var writes []string
	w := writerFunc(func(p []byte) (int, error) { writes = append(writes, string(p)); return len(p), nil })
	NewEMF(w, "SongQueue", fixed).Record(context.Background(), "FREE", "g", One(Created), One(Submitted))
	if len(writes) != 1 || strings.Count(writes[0], "\n") != 1 || !strings.HasSuffix(writes[0], "\n") {
		t.Errorf("writes = %q, want one line in one Write", writes)
	}
}

func TestWriteErrorIgnored(t *testing.T) {
	w := writerFunc(func([]byte) (int, error) { return 0, fmt.Errorf("closed") })
	NewEMF(w, "SongQueue", nil).Record(context.Background(), "FREE", "g", One(Created)) // must not panic
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestLog(t *testing.T) {
	var buf bytes.Buffer
	level := new(slog.LevelVar)
	l := logging.New(&buf, logging.Text, level)
	r := NewLog(l)
	ctx := logging.WithRequestID(context.Background(), "req-1")

	r.Record(ctx, "FREE", "g1", One(Created)) // Info level: not shown
	if buf.Len() != 0 {
		t.Fatalf("logged at Info level: %q", buf.String())
	}
	level.Set(slog.LevelDebug)
	r.Record(ctx, "FREE", "g1", One(Completed), Sample{SunoTime, 1.5}, Sample{QueueWait, math.NaN()})
	r.Record(ctx, "FREE", "g1", Sample{QueueWait, math.Inf(1)}) // nothing left: no line
	line := strings.TrimSpace(buf.String())
	if strings.Count(line, "\n") != 0 {
		t.Fatalf("got %q, want one line", buf.String())
	}
	for _, want := range []string{"level=DEBUG", "msg=metrics", "tier=FREE", "generationId=g1", "Completed=1", "SunoTime=1.5", "requestId=req-1"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "QueueWait") {
		t.Errorf("line %q has the non-finite sample", line)
	}

	NewLog(nil).Record(ctx, "FREE", "g", One(Created)) // must not panic
	Discard.Record(ctx, "FREE", "g", One(Created))
}

// TestAccountMetricsInTheAccountDimension: a Suno account's samples go in
// the dimension Account and also with no dimension (one alarm over every
// account), never in Tier.
func TestAccountMetricsInTheAccountDimension(t *testing.T) {
	var buf bytes.Buffer
	e := NewEMF(&buf, "SongQueue", fixed)
	e.RecordAccount(context.Background(), "account-2", Sample{SunoCredits, 40}, One(SunoSubmissions))
	ds := docs(t, &buf, clock)
	if len(ds) != 1 {
		t.Fatalf("%d documents, want 1", len(ds))
	}
	d := ds[0]
	if d["Account"] != "account-2" || d["Tier"] != nil || d["SunoCredits"] != json.Number("40") {
		t.Errorf("document %v; want Account account-2 and no Tier", d)
	}
	dims, _ := json.Marshal(d["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Dimensions"])
	if string(dims) != `[["Account"],[]]` {
		t.Errorf("dimensions %s; want [[\"Account\"],[]]", dims)
	}
}
