package lambdatest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// coldResult is one function's line of the summary.
type coldResult struct {
	hostBytes, armBytes int64
	first, init         time.Duration
	runs                int
}

// BenchmarkColdStart measures each function's cold start under the Lambda
// Runtime Interface Emulator: every iteration starts a fresh emulator and
// times the first invocation (cold-ms) (the emulator starts the function's process,
// the function initialises - lambdaapp.Load: configuration, AWS clients;
// secrets are read on first use - and answers). Beside it: the emulator's init duration (process start until
// the function asks for its first event, Lambda's "Init Duration") and the
// binary's size for this machine and for Lambda (arm64), against a
// hello-world aws-lambda-go function built the same way.
//
// The events are cheap ones (a refused request, a ping, an empty batch), so
// the time is the cold start and not the work; the authorizer's includes
// fetching the issuer's keys, which its first real request pays too, the
// callback's reading its signing key (needed to refuse the sample's forged
// signature) and the sweeper's its one DynamoDB query for overdue
// generations.
func BenchmarkColdStart(b *testing.B) {
	requireRIE(b)
	f := newFixture(b)
	arm := binaries(b, "arm64")
	results := map[string]*coldResult{}
	names := []string{"hello", "api", "callback", "websocket", "wsauthorizer", "worker", "sweeper", "publisher"}
	for _, name := range names {
		payload := coldEvent(b, f, name)
		host, _ := os.Stat(f.binary(name))
		armName := name
		armInfo, _ := os.Stat(arm[armName])
		r := &coldResult{hostBytes: host.Size(), armBytes: armInfo.Size()}
		results[name] = r
		b.Run(name, func(b *testing.B) {
			// ns/op is a whole cycle (emulator up, cold invocation, emulator
			// down), so the benchmark's iteration count follows wall time;
			// cold-ms is the first invocation alone.
			var firsts, inits []time.Duration
			for range b.N {
				fn, err := Start(f.rie, f.binary(name), name, f.env(name))
				if err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				status, body, err := fn.Invoke(context.Background(), payload)
				d := time.Since(t0)
				if err != nil || status != http.StatusOK || strings.Contains(string(body), `"errorType"`) {
					b.Fatalf("%s: %d %s %v\n%s", name, status, body, err, fn.Logs())
				}
				in, ok := fn.InitDuration()
				if !ok {
					b.Fatalf("%s: no init report\n%s", name, fn.Logs())
				}
				fn.Stop()
				firsts = append(firsts, d)
				inits = append(inits, in)
			}
			// Medians: on a shared machine one slow start in ten would
			// move a mean by more than the difference being measured.
			first, init := median(firsts), median(inits)
			b.ReportMetric(float64(first.Microseconds())/1000, "cold-ms")
			b.ReportMetric(float64(init.Microseconds())/1000, "init-ms")
			b.ReportMetric(float64(r.hostBytes)/1e6, "MB")
			b.ReportMetric(float64(r.armBytes)/1e6, "arm64-MB")
			r.first, r.init, r.runs = first, init, b.N
		})
	}

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "\nCold starts under the Lambda RIE (%s/%s, median of each function's runs)\n", runtime.GOOS, runtime.GOARCH)
	fmt.Fprintln(w, "function\tarm64 size\thost size\tinit\tfirst invoke\tvs hello (first invoke)\t")
	hello := results["hello"]
	keys := append([]string(nil), names...)
	sort.SliceStable(keys, func(i, j int) bool { return keys[i] == "hello" && keys[j] != "hello" })
	for _, n := range keys {
		r := results[n]
		if r.runs == 0 {
			continue
		}
		ratio := "-"
		if hello != nil && hello.first > 0 && n != "hello" {
			ratio = fmt.Sprintf("%+.1f ms", float64(r.first-hello.first)/float64(time.Millisecond))
		}
		fmt.Fprintf(w, "%s\t%.1f MB\t%.1f MB\t%.1f ms\t%.1f ms\t%s\t\n", n, float64(r.armBytes)/1e6, float64(r.hostBytes)/1e6,
			float64(r.init)/float64(time.Millisecond), float64(r.first)/float64(time.Millisecond), ratio)
	}
	w.Flush()
}

// coldEvent is a cheap first event for function name.
func coldEvent(b *testing.B, f *fixture, name string) []byte {
	b.Helper()
	patch := func(sample string, edit func(map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(f.sample(b, sample), &m); err != nil {
			b.Fatal(err)
		}
		edit(m)
		out, _ := json.Marshal(m)
		return out
	}
	switch name {
	case "api": // refused for want of claims: no AWS request
		return patch("api-stats.json", func(m map[string]any) { delete(obj(m, "requestContext"), "authorizer") })
	case "callback": // the sample's forged signature: no AWS request
		return f.sample(b, "callback.json")
	case "websocket":
		return patch("websocket-default.json", func(m map[string]any) { m["body"] = `{"action":"ping"}` })
	case "wsauthorizer":
		tok := f.issuer.token(b, nil, nil)
		return patch("wsauthorizer.json", func(m map[string]any) { obj(m, "queryStringParameters")["token"] = tok })
	case "worker", "publisher":
		return []byte(`{"Records":[]}`)
	case "sweeper":
		return f.sample(b, "sweeper.json")
	}
	return []byte(`{}`)
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
