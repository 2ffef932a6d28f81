package lambdatest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/songqueue/songqueue/internal/dynamo"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/localstack"
	"github.com/songqueue/songqueue/internal/sqsqueue"
	"github.com/songqueue/songqueue/web"
)

// template reads template.yaml as JSON, decoded by cfn-lint (which knows
// CloudFormation's short tags) from the SAM tools' or moto's virtual
// environment.
func template(t *testing.T) map[string]any {
	t.Helper()
	root := repoRoot(t)
	var python string
	for _, p := range []string{".tools/sam-venv/bin/python", ".venv/bin/python"} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			python = filepath.Join(root, p)
			break
		}
	}
	if python == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Python environment with cfn-lint: run make sam-tools")
		}
		t.Skip("no Python environment with cfn-lint; make sam-tools installs one")
	}
	cmd := exec.Command(python, "-c", `import json, sys, cfnlint.decode
t, errs = cfnlint.decode.decode(sys.argv[1])
if errs:
    sys.exit("\n".join(str(e) for e in errs))
print(json.dumps(t))`, filepath.Join(root, "template.yaml"))
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && strings.Contains(string(ee.Stderr), "No module named") {
			t.Skipf("cfn-lint missing in %s", python)
		}
		t.Fatalf("decode template.yaml: %v\n%s", err, errText(err))
	}
	var tpl map[string]any
	if err := json.Unmarshal(out, &tpl); err != nil {
		t.Fatal(err)
	}
	return tpl
}

