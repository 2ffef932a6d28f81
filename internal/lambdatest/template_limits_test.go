package lambdatest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/dynamo"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/lambdaapp"
	"github.com/songqueue/songqueue/internal/memory"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/throttle"
)

// paramDefaults are the template's parameters' defaults, as environment
// values.
func paramDefaults(tpl map[string]any) map[string]any {
	out := map[string]any{}
	for name, p := range tpl["Parameters"].(map[string]any) {
		if d, ok := p.(map[string]any)["Default"]; ok {
			out[name] = fmt.Sprint(d)
		}
	}
	return out
}

// requestsOf is the configuration's limits per caller of a function as the
// template sets its environment, its parameters at their defaults.
func requestsOf(t *testing.T, tpl map[string]any, fn string) app.RequestLimits {
	t.Helper()
	params := paramDefaults(tpl)
	vars := map[string]string{}
	for k, v := range functionEnv(tpl, resource(t, tpl, fn)) {
		if m, ok := v.(map[string]any); ok && m["Ref"] != nil {
			if s, ok := evalParam(t, v, params).(string); ok {
				vars[k] = s
			}
		}
	}
	cfg, err := app.FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("%s's environment: %v", fn, err)
	}
	return cfg.Requests
}

// TestTemplateLimitsPerCaller: the limits per caller (DESIGN.md section 16)
// reach the functions that apply them, under the variables the code
// reads, with the code's defaults; the callback route has its own
// throttle, wider than one address's bucket and narrower than the stage's;
// one user's and one address's limits are below the stage's throttle; and
// the WebSocket function may write the connections' message buckets and no
// other item.
func TestTemplateLimitsPerCaller(t *testing.T) {
	tpl := template(t)
	def := app.DefaultRequestLimits()
	if got := requestsOf(t, tpl, "ApiFunction"); got.User != def.User || got.IP != def.IP {
		t.Errorf("the API function's limits at the parameters' defaults: user %v, address %v; want the code's %v, %v", got.User, got.IP, def.User, def.IP)
	}
	if got := requestsOf(t, tpl, "CallbackFunction"); got.Callback != def.Callback {
		t.Errorf("the callback function's limit at the parameters' defaults: %v; want the code's %v", got.Callback, def.Callback)
	}

	params := paramDefaults(tpl)
	number := func(v any) float64 {
		if f, ok := v.(float64); ok {
			return f
		}
		var f float64
		if _, err := fmt.Sscan(fmt.Sprint(evalParam(t, v, params)), &f); err != nil {
			t.Fatalf("%s is not a number: %v", canonical(v), err)
		}
		return f
	}
	stage := props(t, tpl, "HttpApi")["DefaultRouteSettings"].(map[string]any)
	stageRate := number(stage["ThrottlingRateLimit"])
	route := resource(t, tpl, "CallbackFunction")["Properties"].(map[string]any)["Events"].(map[string]any)["Callback"].(map[string]any)["Properties"].(map[string]any)
	rs, _ := route["RouteSettings"].(map[string]any)
	if rs["ThrottlingRateLimit"] == nil || rs["ThrottlingBurstLimit"] == nil {
		t.Fatalf("the callback route has no throttle of its own: %v", route)
	}
	if r := number(rs["ThrottlingRateLimit"]); r >= stageRate || r <= def.Callback.Rate {
		t.Errorf("the callback route's throttle %v a second: want below the stage's %v and above one address's %v, so one address cannot take it all", r, stageRate, def.Callback.Rate)
	}
	if def.User.Rate >= stageRate || def.IP.Rate >= stageRate {
		t.Errorf("one user (%v a second) or one address (%v) could take the stage's %v a second", def.User.Rate, def.IP.Rate, stageRate)
	}

	// The WebSocket function: UpdateItem of bucket items only, and the
	// items the message limit writes are among them.
	var allowed []string
	for _, g := range roleGrants(t, tpl, "WebSocketRole") {
		if g.action == "dynamodb:UpdateItem" && g.resource != canonical(map[string]any{"Fn::GetAtt": []any{"GenerationsTable", "Arn"}}) {
			t.Errorf("WebSocketRole may UpdateItem on %s", g.resource)
		}
	}
	walkStatements(props(t, tpl, "WebSocketRole")["Policies"].([]any)[0].(map[string]any)["PolicyDocument"].(map[string]any)["Statement"], func(st map[string]any) {
		if !strings.Contains(canonical(st["Action"]), "dynamodb:UpdateItem") {
			return
		}
		cond, _ := st["Condition"].(map[string]any)["ForAllValues:StringLike"].(map[string]any)
		keys, _ := cond["dynamodb:LeadingKeys"].([]any)
		if len(keys) == 0 {
			t.Errorf("WebSocketRole may UpdateItem any item of the generations table: %s", canonical(st))
		}
		for _, k := range keys {
			allowed = append(allowed, k.(string))
		}
	})
	rec := &recordingBuckets{}
	store := memory.NewStore()
	rt, err := service.NewRealtime(service.RealtimePorts{Store: store, Connections: store, Notifier: memory.NewHub(), Messages: rec}, service.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.HandleMessage(context.Background(), identity.Caller{UserID: "u", Tier: generation.Free}, "L0SM9cO/vHcCIhw=", []byte(`{"action":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	if len(rec.keys) != 1 {
		t.Fatalf("a message took %d buckets", len(rec.keys))
	}
	item := dynamo.BucketKey(rec.keys[0])
	ok := false
	for _, pattern := range allowed {
		prefix, wild := strings.CutSuffix(pattern, "*")
		ok = ok || (wild && strings.HasPrefix(item, prefix) && !strings.Contains(prefix, "*")) || item == pattern
	}
	if !ok {
		t.Errorf("the message limit writes item %q; WebSocketRole may write only %v", item, allowed)
	}
}

type recordingBuckets struct{ keys []string }

func (r *recordingBuckets) Take(_ context.Context, key string, _ throttle.Limit) (throttle.Decision, error) {
	r.keys = append(r.keys, key)
	return throttle.Decision{OK: true}, nil
}

// TestTemplateCallbackRouteThrottle: after the SAM transform the callback
// route's throttle is the HTTP API stage's route setting for that route.
func TestTemplateCallbackRouteThrottle(t *testing.T) {
	tpl := transformedTemplate(t)
	found := false
	for id, r := range tpl["Resources"].(map[string]any) {
		r := r.(map[string]any)
		p, _ := r["Properties"].(map[string]any)
		if r["Type"] != "AWS::ApiGatewayV2::Stage" || canonical(p["ApiId"]) != `{"Ref":"HttpApi"}` {
			continue
		}
		found = true
		rs, _ := p["RouteSettings"].(map[string]any)["POST "+lambdaapp.CallbackPath].(map[string]any)
		if canonical(rs) != canonical(map[string]any{"ThrottlingRateLimit": map[string]any{"Ref": "CallbackThrottleRate"}, "ThrottlingBurstLimit": map[string]any{"Ref": "CallbackThrottleBurst"}}) {
			t.Errorf("%s's route settings for POST %s: %s", id, lambdaapp.CallbackPath, canonical(p["RouteSettings"]))
		}
	}
	if !found {
		t.Fatal("no stage of HttpApi after the transform")
	}
}
