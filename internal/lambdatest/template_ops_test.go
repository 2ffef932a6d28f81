package lambdatest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/cors"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/metrics"
	"github.com/songqueue/songqueue/internal/s3media"
)

// httpRoutes lists "METHOD /path" of every HttpApi event in the template.
func httpRoutes(tpl map[string]any) []string {
	var out []string
	for _, r := range tpl["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] != "AWS::Serverless::Function" {
			continue
		}
		evs, _ := r["Properties"].(map[string]any)["Events"].(map[string]any)
		for _, e := range evs {
			e := e.(map[string]any)
			if e["Type"] != "HttpApi" {
				continue
			}
			p := e["Properties"].(map[string]any)
			out = append(out, fmt.Sprintf("%s %s", p["Method"], p["Path"]))
		}
	}
	sort.Strings(out)
	return out
}

// TestTemplateRoutesMatchOpenAPI: the HTTP API routes exactly the
// operations of openapi.yaml, the contract.
func TestTemplateRoutesMatchOpenAPI(t *testing.T) {
	tpl := template(t)
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	var path string
	inPaths := false
	pathLine := regexp.MustCompile(`^  (/\S*):\s*$`)
	opLine := regexp.MustCompile(`^    (get|put|post|delete|patch|head|options):\s*$`)
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "paths:"):
			inPaths = true
		case inPaths && line != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#"):
			inPaths = false
		case inPaths && pathLine.MatchString(line):
			path = pathLine.FindStringSubmatch(line)[1]
		case inPaths && opLine.MatchString(line):
			want = append(want, strings.ToUpper(opLine.FindStringSubmatch(line)[1])+" "+path)
		}
	}
	sort.Strings(want)
	if len(want) == 0 {
		t.Fatal("no operations found in openapi.yaml")
	}
	if got := httpRoutes(tpl); !slices.Equal(got, want) {
		t.Errorf("template routes\n %v\nopenapi.yaml operations\n %v", got, want)
	}
	// A browser calls every method the API routes.
	cors := toStrings(props(t, tpl, "HttpApi")["CorsConfiguration"].(map[string]any)["AllowMethods"])
	for _, r := range httpRoutes(tpl) {
		if m, _, _ := strings.Cut(r, " "); !slices.Contains(cors, m) {
			t.Errorf("route %s: CORS AllowMethods %v lacks %s", r, cors, m)
		}
	}
}

// indexGrant matches a Fn::Sub resource naming a table's index.
var indexGrant = regexp.MustCompile(`^\$\{(\w+)\.Arn\}/index/(\w+)$`)

// grants maps each role to the actions it allows on each resource, the
// resource written as its canonical JSON.
func grants(t *testing.T, tpl map[string]any, role string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, pol := range props(t, tpl, role)["Policies"].([]any) {
		walkStatements(pol.(map[string]any)["PolicyDocument"].(map[string]any)["Statement"], func(st map[string]any) {
			if st["Effect"] != "Allow" {
				return
			}
			var actions, resources []any
			if a, ok := st["Action"].([]any); ok {
				actions = a
			} else {
				actions = []any{st["Action"]}
			}
			if r, ok := st["Resource"].([]any); ok {
				resources = r
			} else {
				resources = []any{st["Resource"]}
			}
			for _, r := range resources {
				for _, a := range actions {
					out[canonical(r)] = append(out[canonical(r)], a.(string))
				}
			}
		})
	}
	return out
}

