// Package metrics records the service's application metrics. In AWS they are
// printed to stdout in CloudWatch's Embedded Metric Format (EMF), which
// CloudWatch Logs turns into metrics without an API call (or its latency and
// failures) on the request path; locally they are printed the same way with
// LOG_FORMAT=json, or as debug log lines.
//
// EMF: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
package metrics

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/songqueue/songqueue/internal/logging"
)

// Unit is a CloudWatch unit. Only the units of the service's metrics are
// defined: CloudWatch refuses any name outside its own list.
type Unit string

const (
	Count   Unit = "Count"
	Seconds Unit = "Seconds"
)

// Name is a metric name. The names are referenced by the CloudWatch dashboard
// and alarms, so renaming one silently breaks them.
type Name string

const (
	Created        Name = "Created"        // a generation was accepted
	Submitted      Name = "Submitted"      // an attempt was submitted to Suno
	Completed      Name = "Completed"      // a generation completed
	Failed         Name = "Failed"         // ended failed after its last attempt or a permanent error
	Cancelled      Name = "Cancelled"      // a generation was cancelled
	Retried        Name = "Retried"        // an attempt failed and another is scheduled
	QuotaRefusals  Name = "QuotaRefusals"  // a create refused with 429 quota_exceeded
	RateLimitWaits Name = "RateLimitWaits" // a job waited for the Suno rate limiter (or Suno said 430) instead of being submitted
	QueueWait      Name = "QueueWait"      // seconds from create (or an operator's retry) to the first Suno submission
	SunoTime       Name = "SunoTime"       // seconds from Suno submission to completion
	NotArchived    Name = "NotArchived"    // a generation's files could not be copied after the last try
	Held           Name = "Held"           // a song started waiting for Suno (unavailable, out of credits) or a paused tier
	Released       Name = "Released"       // a held song was submitted
	SunoAvailable  Name = "SunoAvailable"  // 1 when a Suno account's breaker closes, 0 when it opens or a probe fails; the sweeper's every run, 1 if closed
	SunoCredits    Name = "SunoCredits"    // an account's remaining credits, as last read
	// SunoSubmissions counts the submissions of one Suno account: the
	// tokens of its rate window it used.
	SunoSubmissions Name = "SunoSubmissions"
)

// Unit returns the unit n is published with. It is derived from the name so
// that no caller can publish one metric under two units, which CloudWatch
// would keep as separate statistics.
func (n Name) Unit() Unit {
	switch n {
	case QueueWait, SunoTime:
		return Seconds
	}
	return Count
}

// Sample is one value of one metric.
type Sample struct {
	Name  Name
	Value float64
}

// One is the sample of a counted event, the most common kind.
func One(n Name) Sample { return Sample{Name: n, Value: 1} }

// Recorder records samples of one tier about one generation. Implementations
// must be safe for concurrent use and never fail the caller: a metric is not
// worth failing or retrying a request for, so one that cannot be written is
// dropped.
type Recorder interface {
	Record(ctx context.Context, tier string, generationID string, samples ...Sample)
	// RecordAccount records samples about one Suno account (its
	// availability, credits, submissions): in the dimension Account, and
	// also with no dimension, so that one alarm watches every account.
	RecordAccount(ctx context.Context, account string, samples ...Sample)
}

var (
	_ Recorder = (*EMF)(nil)
	_ Recorder = (*Log)(nil)
	_ Recorder = discard{}
)

// Discard records nothing, for tests and programs without metrics.
var Discard Recorder = discard{}

type discard struct{}

func (discard) Record(context.Context, string, string, ...Sample) {}
func (discard) RecordAccount(context.Context, string, ...Sample)  {}

// EMF limits that, exceeded, make CloudWatch reject the whole document.
const (
	maxMetricsPerDirective = 100
	maxValuesPerMetric     = 100
	maxNameLen             = 255
)

// unknownTier stands in for an empty tier: a dimension value must not be
// empty, and a miscounted tier is still better seen than lost.
const unknownTier = "UNKNOWN"

// EMF is a Recorder that writes EMF documents.
type EMF struct {
	mu        sync.Mutex
	w         io.Writer
	namespace string
	now       func() time.Time
}

// NewEMF returns a Recorder writing one EMF document per Record (one line,
// in one Write call, so a SyncWriter shared with the logger keeps lines
// whole) to w, under namespace, with the dimension set [["Tier"]]. now dates
// the documents (nil means time.Now).
func NewEMF(w io.Writer, namespace string, now func() time.Time) *EMF {
	if now == nil {
		now = time.Now
	}
	return &EMF{w: w, namespace: namespace, now: now}
}

