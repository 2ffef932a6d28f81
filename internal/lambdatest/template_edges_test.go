package lambdatest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/songqueue/songqueue/internal/media"
)

// TestTemplateMediaCacheLifetime: the edge keeps a song's copy no longer
// than browsers may (media.CacheControl, an hour), so a deleted song is
// gone from every cache of ours within that time without an invalidation;
// and browsers are told media.CacheControl whatever the object's metadata
// says (copies uploaded before say immutable for a year).
func TestTemplateMediaCacheLifetime(t *testing.T) {
	tpl := template(t)
	cp := props(t, tpl, "MediaCachePolicy")["CachePolicyConfig"].(map[string]any)
	if num(cp["MinTTL"]) != 0 || num(cp["DefaultTTL"]) <= 0 || num(cp["DefaultTTL"]) > media.CacheMaxAge || num(cp["MaxTTL"]) > media.CacheMaxAge {
		t.Errorf("MediaCachePolicy TTLs min %v, default %v, max %v; want 0 and at most media.CacheMaxAge (%d s)", cp["MinTTL"], cp["DefaultTTL"], cp["MaxTTL"], media.CacheMaxAge)
	}
	rh := props(t, tpl, "MediaResponseHeadersPolicy")["ResponseHeadersPolicyConfig"].(map[string]any)
	var cacheControl any
	var override bool
	if custom, ok := rh["CustomHeadersConfig"].(map[string]any); ok {
		for _, h := range custom["Items"].([]any) {
			if h := h.(map[string]any); strings.EqualFold(h["Header"].(string), "Cache-Control") {
				cacheControl, override = h["Value"], h["Override"] == true
			}
		}
	}
	if cacheControl != media.CacheControl || !override {
		t.Errorf("MediaResponseHeadersPolicy sets Cache-Control %v (override %v); want %q, overriding the objects' metadata", cacheControl, override, media.CacheControl)
	}
}

// TestTemplateCognitoMFAAndVerifiedEmail: the user pool the stack creates
// offers TOTP MFA (optional for users, enrolled by every operator), never
// SMS, and changes a user's email only once the new address is verified.
func TestTemplateCognitoMFAAndVerifiedEmail(t *testing.T) {
	tpl := template(t)
	if c := resource(t, tpl, "UserPool")["Condition"]; c != "CreateUserPool" {
		t.Fatalf("UserPool condition %v", c)
	}
	p := props(t, tpl, "UserPool")
	toStrings := func(v any) []string {
		if _, ok := v.([]any); !ok {
			return nil
		}
		return toStrings(v)
	}
	if m := p["MfaConfiguration"]; m != "OPTIONAL" && m != "ON" {
		t.Errorf("UserPool MfaConfiguration = %v; want OPTIONAL or ON", m)
	}
	if mfas := toStrings(p["EnabledMfas"]); !slices.Contains(mfas, "SOFTWARE_TOKEN_MFA") || slices.Contains(mfas, "SMS_MFA") {
		t.Errorf("UserPool EnabledMfas = %v; want SOFTWARE_TOKEN_MFA (TOTP), not SMS", mfas)
	}
	// Cognito accepts the verification setting only for an attribute it
	// verifies itself.
	if !slices.Contains(toStrings(p["AutoVerifiedAttributes"]), "email") {
		t.Errorf("UserPool AutoVerifiedAttributes = %v; want email", p["AutoVerifiedAttributes"])
	}
	u, _ := p["UserAttributeUpdateSettings"].(map[string]any)
	if !slices.Contains(toStrings(u["AttributesRequireVerificationBeforeUpdate"]), "email") {
		t.Errorf("UserPool UserAttributeUpdateSettings = %v; want email verified before it changes", p["UserAttributeUpdateSettings"])
	}
	// The app client cannot write the tier, so a user cannot raise their own.
	if w := toStrings(props(t, tpl, "UserPoolClient")["WriteAttributes"]); slices.Contains(w, "custom:tier") {
		t.Errorf("UserPoolClient WriteAttributes = %v; the tier is the administrators' to set", w)
	}
}

// TestThreatModelMatchesTemplate: docs/threat-model.md states the
// template's stage throttles and the copies' cache lifetime as they are,
// so a change to either changes the page too.
func TestThreatModelMatchesTemplate(t *testing.T) {
	tpl := template(t)
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "threat-model.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	throttle := func(id string) string {
		s := props(t, tpl, id)["DefaultRouteSettings"].(map[string]any)
		return fmt.Sprintf("%d per second, bursts of %d", num(s["ThrottlingRateLimit"]), num(s["ThrottlingBurstLimit"]))
	}
	for id, what := range map[string]string{"HttpApi": "HTTP API requests", "WebSocketStage": "WebSocket messages"} {
		want := throttle(id)
		line := ""
		for _, l := range strings.Split(doc, "\n") {
			if strings.HasPrefix(l, "| "+what) {
				line = l
			}
		}
		if !strings.Contains(line, want) {
			t.Errorf("docs/threat-model.md: the %q row is %q; want it to say %q, as %s's throttle is", what, line, want, id)
		}
	}
	if !strings.Contains(doc, "Cache-Control: "+media.CacheControl) || !strings.Contains(doc, "`MaxTTL` "+strconv.Itoa(media.CacheMaxAge)) {
		t.Errorf("docs/threat-model.md does not state the copies' Cache-Control %q and MaxTTL %d", media.CacheControl, media.CacheMaxAge)
	}
}