func errText(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func resource(t *testing.T, tpl map[string]any, id string) map[string]any {
	t.Helper()
	r, ok := tpl["Resources"].(map[string]any)[id].(map[string]any)
	if !ok {
		t.Fatalf("template.yaml has no resource %s", id)
	}
	return r
}

func props(t *testing.T, tpl map[string]any, id string) map[string]any {
	t.Helper()
	p, _ := resource(t, tpl, id)["Properties"].(map[string]any)
	return p
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

// canonical renders v as sorted JSON, for comparisons.
func canonical(v any) string {
	b, _ := json.Marshal(v)
	var x any
	_ = json.Unmarshal(b, &x)
	b, _ = json.Marshal(x)
	return string(b)
}

// tableShape is what the code and the template must agree on.
func tableShape(in *dynamodb.CreateTableInput) string {
	var attrs []string
	for _, a := range in.AttributeDefinitions {
		attrs = append(attrs, *a.AttributeName+":"+string(a.AttributeType))
	}
	sort.Strings(attrs)
	key := func(ks []struct{ name, typ string }) string {
		var out []string
		for _, k := range ks {
			out = append(out, k.name+"/"+k.typ)
		}
		return strings.Join(out, ",")
	}
	var idx []string
	for _, g := range in.GlobalSecondaryIndexes {
		var ks []struct{ name, typ string }
		for _, k := range g.KeySchema {
			ks = append(ks, struct{ name, typ string }{*k.AttributeName, string(k.KeyType)})
		}
		idx = append(idx, fmt.Sprintf("%s(%s)%s", *g.IndexName, key(ks), g.Projection.ProjectionType))
	}
	sort.Strings(idx)
	var ks []struct{ name, typ string }
	for _, k := range in.KeySchema {
		ks = append(ks, struct{ name, typ string }{*k.AttributeName, string(k.KeyType)})
	}
	return fmt.Sprintf("attrs=%v key=%s indexes=%v billing=%s", attrs, key(ks), idx, in.BillingMode)
}

func templateTableShape(p map[string]any) string {
	var attrs []string
	for _, a := range p["AttributeDefinitions"].([]any) {
		m := a.(map[string]any)
		attrs = append(attrs, m["AttributeName"].(string)+":"+m["AttributeType"].(string))
	}
	sort.Strings(attrs)
	key := func(ks []any) string {
		var out []string
		for _, k := range ks {
			m := k.(map[string]any)
			out = append(out, m["AttributeName"].(string)+"/"+m["KeyType"].(string))
		}
		return strings.Join(out, ",")
	}
	var idx []string
	gsis, _ := p["GlobalSecondaryIndexes"].([]any)
	for _, g := range gsis {
		m := g.(map[string]any)
		idx = append(idx, fmt.Sprintf("%s(%s)%s", m["IndexName"], key(m["KeySchema"].([]any)), m["Projection"].(map[string]any)["ProjectionType"]))
	}
	sort.Strings(idx)
	return fmt.Sprintf("attrs=%v key=%s indexes=%v billing=%s", attrs, key(p["KeySchema"].([]any)), idx, p["BillingMode"])
}

// TestTemplateMatchesTheCode: the tables and queues template.yaml creates
// are the ones the adapters use and awsinfra.Ensure makes for emulators.
func TestTemplateMatchesTheCode(t *testing.T) {
	tpl := template(t)
	for id, want := range map[string]*dynamodb.CreateTableInput{
		"GenerationsTable": dynamo.GenerationsTable("x"),
		"ConnectionsTable": dynamo.ConnectionsTable("x"),
	} {
		p := props(t, tpl, id)
		if got, want := templateTableShape(p), tableShape(want); got != want {
			t.Errorf("%s:\n template %s\n code     %s", id, got, want)
		}
		if canonical(p["TimeToLiveSpecification"]) != canonical(map[string]any{"AttributeName": dynamo.AttrExpiresAt, "Enabled": true}) {
			t.Errorf("%s TTL = %v", id, p["TimeToLiveSpecification"])
		}
		if canonical(p["PointInTimeRecoverySpecification"]) != `{"PointInTimeRecoveryEnabled":true}` {
			t.Errorf("%s PITR = %v", id, p["PointInTimeRecoverySpecification"])
		}
		if sse, _ := p["SSESpecification"].(map[string]any); sse["SSEEnabled"] != true {
			t.Errorf("%s SSE = %v", id, p["SSESpecification"])
		}
	}

	s := sqsqueue.DefaultSettings()
	worker := props(t, tpl, "WorkerFunction")
	workerTimeout := time.Duration(num(worker["Timeout"])) * time.Second
	queues := map[string]bool{}
	for _, tier := range generation.Tiers {
		name := strings.ToUpper(string(tier[:1])) + strings.ToLower(string(tier[1:]))
		q, dlq := props(t, tpl, name+"Queue"), props(t, tpl, name+"DeadLetterQueue")
		queues[name+"Queue"] = true
		if vis := time.Duration(num(q["VisibilityTimeout"])) * time.Second; vis != s.VisibilityTimeout || vis < 6*workerTimeout {
			t.Errorf("%s visibility %s: want sqsqueue's %s, at least six times the worker's timeout %s", tier, vis, s.VisibilityTimeout, workerTimeout)
		}
		retention := time.Duration(num(q["MessageRetentionPeriod"])) * time.Second
		dlqRetention := time.Duration(num(dlq["MessageRetentionPeriod"])) * time.Second
		if retention != s.Retention || dlqRetention != s.DeadLetterRetention || dlqRetention <= retention {
			t.Errorf("%s retention %s, dead letters %s: want %s and a longer %s", tier, retention, dlqRetention, s.Retention, s.DeadLetterRetention)
		}
		// sqsqueue keeps SQS's receive wait of zero (see Settings).
		if w, ok := q["ReceiveMessageWaitTimeSeconds"]; ok && num(w) != 0 {
			t.Errorf("%s receive wait = %v, want SQS's default 0 like sqsqueue", tier, w)
		}
		rp, _ := q["RedrivePolicy"].(map[string]any)
		if num(rp["maxReceiveCount"]) != s.MaxReceiveCount || canonical(rp["deadLetterTargetArn"]) != canonical(map[string]any{"Fn::GetAtt": []any{name + "DeadLetterQueue", "Arn"}}) {
			t.Errorf("%s redrive = %v", tier, rp)
		}
		if q["SqsManagedSseEnabled"] != true || dlq["SqsManagedSseEnabled"] != true {
			t.Errorf("%s queues not encrypted", tier)
		}
	}

	// One SQS event per tier queue, each with partial batch responses and
	// its own maximum concurrency parameter.
	evs := worker["Events"].(map[string]any)
	seen := map[string]bool{}
	for name, e := range evs {
		e := e.(map[string]any)
		if e["Type"] != "SQS" {
			continue
		}
		p := e["Properties"].(map[string]any)
		q := p["Queue"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
		seen[q] = true
		if !slices.Equal(toStrings(p["FunctionResponseTypes"]), []string{"ReportBatchItemFailures"}) {
			t.Errorf("worker event %s without ReportBatchItemFailures", name)
		}
		mc, _ := p["ScalingConfig"].(map[string]any)["MaximumConcurrency"].(map[string]any)
		if param, _ := mc["Ref"].(string); param == "" || tpl["Parameters"].(map[string]any)[param] == nil {
			t.Errorf("worker event %s: MaximumConcurrency should be a parameter, is %v", name, p["ScalingConfig"])
		}
	}
	if canonical(seen) != canonical(queues) {
		t.Errorf("worker reads %v, tier queues are %v", seen, queues)
	}
}

// TestLocalStackRunsTheTemplatesSchedule: the local stack stands in for
// Lambda and EventBridge with the template's own figures, so make dev
// behaves as the deployed stack: the worker's and the sweeper's timeouts,
// the sweeper's schedule, the queues' visibility timeout.
func TestLocalStackRunsTheTemplatesSchedule(t *testing.T) {
	tpl := template(t)
	local := localstack.DefaultConfig()
	seconds := func(id string) time.Duration { return time.Duration(num(props(t, tpl, id)["Timeout"])) * time.Second }
	if got := seconds("WorkerFunction"); got != local.WorkerTimeout {
		t.Errorf("worker timeout: template %s, local stack %s", got, local.WorkerTimeout)
	}
	if got := seconds("SweeperFunction"); got != local.SweeperTimeout {
		t.Errorf("sweeper timeout: template %s, local stack %s", got, local.SweeperTimeout)
	}
	var schedule string
	for _, e := range props(t, tpl, "SweeperFunction")["Events"].(map[string]any) {
		if e := e.(map[string]any); e["Type"] == "Schedule" {
			schedule, _ = e["Properties"].(map[string]any)["Schedule"].(string)
		}
	}
	var n int
	var unit string
	if _, err := fmt.Sscanf(schedule, "rate(%d %s", &n, &unit); err != nil || !strings.HasPrefix(unit, "minute") {
		t.Fatalf("sweeper schedule %q: want rate(N minutes)", schedule)
	}
	if got := time.Duration(n) * time.Minute; got != local.SweepInterval {
		t.Errorf("sweeper schedule: template every %s, local stack every %s", got, local.SweepInterval)
	}
	if q := time.Duration(num(props(t, tpl, "FreeQueue")["VisibilityTimeout"])) * time.Second; q != local.Queues.VisibilityTimeout {
		t.Errorf("visibility timeout: template %s, local stack %s", q, local.Queues.VisibilityTimeout)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestTemplateFunctionsAreBuilt: every function is provided.al2023 on
// arm64, built by a build-<LogicalId> target of build.mk from its own
// main package; and no IAM statement grants Resource "*".
func TestTemplateFunctionsAreBuilt(t *testing.T) {
	tpl := template(t)
	root := repoRoot(t)
	mk, err := os.ReadFile(filepath.Join(root, "build.mk"))
	if err != nil {
		t.Fatal(err)
	}
	globals := tpl["Globals"].(map[string]any)["Function"].(map[string]any)
	if globals["Runtime"] != "provided.al2023" || canonical(globals["Architectures"]) != `["arm64"]` || globals["Handler"] != "bootstrap" {
		t.Errorf("Globals.Function = %v", globals)
	}
	byID := map[string]string{}
	for dir, id := range Functions {
		byID[id] = dir
	}
	var ids []string
	for id, r := range tpl["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] != "AWS::Serverless::Function" {
			continue
		}
		ids = append(ids, id)
		if md, _ := r["Metadata"].(map[string]any); md["BuildMethod"] != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod = %v", id, md["BuildMethod"])
		}
		p := r["Properties"].(map[string]any)
		for _, k := range []string{"Runtime", "Architectures", "CodeUri", "Handler"} {
			if _, ok := p[k]; ok {
				t.Errorf("%s sets %s; Globals has it", id, k)
			}
		}
		dir, ok := byID[id]
		if !ok {
			t.Errorf("function %s is not in lambdatest.Functions, so no test runs it", id)
			continue
		}
		target := regexp.MustCompile(`(?m)^build-` + id + `:\n\t\$\(call lambda_build,` + dir + `\)$`)
		if !target.Match(mk) {
			t.Errorf("build.mk has no build-%s target building ./functions/%s", id, dir)
		}
		if _, err := os.Stat(filepath.Join(root, "functions", dir, "main.go")); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	sort.Strings(ids)
	if len(ids) != len(Functions) {
		t.Errorf("template functions %v, lambdatest.Functions %v", ids, Functions)
	}

	// Least privilege: no statement on every resource.
	for id, r := range tpl["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] != "AWS::IAM::Role" {
			continue
		}
		for _, pol := range r["Properties"].(map[string]any)["Policies"].([]any) {
			walkStatements(pol.(map[string]any)["PolicyDocument"].(map[string]any)["Statement"], func(st map[string]any) {
				if res, ok := st["Resource"].(string); ok && res == "*" {
					t.Errorf("%s: %v on Resource \"*\"", id, st["Action"])
				}
				if l, ok := st["Resource"].([]any); ok && slices.Contains(l, any("*")) {
					t.Errorf("%s: %v on Resource \"*\"", id, st["Action"])
				}
			})
		}
		if mp, ok := r["Properties"].(map[string]any)["ManagedPolicyArns"]; ok {
			t.Errorf("%s has managed policies %v; they grant on every resource", id, mp)
		}
	}
}

// walkStatements visits each statement, looking inside Fn::If.
func walkStatements(v any, visit func(map[string]any)) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			walkStatements(e, visit)
		}
	case map[string]any:
		if alts, ok := x["Fn::If"].([]any); ok && len(alts) == 3 {
			walkStatements(alts[1], visit)
			walkStatements(alts[2], visit)
			return
		}
		if _, ok := x["Effect"]; ok {
			visit(x)
		}
	}
}