// TestTemplateGrants: every index a role queries exists on its table, and
// the API, which counts delayed jobs (byWait), lists for operators
// (byState), deletes finished generations and lists and redrives the dead
// letters, may do exactly that.
func TestTemplateGrants(t *testing.T) {
	tpl := template(t)
	for id, r := range tpl["Resources"].(map[string]any) {
		if r.(map[string]any)["Type"] != "AWS::IAM::Role" {
			continue
		}
		for res := range grants(t, tpl, id) {
			var sub struct {
				Sub string `json:"Fn::Sub"`
			}
			if err := json.Unmarshal([]byte(res), &sub); err != nil || sub.Sub == "" {
				continue
			}
			m := indexGrant.FindStringSubmatch(sub.Sub)
			if m == nil {
				continue
			}
			var names []string
			gsis, _ := props(t, tpl, m[1])["GlobalSecondaryIndexes"].([]any)
			for _, g := range gsis {
				names = append(names, g.(map[string]any)["IndexName"].(string))
			}
			if !slices.Contains(names, m[2]) {
				t.Errorf("%s grants on %s, which %s does not have (%v)", id, sub.Sub, m[1], names)
			}
		}
	}

	api := grants(t, tpl, "ApiRole")
	has := func(res any, actions ...string) {
		t.Helper()
		for _, a := range actions {
			if !slices.Contains(api[canonical(res)], a) {
				t.Errorf("ApiRole: no %s on %s (has %v)", a, canonical(res), api[canonical(res)])
			}
		}
	}
	for _, idx := range []string{"byUser", "byWait", "byState"} {
		has(map[string]any{"Fn::Sub": "${GenerationsTable.Arn}/index/" + idx}, "dynamodb:Query")
	}
	// TransactWriteItems is authorised per item (Put, Update, Delete).
	has(map[string]any{"Fn::GetAtt": []any{"GenerationsTable", "Arn"}},
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchGetItem")
	for _, tier := range generation.Tiers {
		name := strings.ToUpper(string(tier[:1])) + strings.ToLower(string(tier[1:]))
		has(map[string]any{"Fn::GetAtt": []any{name + "Queue", "Arn"}}, "sqs:SendMessage")
		has(map[string]any{"Fn::GetAtt": []any{name + "DeadLetterQueue", "Arn"}},
			"sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage")
	}
	// The worker reads the queue pause items.
	if w := grants(t, tpl, "WorkerRole")[canonical(map[string]any{"Fn::GetAtt": []any{"GenerationsTable", "Arn"}})]; !slices.Contains(w, "dynamodb:GetItem") {
		t.Errorf("WorkerRole cannot GetItem on the generations table: %v", w)
	}
}

// TestTemplateMediaGrants: S3 for the songs' copies exactly as the code
// uses it. The worker uploads (s3media.Put: PutObject) and removes the
// copies of a song deleted while it copied; the API deletes a
// generation's copies (s3media.Delete: ListObjectsV2 of its prefix, then
// DeleteObjects, authorised per object as DeleteObject); the callback and
// the sweeper only queue archive jobs and the WebSocket functions never
// touch media, so they have no S3 at all. Every grant is confined to the
// bucket's media/ prefix, and nobody may read: users read through
// CloudFront.
func TestTemplateMediaGrants(t *testing.T) {
	tpl := template(t)
	objects := canonical(map[string]any{"Fn::Sub": "${MediaBucket.Arn}/" + s3media.Prefix + "*"})
	bucket := canonical(map[string]any{"Fn::GetAtt": []any{"MediaBucket", "Arn"}})
	want := map[string]map[string][]string{
		"WorkerRole": {objects: {"s3:DeleteObject", "s3:PutObject"}, bucket: {"s3:ListBucket"}},
		"ApiRole":    {objects: {"s3:DeleteObject"}, bucket: {"s3:ListBucket"}},
	}
	for id, r := range tpl["Resources"].(map[string]any) {
		if r.(map[string]any)["Type"] != "AWS::IAM::Role" {
			continue
		}
		got := map[string][]string{}
		for res, actions := range grants(t, tpl, id) {
			for _, a := range actions {
				if strings.HasPrefix(a, "s3:") {
					got[res] = append(got[res], a)
				}
			}
		}
		for _, a := range got {
			sort.Strings(a)
		}
		if len(got)+len(want[id]) > 0 && canonical(got) != canonical(want[id]) {
			t.Errorf("%s S3 grants %v, want %v", id, got, want[id])
		}
	}
	// The listing is of the copies' prefix only.
	for _, role := range []string{"ApiRole", "WorkerRole"} {
		var listed bool
		for _, pol := range props(t, tpl, role)["Policies"].([]any) {
			walkStatements(pol.(map[string]any)["PolicyDocument"].(map[string]any)["Statement"], func(st map[string]any) {
				if !strings.Contains(canonical(st["Action"]), `"s3:ListBucket"`) {
					return
				}
				listed = true
				if c := canonical(st["Condition"]); c != canonical(map[string]any{"StringLike": map[string]any{"s3:prefix": s3media.Prefix + "*"}}) {
					t.Errorf("%s lists the media bucket under %s; want only s3:prefix %s*", role, c, s3media.Prefix)
				}
			})
		}
		if !listed {
			t.Errorf("%s cannot list a generation's copies", role)
		}
	}
}

// metricNames are the services' embedded-metric-format metrics, each with
// the one dimension Tier.
var metricNames = []metrics.Name{metrics.Created, metrics.Submitted, metrics.Completed, metrics.Failed,
	metrics.Cancelled, metrics.Retried, metrics.QuotaRefusals, metrics.RateLimitWaits, metrics.QueueWait, metrics.SunoTime,
	metrics.NotArchived}

// TestTemplateOperability: the operator's settings reach every function;
// the admin group exists in the created user pool; alarms and dashboard
// read the namespace the functions write to; the saved Logs Insights query
// reads every function's log group.
func TestTemplateOperability(t *testing.T) {
	tpl := template(t)
	env := tpl["Globals"].(map[string]any)["Function"].(map[string]any)["Environment"].(map[string]any)["Variables"].(map[string]any)
	for k, want := range map[string]string{
		"ADMIN_GROUP": `{"Ref":"AdminGroup"}`,
		"LOG_LEVEL":   `{"Ref":"LogLevel"}`,
	} {
		if got := canonical(env[k]); got != want {
			t.Errorf("Globals %s = %s, want %s", k, got, want)
		}
	}
	ns := canonical(env["METRICS_NAMESPACE"])
	if ns != `{"Fn::Sub":"SongQueue/${AWS::StackName}"}` {
		t.Errorf("Globals METRICS_NAMESPACE = %s", ns)
	}

	g := resource(t, tpl, "AdminUserGroup")
	if g["Type"] != "AWS::Cognito::UserPoolGroup" || g["Condition"] != "CreateUserPool" ||
		canonical(props(t, tpl, "AdminUserGroup")["GroupName"]) != `{"Ref":"AdminGroup"}` ||
		canonical(props(t, tpl, "AdminUserGroup")["UserPoolId"]) != `{"Ref":"UserPool"}` {
		t.Errorf("AdminUserGroup = %v", g)
	}

	// Alarms: all to the topic; the services' metrics in their namespace.
	queueWait := map[string]bool{}
	for id, r := range tpl["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] != "AWS::CloudWatch::Alarm" {
			continue
		}
		p := r["Properties"].(map[string]any)
		if canonical(p["AlarmActions"]) != `[{"Ref":"AlarmTopic"}]` {
			t.Errorf("%s AlarmActions = %v", id, p["AlarmActions"])
		}
		var namespaces []any
		if n, ok := p["Namespace"]; ok {
			namespaces = append(namespaces, n)
		}
		ms, _ := p["Metrics"].([]any)
		for _, m := range ms {
			if st, ok := m.(map[string]any)["MetricStat"].(map[string]any); ok {
				namespaces = append(namespaces, st["Metric"].(map[string]any)["Namespace"])
			}
		}
		for _, n := range namespaces {
			if s, ok := n.(string); ok && strings.HasPrefix(s, "AWS/") {
				continue
			}
			if canonical(n) != ns {
				t.Errorf("%s reads namespace %s, the functions write %s", id, canonical(n), ns)
			}
		}
		if p["MetricName"] == "QueueWait" {
			tier := p["Dimensions"].([]any)[0].(map[string]any)["Value"].(string)
			queueWait[tier] = true
			if ref, _ := p["Threshold"].(map[string]any)["Ref"].(string); ref == "" || tpl["Parameters"].(map[string]any)[ref] == nil {
				t.Errorf("%s: threshold should be a parameter, is %v", id, p["Threshold"])
			}
		}
	}
	for _, tier := range generation.Tiers {
		if !queueWait[string(tier)] {
			t.Errorf("no QueueWait alarm for %s", tier)
		}
	}
	if _, ok := props(t, tpl, "FailureRatioAlarm")["Metrics"]; !ok {
		t.Errorf("FailureRatioAlarm is not metric math")
	}

	body, _ := props(t, tpl, "Dashboard")["DashboardBody"].(map[string]any)["Fn::Sub"].([]any)[0].(string)
	for _, m := range metricNames {
		for _, tier := range generation.Tiers {
			if line := fmt.Sprintf(`["SongQueue/${AWS::StackName}", "%s", "Tier", "%s"`, m, tier); !strings.Contains(body, line) {
				t.Errorf("dashboard does not graph %s of %s", m, tier)
			}
		}
	}

	// The saved query reads every function's log group.
	var groups, want []string
	for _, g := range props(t, tpl, "GenerationHistoryQuery")["LogGroupNames"].([]any) {
		groups = append(groups, canonical(g))
	}
	for id, r := range tpl["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] != "AWS::Serverless::Function" {
			continue
		}
		lc, _ := r["Properties"].(map[string]any)["LoggingConfig"].(map[string]any)
		if lc == nil {
			t.Errorf("%s has no LoggingConfig", id)
			continue
		}
		want = append(want, canonical(lc["LogGroup"]))
	}
	sort.Strings(groups)
	sort.Strings(want)
	if !slices.Equal(groups, want) {
		t.Errorf("GenerationHistoryQuery reads %v, the functions log to %v", groups, want)
	}
	if q, _ := props(t, tpl, "GenerationHistoryQuery")["QueryString"].(string); !strings.Contains(q, "filter generationId") || !strings.Contains(q, "sort @timestamp asc") {
		t.Errorf("GenerationHistoryQuery = %q", q)
	}
}

