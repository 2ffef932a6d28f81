package lambdatest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/golang-jwt/jwt/v5"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/memory"
	"github.com/songqueue/songqueue/internal/metrics"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/sqsqueue"
)

// checkEMF checks one embedded-metric-format document against the
// format's specification and the service's metrics: one namespace, the
// Tier dimension with a tier, each metric with its unit and a number. It
// returns the metrics it carries.
func checkEMF(t *testing.T, fn string, doc map[string]any) []metrics.Name {
	t.Helper()
	meta, _ := doc["_aws"].(map[string]any)
	ts, ok := meta["Timestamp"].(float64)
	if !ok || ts != float64(int64(ts)) || time.Since(time.UnixMilli(int64(ts))).Abs() > time.Hour {
		t.Errorf("%s: EMF Timestamp %v is not epoch milliseconds of now", fn, meta["Timestamp"])
	}
	directives, _ := meta["CloudWatchMetrics"].([]any)
	if len(directives) == 0 {
		t.Errorf("%s: EMF document without CloudWatchMetrics: %v", fn, doc)
	}
	var out []metrics.Name
	for _, d := range directives {
		dir, _ := d.(map[string]any)
		if dir["Namespace"] != "SongQueue/test" {
			t.Errorf("%s: namespace %v, want METRICS_NAMESPACE", fn, dir["Namespace"])
		}
		// A Suno account's metrics are in the dimension Account (and
		// without one); the others in Tier.
		dims, _ := json.Marshal(dir["Dimensions"])
		tier, _ := doc["Tier"].(string)
		account, _ := doc["Account"].(string)
		switch {
		case string(dims) == `[["Tier"]]` && generation.Tier(tier).Valid():
		case string(dims) == `[["Account"],[]]` && account != "" && tier == "":
		default:
			t.Errorf("%s: dimensions %s with Tier %q, Account %q; want a tier in [[\"Tier\"]] or an account in [[\"Account\"],[]]", fn, dims, tier, account)
		}
		ms, _ := dir["Metrics"].([]any)
		for _, m := range ms {
			def, _ := m.(map[string]any)
			name := metrics.Name(def["Name"].(string))
			if perAccount := name == metrics.SunoSubmissions || name == metrics.SunoCredits || name == metrics.SunoAvailable; perAccount != (account != "") {
				t.Errorf("%s: %s recorded with Tier %q, Account %q; want the Suno account metrics, and only them, per account", fn, name, tier, account)
			}
			if def["Unit"] != string(name.Unit()) {
				t.Errorf("%s: %s in %v, want %s", fn, name, def["Unit"], name.Unit())
			}
			if _, ok := doc[string(name)].(float64); !ok {
				t.Errorf("%s: %s has no number: %v", fn, name, doc[string(name)])
			}
			out = append(out, name)
		}
	}
	return out
}

// invoke calls fn with payload and wants the emulator's 200 and a function
// answer (not {"errorMessage":...}), decoded into out.
func invoke(t *testing.T, fn *Function, payload []byte, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	status, body, err := fn.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("%s: %v\n%s", fn.Name, err, fn.Logs())
	}
	if status != http.StatusOK {
		t.Fatalf("%s: emulator answered %d %s\n%s", fn.Name, status, body, fn.Logs())
	}
	var fnErr struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal(body, &fnErr) == nil && fnErr.ErrorType != "" {
		t.Fatalf("%s: function error %s: %s\n%s", fn.Name, fnErr.ErrorType, fnErr.ErrorMessage, fn.Logs())
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("%s: answer %s: %v", fn.Name, body, err)
	}
}

// httpAnswer is an HTTP API answer with its JSON body decoded.
func httpAnswer(t *testing.T, res events.APIGatewayV2HTTPResponse, wantStatus int, body any) {
	t.Helper()
	if res.StatusCode != wantStatus {
		t.Fatalf("status %d, want %d: %s", res.StatusCode, wantStatus, res.Body)
	}
	if ct := res.Headers["Content-Type"]; !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	if body != nil {
		if err := json.Unmarshal([]byte(res.Body), body); err != nil {
			t.Fatalf("body %s: %v", res.Body, err)
		}
	}
}