// TestRIEVersionMatchesBuildMk: make and the tests build the same emulator.
func TestRIEVersionMatchesBuildMk(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(repoRoot(t), "build.mk"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RIE_VERSION\s*\?=\s*(\S+)$`).FindSubmatch(mk)
	if m == nil || string(m[1]) != RIEVersion {
		t.Fatalf("build.mk RIE_VERSION = %q, lambdatest.RIEVersion = %q", m, RIEVersion)
	}
}

// TestTemplateWebPage: the deployed page gets the headers the local stack
// sends (web.Handler), except that connect-src names this stack's two APIs
// (the origins of the HttpApiUrl and WebSocketUrl outputs deploy-web writes
// into config.json); and its bucket is private, read only by the
// distribution through Origin Access Control.
func TestTemplateWebPage(t *testing.T) {
	tpl := template(t)

	rec := httptest.NewRecorder()
	web.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	local := rec.Header()

	rhp := props(t, tpl, "WebResponseHeadersPolicy")["ResponseHeadersPolicyConfig"].(map[string]any)
	sec := rhp["SecurityHeadersConfig"].(map[string]any)
	csp := sec["ContentSecurityPolicy"].(map[string]any)
	sub, _ := csp["ContentSecurityPolicy"].(map[string]any)["Fn::Sub"].(string)
	if sub == "" || csp["Override"] != true {
		t.Fatalf("CSP = %v, want an overriding Fn::Sub string", csp)
	}
	got, want := cspDirectives(sub), cspDirectives(local.Get("Content-Security-Policy"))
	outputs := tpl["Outputs"].(map[string]any)
	origin := func(output string) string {
		v := outputs[output].(map[string]any)["Value"].(map[string]any)["Fn::Sub"].(string)
		scheme, rest, _ := strings.Cut(v, "://")
		host, _, _ := strings.Cut(rest, "/")
		return scheme + "://" + host
	}
	want["connect-src"] = "'self' " + origin("HttpApiUrl") + " " + origin("WebSocketUrl")
	if canonical(got) != canonical(want) {
		t.Errorf("CloudFront CSP directives\n %v\nwant (web.Handler's, connect-src the APIs)\n %v", got, want)
	}
	if !strings.HasPrefix(cspDirectives(local.Get("Content-Security-Policy"))["connect-src"], "'self'") {
		t.Errorf("web.Handler's connect-src no longer starts with 'self'; config.json needs it")
	}
	if local.Get("X-Content-Type-Options") != "nosniff" || canonical(sec["ContentTypeOptions"]) != `{"Override":true}` {
		t.Errorf("nosniff: local %q, CloudFront %v", local.Get("X-Content-Type-Options"), sec["ContentTypeOptions"])
	}
	if rp, _ := sec["ReferrerPolicy"].(map[string]any); rp["ReferrerPolicy"] != local.Get("Referrer-Policy") {
		t.Errorf("Referrer-Policy: local %q, CloudFront %v", local.Get("Referrer-Policy"), sec["ReferrerPolicy"])
	}
	if fo, _ := sec["FrameOptions"].(map[string]any); fo["FrameOption"] != "DENY" {
		t.Errorf("X-Frame-Options = %v, want DENY", sec["FrameOptions"])
	}
	cacheControl := ""
	for _, h := range rhp["CustomHeadersConfig"].(map[string]any)["Items"].([]any) {
		if h := h.(map[string]any); strings.EqualFold(h["Header"].(string), "Cache-Control") {
			cacheControl, _ = h["Value"].(string)
		}
	}
	if cacheControl != local.Get("Cache-Control") {
		t.Errorf("Cache-Control: local %q, CloudFront %q", local.Get("Cache-Control"), cacheControl)
	}

	b := props(t, tpl, "WebBucket")
	if canonical(b["PublicAccessBlockConfiguration"]) != `{"BlockPublicAcls":true,"BlockPublicPolicy":true,"IgnorePublicAcls":true,"RestrictPublicBuckets":true}` {
		t.Errorf("WebBucket public access block = %v", b["PublicAccessBlockConfiguration"])
	}
	if !strings.Contains(canonical(b["OwnershipControls"]), `"ObjectOwnership":"BucketOwnerEnforced"`) || !strings.Contains(canonical(b["BucketEncryption"]), "SSEAlgorithm") {
		t.Errorf("WebBucket ownership %v, encryption %v", b["OwnershipControls"], b["BucketEncryption"])
	}
	var denyTLS, cloudFrontRead bool
	walkStatements(props(t, tpl, "WebBucketPolicy")["PolicyDocument"].(map[string]any)["Statement"], func(st map[string]any) {
		cond := canonical(st["Condition"])
		switch {
		case st["Effect"] == "Deny" && cond == `{"Bool":{"aws:SecureTransport":"false"}}`:
			denyTLS = true
		case st["Effect"] == "Allow":
			if canonical(st["Principal"]) != `{"Service":"cloudfront.amazonaws.com"}` || !strings.Contains(cond, "AWS:SourceArn") || !strings.Contains(cond, "${WebDistribution}") {
				t.Errorf("WebBucketPolicy allows %v to %v under %s; only this distribution may read", st["Principal"], st["Action"], cond)
			}
			cloudFrontRead = true
		}
	})
	if !denyTLS || !cloudFrontRead {
		t.Errorf("WebBucketPolicy: deny without TLS %v, distribution reads %v", denyTLS, cloudFrontRead)
	}

	d := props(t, tpl, "WebDistribution")["DistributionConfig"].(map[string]any)
	origins := d["Origins"].([]any)
	if len(origins) != 1 || canonical(origins[0].(map[string]any)["OriginAccessControlId"]) != `{"Fn::GetAtt":["WebOriginAccessControl","Id"]}` {
		t.Errorf("WebDistribution origins = %v, want the bucket through WebOriginAccessControl", origins)
	}
	dcb := d["DefaultCacheBehavior"].(map[string]any)
	if d["DefaultRootObject"] != "index.html" || dcb["ViewerProtocolPolicy"] != "redirect-to-https" ||
		canonical(dcb["ResponseHeadersPolicyId"]) != `{"Ref":"WebResponseHeadersPolicy"}` {
		t.Errorf("WebDistribution root %v, viewer protocol %v, headers %v", d["DefaultRootObject"], dcb["ViewerProtocolPolicy"], dcb["ResponseHeadersPolicyId"])
	}
	for _, o := range []string{"WebUrl", "WebBucketName", "WebDistributionId", "HttpApiUrl", "WebSocketUrl"} {
		if outputs[o] == nil {
			t.Errorf("output %s missing; scripts/deploy-web.sh reads it", o)
		}
	}
}

// cspDirectives maps each directive of a Content-Security-Policy to its
// sources, whitespace normalised.
func cspDirectives(policy string) map[string]string {
	out := map[string]string{}
	for _, d := range strings.Split(policy, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			out[f[0]] = strings.Join(f[1:], " ")
		}
	}
	return out
}
