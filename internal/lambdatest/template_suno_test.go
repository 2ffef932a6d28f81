package lambdatest

import (
	"slices"
	"strings"
	"testing"

	"github.com/songqueue/songqueue/internal/app"
)

// sunoKeyVars are the variables that say where the Suno keys are: for each,
// the parameter the template sets it from, and the grant a function needs
// to read what it names.
var sunoKeyVars = map[string]struct {
	param    string
	value    any // the variable's value in the template
	action   string
	resource any
}{
	"SUNO_API_KEY_SECRET_ARN": {"SunoApiKeySecretArn", map[string]any{"Ref": "SunoApiKeySecretArn"},
		"secretsmanager:GetSecretValue", map[string]any{"Ref": "SunoApiKeySecretArn"}},
	"SUNO_API_KEY_PARAMETER": {"SunoApiKeyParameterName", map[string]any{"Ref": "SunoApiKeyParameterName"},
		"ssm:GetParameter", map[string]any{"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SunoApiKeyParameterName}"}},
	"SUNO_API_KEY_SECRET_ARNS": {"SunoApiKeySecretArns", map[string]any{"Fn::Join": []any{",", map[string]any{"Ref": "SunoApiKeySecretArns"}}},
		"secretsmanager:GetSecretValue", map[string]any{"Ref": "SunoApiKeySecretArns"}},
	"SUNO_API_KEYS_SECRET_ARN": {"SunoApiKeysSecretArn", map[string]any{"Ref": "SunoApiKeysSecretArn"},
		"secretsmanager:GetSecretValue", map[string]any{"Ref": "SunoApiKeysSecretArn"}},
}

// conditionalGrant is an Allow statement's action on a resource, and the
// condition of the Fn::If it is in ("" when none).
type conditionalGrant struct{ action, resource, condition string }

func roleGrants(t *testing.T, tpl map[string]any, role string) []conditionalGrant {
	t.Helper()
	var out []conditionalGrant
	var walk func(v any, cond string)
	walk = func(v any, cond string) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e, cond)
			}
		case map[string]any:
			if alts, ok := x["Fn::If"].([]any); ok && len(alts) == 3 {
				walk(alts[1], alts[0].(string))
				walk(alts[2], "!"+alts[0].(string))
				return
			}
			if x["Effect"] != "Allow" {
				return
			}
			actions, ok := x["Action"].([]any)
			if !ok {
				actions = []any{x["Action"]}
			}
			for _, a := range actions {
				out = append(out, conditionalGrant{a.(string), canonical(x["Resource"]), cond})
			}
		}
	}
	for _, pol := range props(t, tpl, role)["Policies"].([]any) {
		walk(pol.(map[string]any)["PolicyDocument"].(map[string]any)["Statement"], "")
	}
	return out
}

// functionEnv is a function's environment: Globals', then its own.
func functionEnv(tpl map[string]any, fn map[string]any) map[string]any {
	out := map[string]any{}
	g, _ := tpl["Globals"].(map[string]any)["Function"].(map[string]any)["Environment"].(map[string]any)["Variables"].(map[string]any)
	for k, v := range g {
		out[k] = v
	}
	if e, ok := fn["Properties"].(map[string]any)["Environment"].(map[string]any); ok {
		for k, v := range e["Variables"].(map[string]any) {
			out[k] = v
		}
	}
	return out
}

// evalParam evaluates Ref and Fn::Join over params.
func evalParam(t *testing.T, v any, params map[string]any) any {
	t.Helper()
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if p, ok := x["Ref"].(string); ok {
			return params[p]
		}
		if j, ok := x["Fn::Join"].([]any); ok {
			return strings.Join(evalParam(t, j[1], params).([]string), j[0].(string))
		}
	}
	t.Fatalf("cannot evaluate %s", canonical(v))
	return nil
}