// TestUnderRIE runs every function's binary under the Runtime Interface
// Emulator, invoked with its events/ sample, against moto: a generation is
// created through the API function, connected over the WebSocket
// functions, processed by the worker from the real SQS message, finished
// by the fake Suno's callbacks through the callback function, a stuck
// one is moved on by the sweeper, and the publisher puts the events of
// the table's stream on the bus.
func TestUnderRIE(t *testing.T) {
	requireRIE(t)
	f := newFixture(t)
	f.start(t, "api", "callback", "websocket", "wsauthorizer", "wsauthorizer-dev", "worker", "sweeper", "publisher", "hello")
	ctx := context.Background()

	var created struct {
		GenerationID string `json:"generationId"`
		Status       string `json:"status"`
		Tier         string `json:"tier"`
		Priority     int    `json:"priority"`
	}
	connID := "conn-" + randomHex(4) + "="

	t.Run("hello", func(t *testing.T) {
		var out map[string]string
		invoke(t, f.fn("hello"), []byte(`{}`), &out)
		if out["hello"] != "world" {
			t.Fatalf("hello = %v", out)
		}
	})

	t.Run("api create", func(t *testing.T) {
		var res events.APIGatewayV2HTTPResponse
		invoke(t, f.fn("api"), f.sample(t, "api-create.json"), &res)
		httpAnswer(t, res, http.StatusAccepted, &created)
		if created.GenerationID == "" || created.Status != "pending" || created.Tier != "PREMIUM" || created.Priority != 5 {
			t.Fatalf("created = %+v", created)
		}
		if res.Headers["Cache-Control"] != "no-store" {
			t.Errorf("headers = %v", res.Headers)
		}
		// The same Idempotency-Key from the same user: the same generation.
		var again events.APIGatewayV2HTTPResponse
		invoke(t, f.fn("api"), f.sample(t, "api-create.json"), &again)
		var replay struct {
			GenerationID string `json:"generationId"`
		}
		httpAnswer(t, again, http.StatusAccepted, &replay)
		if replay.GenerationID != created.GenerationID || again.Headers["Idempotent-Replayed"] != "true" {
			t.Fatalf("replay = %s %v", again.Body, again.Headers)
		}
		g, err := f.store.Get(ctx, created.GenerationID)
		if err != nil || g.Status != generation.Pending || g.UserID != "demo-premium" || g.Tier != generation.Premium {
			t.Fatalf("stored = %+v, %v", g, err)
		}
	})

	t.Run("api base64 body and auth", func(t *testing.T) {
		ev := f.patched(t, "api-create.json", func(m map[string]any) {
			m["body"] = base64.StdEncoding.EncodeToString([]byte(`{"prompt":"lofi beats, binary safe","instrumental":true}`))
			m["isBase64Encoded"] = true
			delete(obj(m, "headers"), "idempotency-key")
		})
		var res events.APIGatewayV2HTTPResponse
		invoke(t, f.fn("api"), ev, &res)
		httpAnswer(t, res, http.StatusAccepted, nil)

		// No authorizer claims: the function refuses, whatever the headers.
		noAuth := f.patched(t, "api-create.json", func(m map[string]any) { delete(obj(m, "requestContext"), "authorizer") })
		invoke(t, f.fn("api"), noAuth, &res)
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		httpAnswer(t, res, http.StatusUnauthorized, &e)
		if e.Error.Code != "unauthorized" || res.Headers["Www-Authenticate"] == "" {
			t.Fatalf("401 = %s %v", res.Body, res.Headers)
		}

		// Status of the generation, through the same adapter.
		status := f.patched(t, "api-stats.json", func(m map[string]any) {
			p := "/api/generation/status/" + created.GenerationID
			m["rawPath"], m["routeKey"] = p, "GET /api/generation/status/{id}"
			obj(m, "requestContext", "http")["path"] = p
			m["pathParameters"] = map[string]any{"id": created.GenerationID}
		})
		invoke(t, f.fn("api"), status, &res)
		var st struct {
			GenerationID string `json:"generationId"`
			Status       string `json:"status"`
		}
		httpAnswer(t, res, http.StatusOK, &st)
		if st.GenerationID != created.GenerationID || st.Status != "pending" {
			t.Fatalf("status = %s", res.Body)
		}
	})

	t.Run("api stats", func(t *testing.T) {
		var res events.APIGatewayV2HTTPResponse
		invoke(t, f.fn("api"), f.sample(t, "api-stats.json"), &res)
		var stats struct {
			Waiting int64                      `json:"waiting"`
			Total   int64                      `json:"total"`
			ByTier  map[string]json.RawMessage `json:"byTier"`
		}
		httpAnswer(t, res, http.StatusOK, &stats)
		if len(stats.ByTier) != 4 || stats.Total < 2 {
			t.Fatalf("stats = %s", res.Body)
		}
	})

	t.Run("wsauthorizer", func(t *testing.T) {
		fn := f.fn("wsauthorizer")
		methodARN := "arn:aws:execute-api:us-east-1:123456789012:wxyz987654/dev/$connect"
		withToken := func(tok string) []byte {
			return f.patched(t, "wsauthorizer.json", func(m map[string]any) {
				obj(m, "queryStringParameters")["token"] = tok
				obj(m, "multiValueQueryStringParameters")["token"] = []string{tok}
			})
		}
		var res events.APIGatewayCustomAuthorizerResponse
		invoke(t, fn, withToken(f.issuer.token(t, nil, nil)), &res)
		st := res.PolicyDocument.Statement
		if res.PrincipalID != "demo-premium" || res.PolicyDocument.Version != "2012-10-17" || len(st) != 1 ||
			st[0].Effect != "Allow" || !slices.Equal(st[0].Action, []string{"execute-api:Invoke"}) || !slices.Equal(st[0].Resource, []string{methodARN}) {
			t.Fatalf("allow = %+v", res)
		}
		if res.Context["userId"] != "demo-premium" || res.Context["tier"] != "PREMIUM" {
			t.Fatalf("context = %v", res.Context)
		}

		other, err := rsa.GenerateKey(rand.Reader, 2048) // never published
		if err != nil {
			t.Fatal(err)
		}
		for name, tok := range map[string]string{
			"foreign key":    f.issuer.token(t, other, nil),
			"expired":        f.issuer.token(t, nil, jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix()}),
			"other audience": f.issuer.token(t, nil, jwt.MapClaims{"aud": "someone-else"}),
			"other issuer":   f.issuer.token(t, nil, jwt.MapClaims{"iss": "https://evil.example"}),
			"unknown tier":   f.issuer.token(t, nil, jwt.MapClaims{"tier": "GOLD"}),
			"garbage":        "not-a-jwt",
		} {
			var deny events.APIGatewayCustomAuthorizerResponse
			invoke(t, fn, withToken(tok), &deny)
			st := deny.PolicyDocument.Statement
			if len(st) != 1 || st[0].Effect != "Deny" || !slices.Equal(st[0].Resource, []string{methodARN}) || deny.Context != nil {
				t.Errorf("%s: %+v", name, deny)
			}
		}

		// No token at all: the error API Gateway turns into 401.
		noToken := f.patched(t, "wsauthorizer.json", func(m map[string]any) {
			delete(m, "queryStringParameters")
			delete(m, "multiValueQueryStringParameters")
		})
		status, body, err := fn.Invoke(ctx, noToken)
		var fnErr struct{ ErrorMessage, ErrorType string }
		if err != nil || status != http.StatusOK || json.Unmarshal(body, &fnErr) != nil || fnErr.ErrorMessage != "Unauthorized" {
			t.Fatalf("no token: %d %s %v", status, body, err)
		}

		// The sample as it is: a development token, HS256 (sam local).
		var dev events.APIGatewayCustomAuthorizerResponse
		invoke(t, f.fn("wsauthorizer-dev"), f.sample(t, "wsauthorizer.json"), &dev)
		if dev.PolicyDocument.Statement[0].Effect != "Allow" || dev.Context["tier"] != "PREMIUM" {
			t.Fatalf("dev sample = %+v", dev)
		}
	})

	t.Run("websocket connect and messages", func(t *testing.T) {
		fn := f.fn("websocket")
		withConn := func(name string, edit func(m map[string]any)) []byte {
			return f.patched(t, name, func(m map[string]any) {
				obj(m, "requestContext")["connectionId"] = connID
				if edit != nil {
					edit(m)
				}
			})
		}
		var res events.APIGatewayProxyResponse
		invoke(t, fn, withConn("websocket-connect.json", nil), &res)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("connect = %+v", res)
		}
		conns, err := f.store.UserConnections(ctx, "demo-premium")
		if err != nil || len(conns) != 1 || conns[0].ID != connID || conns[0].Tier != generation.Premium {
			t.Fatalf("connections = %+v, %v", conns, err)
		}
		f.mgmt.Open(connID) // API Gateway holds it open from now on

		invoke(t, fn, withConn("websocket-default.json", nil), &res)
		var sync struct {
			Event string `json:"event"`
			Data  struct {
				Generations []pushed `json:"generations"`
			} `json:"data"`
		}
		if res.StatusCode != http.StatusOK || json.Unmarshal([]byte(res.Body), &sync) != nil || sync.Event != "sync" {
			t.Fatalf("sync = %+v", res)
		}
		if !slices.ContainsFunc(sync.Data.Generations, func(p pushed) bool { return p.Data.GenerationID == created.GenerationID }) {
			t.Fatalf("sync does not list %s: %s", created.GenerationID, res.Body)
		}

		invoke(t, fn, withConn("websocket-default.json", func(m map[string]any) { m["body"] = `{"action":"ping"}` }), &res)
		if res.StatusCode != http.StatusOK || res.Body != `{"event":"pong"}` {
			t.Fatalf("ping = %+v", res)
		}
		// A $connect that reached the function without the authorizer's
		// caller is refused.
		invoke(t, fn, withConn("websocket-connect.json", func(m map[string]any) { delete(obj(m, "requestContext"), "authorizer") }), &res)
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("connect without caller = %+v", res)
		}
	})

	t.Run("worker", func(t *testing.T) {
		msg := receiveJob(t, f, generation.Premium, created.GenerationID, 1)
		ev := f.patched(t, "worker.json", func(m map[string]any) {
			rec := m["Records"].([]any)[0].(map[string]any)
			rec["messageId"] = aws.ToString(msg.MessageId)
			rec["receiptHandle"] = aws.ToString(msg.ReceiptHandle)
			rec["body"] = aws.ToString(msg.Body)
			rec["md5OfBody"] = aws.ToString(msg.MD5OfBody)
			obj(rec, "attributes")["ApproximateReceiveCount"] = msg.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)]
		})
		var res events.SQSEventResponse
		invoke(t, f.fn("worker"), ev, &res)
		var failed []string
		for _, it := range res.BatchItemFailures {
			failed = append(failed, it.ItemIdentifier)
		}
		if !slices.Equal(failed, []string{"2e1424d4-f796-459a-8184-9c92662be6da"}) {
			t.Fatalf("batch item failures = %v; want only the poisoned record\n%s", failed, f.fn("worker").Logs())
		}
		g, err := f.store.Get(ctx, created.GenerationID)
		if err != nil || g.TaskID == "" || g.Attempts != 1 || (g.Status != generation.Processing && g.Status != generation.Completed) {
			t.Fatalf("after the worker: %+v, %v\n%s", g, err, f.fn("worker").Logs())
		}
		if n := f.suno.Submissions(); n != 1 {
			t.Fatalf("Suno submissions = %d", n)
		}

		// Suno calls back through API Gateway into the callback function.
		deadline := time.Now().Add(20 * time.Second)
		for g.Status != generation.Completed && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			if g, err = f.store.Get(ctx, created.GenerationID); err != nil {
				t.Fatal(err)
			}
		}
		if g.Status != generation.Completed || g.AudioURL() == "" || len(g.Tracks) == 0 {
			t.Fatalf("not completed by the callbacks: %+v (callbacks delivered: %d)\n%s", g, f.callbacks.Load(), f.fn("callback").Logs())
		}
		// The push follows the write that completed the generation.
		var got []string
		for {
			got = got[:0]
			for _, p := range f.mgmt.Received(connID) {
				var ev pushed
				if json.Unmarshal(p, &ev) == nil && ev.Data.GenerationID == created.GenerationID {
					got = append(got, ev.Event)
				}
			}
			if slices.Contains(got, service.EventComplete) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !slices.Contains(got, service.EventProgress) || got[len(got)-1] != service.EventComplete {
			t.Fatalf("pushed to the connection: %v", got)
		}
	})

	t.Run("metrics and lifecycle logs", func(t *testing.T) {
		// What the functions printed while the generation above went from
		// create to completion: CloudWatch's embedded metric format beside
		// one JSON line per lifecycle step.
		want := map[string][]metrics.Name{
			"api":      {metrics.Created},
			"worker":   {metrics.Submitted, metrics.QueueWait},
			"callback": {metrics.Completed, metrics.SunoTime},
		}
		steps := map[string]bool{}
		for name, names := range want {
			seen := map[metrics.Name]bool{}
			for _, line := range strings.Split(f.fn(name).Logs(), "\n") {
				var doc map[string]any
				if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &doc) != nil {
					continue
				}
				if doc["msg"] == "lifecycle" && doc["generationId"] == created.GenerationID {
					steps[doc["step"].(string)] = true
					if doc["userId"] != "demo-premium" || doc["tier"] != "PREMIUM" || doc["attempt"] == nil || doc["requestId"] == "" || doc["requestId"] == nil {
						t.Errorf("%s: lifecycle line lacks its fields: %s", name, line)
					}
				}
				if _, ok := doc["_aws"]; !ok {
					continue
				}
				for _, n := range checkEMF(t, name, doc) {
					seen[n] = true
				}
			}
			for _, n := range names {
				if !seen[n] {
					t.Errorf("%s printed no %s metric:\n%s", name, n, f.fn(name).Logs())
				}
			}
		}
		for _, st := range []string{"created", "claimed", "submitted", "first_ready", "saving", "completed"} {
			if !steps[st] {
				t.Errorf("no lifecycle line for step %s of %s (saw %v)", st, created.GenerationID, steps)
			}
		}
	})

	t.Run("callback", func(t *testing.T) {
		fn := f.fn("callback")
		var res events.APIGatewayV2HTTPResponse
		invoke(t, fn, f.sample(t, "callback.json"), &res)
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		httpAnswer(t, res, http.StatusForbidden, &e)
		if e.Error.Code != "invalid_callback_signature" {
			t.Fatalf("forged callback = %s", res.Body)
		}
		// A late duplicate with a genuine signature changes nothing.
		signer := service.CallbackSigner{Key: service.StaticKey([]byte(f.callbackSecret))}
		sig, err := signer.Signature(ctx, created.GenerationID, 1, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		late := f.patched(t, "callback.json", func(m map[string]any) {
			m["rawQueryString"] = "g=" + created.GenerationID + "&sig=" + sig
			m["queryStringParameters"] = map[string]any{"g": created.GenerationID, "sig": sig}
		})
		invoke(t, fn, late, &res)
		var ok struct {
			Code int    `json:"code"`
			Msg  string `json:"msg"`
		}
		httpAnswer(t, res, http.StatusOK, &ok)
		if ok.Code != 200 {
			t.Fatalf("late callback = %s", res.Body)
		}
		if g, _ := f.store.Get(ctx, created.GenerationID); g.Status != generation.Completed {
			t.Fatalf("status after a late callback = %s", g.Status)
		}
		// The callback function serves no other route.
		invoke(t, fn, f.sample(t, "api-stats.json"), &res)
		httpAnswer(t, res, http.StatusNotFound, nil)
	})

	t.Run("sweeper", func(t *testing.T) {
		// A generation created three hours ago whose job was lost.
		past := time.Now().Add(-3 * time.Hour)
		queues := sqsqueue.New(f.clients.SQS, f.res.Queues)
		api, err := service.NewAPI(service.APIPorts{
			Core: service.NewCore(f.store, f.store, memory.NewHub()), Queue: queues, DeadLetters: queues,
		}, service.Config{Now: func() time.Time { return past }})
		if err != nil {
			t.Fatal(err)
		}
		stuck, err := api.Create(ctx, identity.Caller{UserID: "u-stuck", Tier: generation.Free}, generation.Request{Prompt: "stuck"}, "")
		if err != nil {
			t.Fatal(err)
		}
		receiveJob(t, f, generation.Free, stuck.Generation.ID, 1) // the create's own message, lost

		var report service.SweepReport
		invoke(t, f.fn("sweeper"), f.sample(t, "sweeper.json"), &report)
		if report.Overdue != 1 || report.Requeued != 1 || report.Errors != 0 {
			t.Fatalf("report = %+v\n%s", report, f.fn("sweeper").Logs())
		}
		receiveJob(t, f, generation.Free, stuck.Generation.ID, 1) // requeued
	})

	t.Run("publisher", func(t *testing.T) { publisherUnderRIE(t, f, created.GenerationID) })

	t.Run("websocket disconnect", func(t *testing.T) {
		ev := f.patched(t, "websocket-disconnect.json", func(m map[string]any) { obj(m, "requestContext")["connectionId"] = connID })
		var res events.APIGatewayProxyResponse
		invoke(t, f.fn("websocket"), ev, &res)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("disconnect = %+v", res)
		}
		if conns, _ := f.store.UserConnections(ctx, "demo-premium"); len(conns) != 0 {
			t.Fatalf("connections after disconnect = %+v", conns)
		}
	})

	t.Run("failed init", func(t *testing.T) {
		// A configuration that cannot work fails the cold start; Lambda
		// answers the invocation with Runtime.ExitError (the emulator: 502)
		// and tries a fresh init next time. (Secrets are read on first use,
		// so an unreadable one fails the invocation that needs it instead.)
		env := f.env("sweeper")
		env["GENERATION_RATE_LIMIT"] = "fast"
		fn, err := Start(f.rie, f.binary("sweeper"), "sweeper-broken", env)
		if err != nil {
			t.Fatal(err)
		}
		defer fn.Stop()
		status, body, err := fn.Invoke(ctx, f.sample(t, "sweeper.json"))
		if err != nil || status != http.StatusBadGateway {
			t.Fatalf("invoke = %d %s %v", status, body, err)
		}
		// The emulator may log the exit a moment after it answers.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			logs := fn.Logs()
			if strings.Contains(logs, "function init failed") && strings.Contains(logs, "Runtime.ExitError") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("logs:\n%s", logs)
			}
		}
	})
}

// pushed is a server event on the WebSocket, as far as the tests read it.
type pushed struct {
	Event string `json:"event"`
	Data  struct {
		GenerationID string `json:"generationId"`
	} `json:"data"`
}

// receiveJob takes from tier's queue the n messages whose job is for
// generation id, as Lambda's poller would, leaving the others.
func receiveJob(t *testing.T, f *fixture, tier generation.Tier, id string, n int) sqstypes.Message {
	t.Helper()
	var found []sqstypes.Message
	deadline := time.Now().Add(10 * time.Second)
	for len(found) < n && time.Now().Before(deadline) {
		out, err := f.clients.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(f.res.Queues[tier].Queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var job service.Job
			if json.Unmarshal([]byte(aws.ToString(m.Body)), &job) == nil && job.GenerationID == id {
				found = append(found, m)
			}
		}
	}
	if len(found) < n {
		t.Fatalf("%s queue: %d messages for %s, want %d", tier, len(found), id, n)
	}
	return found[0]
}
