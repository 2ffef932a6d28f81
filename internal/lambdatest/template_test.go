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

	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/dynamo"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/s3media"
	"github.com/songqueue/songqueue/internal/sqsqueue"
	"github.com/songqueue/songqueue/web"
)

// template reads template.yaml as JSON, decoded by cfn-lint (which knows
// CloudFormation's short tags) from the SAM tools' or moto's virtual
// environment.
func template(t *testing.T) map[string]any {
	t.Helper()
	return runTemplatePython(t, `import json, sys, cfnlint.decode
t, errs = cfnlint.decode.decode(sys.argv[1])
if errs:
    sys.exit("\n".join(str(e) for e in errs))
print(json.dumps(t))`)
}

// transformedTemplate is template.yaml after the SAM transform, as
// CloudFormation gets it: the functions' roles, event source mappings and
// permissions, and HttpApi's OpenAPI body with an integration naming each
// function it routes to. Neither cfn-lint nor sam validate looks at the
// references of the resources SAM generates, so a cycle through them
// shows only at deploy time, unless a test looks.
func transformedTemplate(t *testing.T) map[string]any {
	t.Helper()
	return runTemplatePython(t, `import json, os, sys, cfnlint.decode
from samtranslator.translator.transform import transform
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
t, errs = cfnlint.decode.decode(sys.argv[1])
if errs:
    sys.exit("\n".join(str(e) for e in errs))
# The code is uploaded by sam deploy; the transform wants an S3 URI.
t["Globals"]["Function"]["CodeUri"] = "s3://bucket/key"
class NoManagedPolicies:
    def load(self):
        return {}
print(json.dumps(transform(t, {}, NoManagedPolicies())))`)
}