// TestTemplateCORSIsTheLocalStacks: the HTTP API's CorsConfiguration is
// internal/cors.Default, which the local stack answers with, so a frontend
// on another origin meets the same rules against make dev as in AWS.
func TestTemplateCORSIsTheLocalStacks(t *testing.T) {
	tpl := template(t)
	c := props(t, tpl, "HttpApi")["CorsConfiguration"].(map[string]any)
	params := tpl["Parameters"].(map[string]any)["CorsAllowOrigins"].(map[string]any)
	want := cors.Default(cors.ParseOrigins(params["Default"].(string)))
	for field, w := range map[string]any{
		"AllowHeaders": want.AllowHeaders, "AllowMethods": want.AllowMethods,
		"ExposeHeaders": want.ExposeHeaders, "MaxAge": int(want.MaxAge / time.Second),
	} {
		if got := canonical(c[field]); got != canonical(w) {
			t.Errorf("HttpApi CorsConfiguration.%s = %s, local stack %s", field, got, canonical(w))
		}
	}
	if canonical(c["AllowOrigins"]) != `{"Ref":"CorsAllowOrigins"}` || canonical(want.AllowOrigins) != `["*"]` {
		t.Errorf("AllowOrigins = %s (parameter default %v), want CorsAllowOrigins defaulting to *, as CORS_ALLOW_ORIGINS", canonical(c["AllowOrigins"]), params["Default"])
	}
	if c["AllowCredentials"] == true {
		t.Errorf("credentials allowed; tokens travel in the Authorization header")
	}
}