// TestTemplateSunoKeys: every function that calls Suno (given
// SUNO_BASE_URL) is told of every way the keys may be given, one account
// or several, and may read exactly what it is told of; each grant exists
// only when its parameter is set (IAM refuses an empty resource). The API
// and WebSocket functions count the accounts (the operators' view, places
// in line): they are given the list of secrets to count them, without the
// right to read them, and may read the one secret holding a JSON list
// (which must be read to be counted). No role may read a Suno secret its
// function is not told of. And the code
// reads what the template sets, refusing the one account's secret beside
// a list, as the template's rule does at deploy time.
func TestTemplateSunoKeys(t *testing.T) {
	tpl := template(t)
	conditions := tpl["Conditions"].(map[string]any)
	// nonEmpty is the condition of a grant on param: true exactly when
	// the parameter is set.
	nonEmpty := func(cond, param string) bool {
		ref := map[string]any{"Ref": param}
		if tpl["Parameters"].(map[string]any)[param].(map[string]any)["Type"] == "CommaDelimitedList" {
			return canonical(conditions[cond]) == canonical(map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Fn::Join": []any{"", ref}}, ""}}}})
		}
		return canonical(conditions[cond]) == canonical(map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{ref, ""}}}})
	}

	// The functions that know the accounts without calling Suno: the API
	// (the operators' view) and the WebSocket function (sync); both
	// estimate places in line at the accounts' combined rate.
	countsAccounts := map[string]bool{"ApiFunction": true, "WebSocketFunction": true}
	callers := 0
	for id, r := range tpl["Resources"].(map[string]any) {
		fn := r.(map[string]any)
		if fn["Type"] != "AWS::Serverless::Function" {
			continue
		}
		role := fn["Properties"].(map[string]any)["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
		vars := functionEnv(tpl, fn)
		_, callsSuno := vars["SUNO_BASE_URL"]
		if callsSuno {
			callers++
		}
		grants := roleGrants(t, tpl, role)
		for name, k := range sunoKeyVars {
			v, given := vars[name]
			// Which variables the function must have, and which it
			// must be able to read.
			mustHave := callsSuno || (countsAccounts[id] && (name == "SUNO_API_KEY_SECRET_ARNS" || name == "SUNO_API_KEYS_SECRET_ARN"))
			reads := given && (callsSuno || name == "SUNO_API_KEYS_SECRET_ARN")
			if mustHave && !given {
				t.Errorf("%s is not given %s", id, name)
			}
			if given && canonical(v) != canonical(k.value) {
				t.Errorf("%s: %s = %s, want %s", id, name, canonical(v), canonical(k.value))
			}
			var found []conditionalGrant
			for _, g := range grants {
				if g.resource == canonical(k.resource) {
					found = append(found, g)
				}
			}
			switch {
			case reads && len(found) != 1:
				t.Errorf("%s reads %s, but %s has %d grants on %s: %v", id, name, role, len(found), canonical(k.resource), found)
			case reads && (found[0].action != k.action || !nonEmpty(found[0].condition, k.param)):
				t.Errorf("%s: %s grants %s on %s under condition %q; want %s only when %s is set", id, role, found[0].action, canonical(k.resource), found[0].condition, k.action, k.param)
			case !reads && len(found) != 0:
				t.Errorf("%s does not read %s, but %s may: %v", id, name, role, found)
			}
		}
	}
	if callers != 3 {
		t.Errorf("%d functions call Suno (SUNO_BASE_URL); want the callback, the worker and the sweeper", callers)
	}

	// The code reads what the template sets: the worker's variables with
	// these parameters name two secrets and a list.
	params := map[string]any{
		"SunoApiKeySecretArn": "", "SunoApiKeyParameterName": "",
		"SunoApiKeySecretArns": []string{"arn:aws:secretsmanager:eu-west-1:1:secret:a", "arn:aws:secretsmanager:eu-west-1:1:secret:b"},
		"SunoApiKeysSecretArn": "arn:aws:secretsmanager:eu-west-1:1:secret:list",
	}
	vars := functionEnv(tpl, resource(t, tpl, "WorkerFunction"))
	getenv := func(k string) string {
		if _, ok := sunoKeyVars[k]; ok {
			return evalParam(t, vars[k], params).(string)
		}
		return ""
	}
	cfg, err := app.FromEnv(getenv)
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, r := range cfg.SunoKeys {
		arns = append(arns, r.SecretARN)
	}
	if !slices.Equal(arns, params["SunoApiKeySecretArns"].([]string)) || cfg.SunoKeysSecret.SecretARN != params["SunoApiKeysSecretArn"] {
		t.Errorf("from the template's variables the code reads secrets %v and the list %q", arns, cfg.SunoKeysSecret.SecretARN)
	}
	// The one account's secret beside the list: the code refuses it, and
	// the template's rule refuses the deploy.
	params["SunoApiKeySecretArn"] = "arn:aws:secretsmanager:eu-west-1:1:secret:one"
	if _, err := app.FromEnv(getenv); err == nil {
		t.Error("the code takes the one account's secret beside a list")
	}
	rule := canonical(tpl["Rules"].(map[string]any)["OneSunoAccountOrSeveral"])
	for _, p := range []string{"SunoApiKeySecretArn", "SunoApiKeyParameterName", "SunoApiKeySecretArns", "SunoApiKeysSecretArn"} {
		if !strings.Contains(rule, `{"Ref":"`+p+`"}`) {
			t.Errorf("the rule OneSunoAccountOrSeveral does not look at %s: %s", p, rule)
		}
	}
}