// reserved are the root members a metric must not overwrite.
var reserved = map[Name]bool{"_aws": true, "Tier": true, "Account": true, "generationId": true, "requestId": true}

type metricDef struct {
	Name Name `json:"Name"`
	Unit Unit `json:"Unit"`
}

type directive struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []metricDef `json:"Metrics"`
}

type awsMeta struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

// Record writes samples as one document. Invalid samples (a non-finite value,
// a name that is empty, too long or a reserved member, values past EMF's
// limits) are dropped, since one would make CloudWatch reject the whole
// document; a Record left with no sample writes nothing.
func (e *EMF) Record(ctx context.Context, tier, generationID string, samples ...Sample) {
	if tier == "" {
		tier = unknownTier
	}
	root := map[string]any{"Tier": tier}
	if generationID != "" {
		root["generationId"] = generationID
	}
	e.write(ctx, root, [][]string{{"Tier"}}, samples)
}

// RecordAccount writes samples as one document in the dimension sets
// [["Account"], []].
func (e *EMF) RecordAccount(ctx context.Context, account string, samples ...Sample) {
	if account == "" {
		account = unknownTier
	}
	e.write(ctx, map[string]any{"Account": account}, [][]string{{"Account"}, {}}, samples)
}

// write adds samples to root and writes it as one document with dims.
func (e *EMF) write(ctx context.Context, root map[string]any, dims [][]string, samples []Sample) {
	values := map[Name][]float64{}
	var defs []metricDef // in first-seen order, for a stable document
	for _, s := range samples {
		if !valid(s) || len(values[s.Name]) == maxValuesPerMetric {
			continue
		}
		if _, seen := values[s.Name]; !seen {
			defs = append(defs, metricDef{Name: s.Name, Unit: s.Name.Unit()})
		}
		values[s.Name] = append(values[s.Name], s.Value)
	}
	if len(defs) == 0 {
		return
	}
	if id := logging.RequestID(ctx); id != "" {
		root["requestId"] = id
	}
	for n, vs := range values {
		if len(vs) == 1 {
			root[string(n)] = vs[0]
		} else {
			root[string(n)] = vs // EMF's form for several values of one metric
		}
	}
	meta := awsMeta{Timestamp: e.now().UnixMilli()}
	for len(defs) > 0 {
		k := min(len(defs), maxMetricsPerDirective)
		meta.CloudWatchMetrics = append(meta.CloudWatchMetrics, directive{
			Namespace: e.namespace, Dimensions: dims, Metrics: defs[:k],
		})
		defs = defs[k:]
	}
	root["_aws"] = meta
	line, err := json.Marshal(root)
	if err != nil {
		return // cannot happen with finite floats and strings; drop, never fail
	}
	line = append(line, '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(line) // a lost metric line is not the caller's error
}

func valid(s Sample) bool {
	return len(s.Name) > 0 && len(s.Name) <= maxNameLen && !reserved[s.Name] &&
		!math.IsNaN(s.Value) && !math.IsInf(s.Value, 0)
}

// Log is a Recorder for people reading text logs locally, where EMF
// documents would be noise.
type Log struct{ l *slog.Logger }

// NewLog returns a Recorder logging one "metrics" line per Record at Debug
// level on l, so metrics appear only when asked for.
func NewLog(l *slog.Logger) *Log { return &Log{l: l} }

// Record logs tier, generationId and name=value for each sample, dropping
// non-finite values as EMF does.
func (g *Log) Record(ctx context.Context, tier, generationID string, samples ...Sample) {
	g.log(ctx, samples, slog.String("tier", tier), slog.String("generationId", generationID))
}

// RecordAccount logs account and name=value for each sample.
func (g *Log) RecordAccount(ctx context.Context, account string, samples ...Sample) {
	g.log(ctx, samples, slog.String("account", account))
}

func (g *Log) log(ctx context.Context, samples []Sample, attrs ...slog.Attr) {
	if g.l == nil || !g.l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	n := len(attrs)
	for _, s := range samples {
		if valid(s) {
			attrs = append(attrs, slog.Float64(string(s.Name), s.Value))
		}
	}
	if len(attrs) == n {
		return
	}
	g.l.LogAttrs(ctx, slog.LevelDebug, "metrics", attrs...)
}