// runTemplatePython runs script on template.yaml (sys.argv[1]) with the
// Python of the SAM tools' or moto's virtual environment (both have
// cfn-lint, which brings the SAM translator) and decodes its JSON output.
func runTemplatePython(t *testing.T, script string) map[string]any {
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
	cmd := exec.Command(python, "-c", script, filepath.Join(root, "template.yaml"))
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
	local := devstack.DefaultConfig()
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
	if q := time.Duration(num(props(t, tpl, "FreeQueue")["VisibilityTimeout"])) * time.Second; q != local.QueueSettings.VisibilityTimeout {
		t.Errorf("visibility timeout: template %s, local stack %s", q, local.QueueSettings.VisibilityTimeout)
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
	dcb := d["DefaultCacheBehavior"].(map[string]any)
	page := originByID(t, d, dcb["TargetOriginId"])
	if canonical(page["DomainName"]) != `{"Fn::GetAtt":["WebBucket","RegionalDomainName"]}` {
		t.Errorf("WebDistribution's default origin = %v, want the page's bucket", page)
	}
	// Every origin is one of the stack's buckets, read with the access
	// control each bucket's policy admits (the page's and MediaBucket).
	for _, o := range d["Origins"].([]any) {
		o := o.(map[string]any)
		if canonical(o["OriginAccessControlId"]) != `{"Fn::GetAtt":["WebOriginAccessControl","Id"]}` || o["S3OriginConfig"] == nil {
			t.Errorf("WebDistribution origin %v, want an S3 bucket through WebOriginAccessControl", o["Id"])
		}
	}
	if oac := props(t, tpl, "WebOriginAccessControl")["OriginAccessControlConfig"].(map[string]any); oac["OriginAccessControlOriginType"] != "s3" || oac["SigningBehavior"] != "always" {
		t.Errorf("WebOriginAccessControl = %v, want s3, always signed", oac)
	}
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

// originByID is the distribution's origin of that Id.
func originByID(t *testing.T, d map[string]any, id any) map[string]any {
	t.Helper()
	for _, o := range d["Origins"].([]any) {
		if o := o.(map[string]any); o["Id"] == id {
			return o
		}
	}
	t.Fatalf("WebDistribution has no origin %v", id)
	return nil
}

// TestTemplateMedia: the songs' copies (DESIGN.md section 11) go to a
// private, encrypted, TLS-only bucket that is kept when the stack goes,
// whose old files move to a cheaper class; users read them only through
// the page's distribution, at the path the worker's URLs name
// (MEDIA_BASE_URL), which maps onto the keys s3media writes.
func TestTemplateMedia(t *testing.T) {
	tpl := template(t)

	r := resource(t, tpl, "MediaBucket")
	if r["Type"] != "AWS::S3::Bucket" || r["DeletionPolicy"] != "Retain" || r["UpdateReplacePolicy"] != "Retain" {
		t.Errorf("MediaBucket %v, deletion %v, replacement %v: the users' songs must be retained", r["Type"], r["DeletionPolicy"], r["UpdateReplacePolicy"])
	}
	b := props(t, tpl, "MediaBucket")
	if canonical(b["PublicAccessBlockConfiguration"]) != `{"BlockPublicAcls":true,"BlockPublicPolicy":true,"IgnorePublicAcls":true,"RestrictPublicBuckets":true}` {
		t.Errorf("MediaBucket public access block = %v", b["PublicAccessBlockConfiguration"])
	}
	if !strings.Contains(canonical(b["OwnershipControls"]), `"ObjectOwnership":"BucketOwnerEnforced"`) {
		t.Errorf("MediaBucket ownership = %v, want BucketOwnerEnforced (no ACLs)", b["OwnershipControls"])
	}
	// SSE-S3; SSE-KMS would also need the key to admit the distribution.
	if enc := canonical(b["BucketEncryption"]); !strings.Contains(enc, `"SSEAlgorithm":"AES256"`) {
		t.Errorf("MediaBucket encryption = %s, want SSE-S3 (AES256)", enc)
	}
	var toIA, abort bool
	for _, rule := range b["LifecycleConfiguration"].(map[string]any)["Rules"].([]any) {
		rule := rule.(map[string]any)
		if rule["Status"] != "Enabled" {
			continue
		}
		prefix, _ := rule["Prefix"].(string)
		if f, ok := rule["Filter"].(map[string]any); ok {
			prefix, _ = f["Prefix"].(string)
		}
		if e, ok := rule["ExpirationInDays"]; ok {
			t.Errorf("MediaBucket lifecycle rule %v expires objects after %v days: the songs must last", rule["Id"], e)
		}
		trs, _ := rule["Transitions"].([]any)
		for _, tr := range trs {
			tr := tr.(map[string]any)
			// S3 moves nothing to Standard-IA before 30 days.
			if tr["StorageClass"] == "STANDARD_IA" && num(tr["TransitionInDays"]) >= 30 && prefix == s3media.Prefix {
				toIA = true
			}
		}
		if a, ok := rule["AbortIncompleteMultipartUpload"].(map[string]any); ok && num(a["DaysAfterInitiation"]) >= 1 {
			abort = true
		}
	}
	if !toIA || !abort {
		t.Errorf("MediaBucket lifecycle: %s to STANDARD_IA after 30 days %v, incomplete uploads aborted %v", s3media.Prefix, toIA, abort)
	}

	// The policy: TLS only, for everyone; the one grant is the
	// distribution's GetObject of the copies.
	var denyTLS, cloudFrontRead bool
	walkStatements(props(t, tpl, "MediaBucketPolicy")["PolicyDocument"].(map[string]any)["Statement"], func(st map[string]any) {
		cond := canonical(st["Condition"])
		switch {
		case st["Effect"] == "Deny" && cond == `{"Bool":{"aws:SecureTransport":"false"}}`:
			res := canonical(st["Resource"])
			if st["Action"] != "s3:*" || !strings.Contains(res, `{"Fn::GetAtt":["MediaBucket","Arn"]}`) || !strings.Contains(res, `{"Fn::Sub":"${MediaBucket.Arn}/*"}`) {
				t.Errorf("MediaBucketPolicy's TLS deny covers %v on %s; want s3:* on the bucket and every object", st["Action"], res)
			}
			denyTLS = true
		case st["Effect"] == "Allow":
			if canonical(st["Principal"]) != `{"Service":"cloudfront.amazonaws.com"}` || st["Action"] != "s3:GetObject" ||
				canonical(st["Resource"]) != canonical(map[string]any{"Fn::Sub": "${MediaBucket.Arn}/" + s3media.Prefix + "*"}) ||
				!strings.Contains(cond, "AWS:SourceArn") || !strings.Contains(cond, "${WebDistribution}") {
				t.Errorf("MediaBucketPolicy allows %v to %v on %v under %s; only this distribution may read, only the copies", st["Principal"], st["Action"], st["Resource"], cond)
			}
			cloudFrontRead = true
		}
	})
	if !denyTLS || !cloudFrontRead {
		t.Errorf("MediaBucketPolicy: deny without TLS %v, distribution reads %v", denyTLS, cloudFrontRead)
	}

	// The distribution serves /media/* from the bucket, unchanged: the path
	// is the key (no origin path), read-only, HTTPS.
	d := props(t, tpl, "WebDistribution")["DistributionConfig"].(map[string]any)
	var behaviour map[string]any
	cbs, _ := d["CacheBehaviors"].([]any)
	for _, cb := range cbs {
		if cb := cb.(map[string]any); strings.TrimPrefix(cb["PathPattern"].(string), "/") == s3media.Prefix+"*" {
			behaviour = cb
		}
	}
	if behaviour == nil {
		t.Fatalf("WebDistribution has no %s* cache behaviour (%v)", s3media.Prefix, cbs)
	}
	o := originByID(t, d, behaviour["TargetOriginId"])
	if canonical(o["DomainName"]) != `{"Fn::GetAtt":["MediaBucket","RegionalDomainName"]}` || o["OriginPath"] != nil {
		t.Errorf("the %s* behaviour reads origin %v, want MediaBucket without an origin path", s3media.Prefix, o)
	}
	if canonical(behaviour["AllowedMethods"]) != `["GET","HEAD"]` || canonical(behaviour["CachedMethods"]) != `["GET","HEAD"]` {
		t.Errorf("media behaviour methods %v (cached %v), want GET and HEAD only", behaviour["AllowedMethods"], behaviour["CachedMethods"])
	}
	if vp := behaviour["ViewerProtocolPolicy"]; vp != "redirect-to-https" && vp != "https-only" {
		t.Errorf("media behaviour viewer protocol %v", vp)
	}
	if behaviour["CachePolicyId"] == nil {
		t.Errorf("media behaviour has no cache policy")
	}
	if ref, _ := behaviour["CachePolicyId"].(map[string]any)["Ref"].(string); ref != "" {
		// The template's own policy: cached, nothing of the request in the
		// key (one copy per file whatever the query or cookies).
		cp := props(t, tpl, ref)["CachePolicyConfig"].(map[string]any)
		key := canonical(cp["ParametersInCacheKeyAndForwardedToOrigin"])
		if num(cp["DefaultTTL"]) <= 0 || num(cp["MaxTTL"]) <= 0 || !strings.Contains(key, `"QueryStringBehavior":"none"`) || !strings.Contains(key, `"CookieBehavior":"none"`) {
			t.Errorf("media cache policy %s = %v", ref, cp)
		}
		// A deleted song's files leave the edge within MaxTTL.
		if max := time.Duration(num(cp["MaxTTL"])) * time.Second; max > 7*24*time.Hour {
			t.Errorf("media cache policy keeps files %s at the edge; a deleted song would be served that long", max)
		}
	}
	if ref, _ := behaviour["ResponseHeadersPolicyId"].(map[string]any)["Ref"].(string); ref == "" {
		t.Errorf("media behaviour has no response headers policy of the template's")
	} else {
		sec := props(t, tpl, ref)["ResponseHeadersPolicyConfig"].(map[string]any)["SecurityHeadersConfig"].(map[string]any)
		if canonical(sec["ContentTypeOptions"]) != `{"Override":true}` {
			t.Errorf("media responses without nosniff: %v", sec)
		}
	}

	// Where the worker's URLs point: https://<the distribution>/media, the
	// behaviour's path, onto s3media's keys.
	env := tpl["Globals"].(map[string]any)["Function"].(map[string]any)["Environment"].(map[string]any)["Variables"].(map[string]any)
	if got := canonical(env["MEDIA_BUCKET"]); got != `{"Ref":"MediaBucket"}` {
		t.Errorf("Globals MEDIA_BUCKET = %s", got)
	}
	base := "https://${WebDistribution.DomainName}/" + strings.TrimSuffix(s3media.Prefix, "/")
	// Every function that finishes generations or deletes them has the
	// bucket (a callback without it would complete with Suno's URLs); only
	// the worker names copies, so it alone has MEDIA_BASE_URL, the real one
	// (in Globals the distribution's domain would be a dependency cycle).
	if _, ok := env["MEDIA_BASE_URL"]; ok {
		t.Errorf("Globals MEDIA_BASE_URL is set; only the worker's copies need it")
	}
	for _, id := range []string{"ApiFunction", "CallbackFunction", "WorkerFunction", "SweeperFunction"} {
		fv, _ := props(t, tpl, id)["Environment"].(map[string]any)
		vars, _ := fv["Variables"].(map[string]any)
		v, set := vars["MEDIA_BASE_URL"]
		switch {
		case id == "WorkerFunction" && canonical(v) != canonical(map[string]any{"Fn::Sub": base}):
			t.Errorf("WorkerFunction MEDIA_BASE_URL = %v, want %s: its copies' URLs must name the distribution", v, base)
		case id != "WorkerFunction" && set:
			t.Errorf("%s sets MEDIA_BASE_URL %v; it names no copies", id, v)
		}
		if _, ok := vars["MEDIA_BUCKET"]; ok {
			t.Errorf("%s overrides MEDIA_BUCKET", id)
		}
	}
	if tpl["Outputs"].(map[string]any)["MediaBucketName"] == nil {
		t.Errorf("output MediaBucketName missing")
	}
}

// TestTemplateHasNoCycles: CloudFormation refuses a template whose
// resources refer to each other in a circle, and only at deploy time. The
// page's distribution names HttpApi in its CSP and SAM makes HttpApi name
// its functions, so no function HttpApi routes to may name the
// distribution (MEDIA_BASE_URL).
func TestTemplateHasNoCycles(t *testing.T) {
	res := transformedTemplate(t)["Resources"].(map[string]any)
	deps := map[string][]string{}
	for id, r := range res {
		r := r.(map[string]any)
		seen := map[string]bool{}
		for _, n := range references(r["Properties"]) {
			seen[n] = true
		}
		switch d := r["DependsOn"].(type) {
		case string:
			seen[d] = true
		case []any:
			for _, x := range d {
				seen[x.(string)] = true
			}
		}
		for n := range seen {
			if _, ok := res[n]; ok && n != id {
				deps[id] = append(deps[id], n)
			}
		}
		sort.Strings(deps[id])
	}
	ids := make([]string, 0, len(res))
	for id := range res {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	const (
		unseen = iota
		open
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(string) []string
	visit = func(id string) []string {
		state[id] = open
		path = append(path, id)
		for _, d := range deps[id] {
			switch state[d] {
			case open:
				i := slices.Index(path, d)
				return append(slices.Clone(path[i:]), d)
			case unseen:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[id] = done
		return nil
	}
	for _, id := range ids {
		if state[id] == unseen {
			if c := visit(id); c != nil {
				t.Fatalf("circular dependency: %s", strings.Join(c, " -> "))
			}
		}
	}
	if len(res) < 50 {
		t.Errorf("the transformed template has only %d resources; is the SAM transform running?", len(res))
	}
}

// subName matches a ${Name} or ${Name.Attribute} of Fn::Sub, not ${!literal}.
var subName = regexp.MustCompile(`\$\{([A-Za-z0-9:]+)(?:\.[A-Za-z0-9.]+)?\}`)

// references lists the names v refers to with Ref, Fn::GetAtt and Fn::Sub.
func references(v any) []string {
	var out []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			out = append(out, references(e)...)
		}
	case map[string]any:
		for k, e := range x {
			switch k {
			case "Ref":
				if s, ok := e.(string); ok {
					out = append(out, s)
				}
			case "Fn::GetAtt":
				switch a := e.(type) {
				case []any:
					out = append(out, a[0].(string))
				case string:
					n, _, _ := strings.Cut(a, ".")
					out = append(out, n)
				}
			case "Fn::Sub":
				var str string
				vars := map[string]any{}
				switch a := e.(type) {
				case string:
					str = a
				case []any:
					str, _ = a[0].(string)
					vars, _ = a[1].(map[string]any)
					out = append(out, references(a[1])...)
				}
				for _, m := range subName.FindAllStringSubmatch(str, -1) {
					if _, local := vars[m[1]]; !local {
						out = append(out, m[1])
					}
				}
			default:
				out = append(out, references(e)...)
			}
		}
	}
	return out
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
