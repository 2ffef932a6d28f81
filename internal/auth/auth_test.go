package auth

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/songqueue/songqueue/internal/generation"
)

func TestHS256RoundTripCarriesUserAndTier(t *testing.T) {
	h := HS256{Secret: []byte("s3cret")}
	tok, err := h.Mint("alice", generation.Premium, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID != "alice" || c.Tier != generation.Premium {
		t.Fatalf("got %+v", c)
	}
}

func TestHS256RefusesBadTokens(t *testing.T) {
	h := HS256{Secret: []byte("s3cret")}
	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	exp := time.Now().Add(time.Hour).Unix()
	cases := map[string]string{
		"empty":           "",
		"garbage":         "not.a.jwt",
		"wrong secret":    sign(jwt.SigningMethodHS256, []byte("other"), jwt.MapClaims{"sub": "a", "exp": exp}),
		"expired":         sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"sub": "a", "exp": time.Now().Add(-time.Hour).Unix()}),
		"no expiry":       sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"sub": "a"}),
		"no subject":      sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"exp": exp}),
		"unknown tier":    sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"sub": "a", "exp": exp, "tier": "PLATINUM"}),
		"tier not text":   sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"sub": "a", "exp": exp, "tier": 1}),
		"alg none":        sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "a", "exp": exp}),
		"HS384 not HS256": sign(jwt.SigningMethodHS384, []byte("s3cret"), jwt.MapClaims{"sub": "a", "exp": exp}),
	}
	for name, tok := range cases {
		if _, err := h.Verify(context.Background(), tok); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: err = %v, want ErrUnauthenticated", name, err)
		}
	}
}

func TestMissingTierIsFree(t *testing.T) {
	c, err := CallerFromClaims(map[string]any{"sub": "bob"}, "")
	if err != nil || c.Tier != generation.Free {
		t.Fatalf("got %+v, %v; want FREE", c, err)
	}
}

// cognitoIss is the iss of a Cognito user pool's tokens, which API
// Gateway's JWT authorizer hands over among the claims.
const cognitoIss = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf"

func TestGroupsFromEveryForm(t *testing.T) {
	for name, claims := range map[string]map[string]any{
		"token array":                 {"sub": "u", "groups": []any{"ops", "admin"}},
		"token array of strings":      {"sub": "u", "groups": []string{"Billing admin", "admin"}},
		"cognito array":               {"sub": "u", "cognito:groups": []any{"admin"}},
		"api gateway text of cognito": {"sub": "u", "iss": cognitoIss, "cognito:groups": "[ops admin]"},
		"api gateway text, china":     {"sub": "u", "iss": "https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_X", "cognito:groups": "[admin readers]"},
		"api gateway text, one group": {"sub": "u", "groups": "[admin]"},
		"one group, cognito":          {"sub": "u", "iss": cognitoIss, "cognito:groups": "[admin]"},
		"json text":                   {"sub": "u", "groups": `["Billing admin","admin"]`},
		"json text of one":            {"sub": "u", "groups": `["admin"]`},
		"a single name":               {"sub": "u", "groups": "admin"},
		"minted by the dev tool":      mintedClaims(t, "admin"),
	} {
		c, err := CallerFromClaims(claims, "")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !c.InGroup("admin") || c.InGroup("root") || c.InGroup("") {
			t.Errorf("%s: groups %q, want admin among them and nothing else matching", name, c.Groups)
		}
	}
	c, err := CallerFromClaims(map[string]any{"sub": "u", "groups": "[]", "cognito:groups": 7}, "")
	if err != nil || len(c.Groups) != 0 {
		t.Errorf("no usable groups gave %q, %v; want none", c.Groups, err)
	}
}

// TestGroupNamesAreNeverSplit: membership is read as whole names. A name
// that merely contains the operator group's, between spaces or commas, is
// not membership; and API Gateway's text of an array claim ("[a b]", its
// elements joined by spaces) is split only where names cannot hold a space
// (Cognito's cognito:groups); elsewhere "[Billing admin]" may be one group,
// so it makes the caller a member of nothing.
func TestGroupNamesAreNeverSplit(t *testing.T) {
	for name, claims := range map[string]map[string]any{
		"authorizer text of one name with a space": {"sub": "u", "iss": "https://idp.example.com/", "groups": "[Billing admin]"},
		"the same without an issuer":               {"sub": "u", "groups": "[Billing admin]"},
		"in cognito:groups from another issuer":    {"sub": "u", "iss": "https://idp.example.com/", "cognito:groups": "[Billing admin]"},
		"a look-alike cognito issuer":              {"sub": "u", "iss": "https://cognito-idp.eu-west-1.amazonaws.com.evil.example/x", "cognito:groups": "[Billing admin]"},
		"a comma inside a name":                    {"sub": "u", "groups": "[not,admin]"},
		"a comma inside a cognito name":            {"sub": "u", "iss": cognitoIss, "cognito:groups": "[not,admin]"},
		"a plain string with a comma":              {"sub": "u", "groups": "not,admin"},
		"a plain string with a space":              {"sub": "u", "groups": "Billing admin"},
		"json text of one name with a space":       {"sub": "u", "groups": `["Billing admin"]`},
		"json text with a comma":                   {"sub": "u", "groups": `["not,admin"]`},
		"token array":                              {"sub": "u", "groups": []any{"Billing admin", "not,admin", " admin"}},
		"cognito text of a quoted name":            {"sub": "u", "iss": cognitoIss, "cognito:groups": `["admin"]`},
		"brackets inside":                          {"sub": "u", "groups": "[[admin]]"},
		"admin with other case":                    {"sub": "u", "groups": "[Admin]"},
	} {
		c, err := CallerFromClaims(claims, "")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.InGroup("admin") {
			t.Errorf("%s (%v): groups %q make the caller an operator", name, claims, c.Groups)
		}
	}
	// Whole names, exactly as the token has them.
	c, err := CallerFromClaims(map[string]any{"sub": "u", "groups": `["Billing admin","ops"]`}, "")
	if err != nil || !c.InGroup("Billing admin") || !c.InGroup("ops") || len(c.Groups) != 2 {
		t.Errorf("JSON text gave %q, %v; want [Billing admin ops]", c.Groups, err)
	}
	c, err = CallerFromClaims(map[string]any{"sub": "u", "iss": cognitoIss, "cognito:groups": "[eu-west-1_AbCdEf_Google ops admin]"}, "")
	if err != nil || !slices.Equal(c.Groups, []string{"eu-west-1_AbCdEf_Google", "ops", "admin"}) {
		t.Errorf("Cognito text gave %q, %v", c.Groups, err)
	}
}

// mintedClaims are the verified claims of a development token in groups.
func mintedClaims(t *testing.T, groups ...string) map[string]any {
	t.Helper()
	h := HS256{Secret: []byte("test-secret")}
	tok, err := h.Mint("u", generation.Free, time.Minute, groups...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{"sub": c.UserID}
	g := make([]any, len(c.Groups))
	for i, x := range c.Groups {
		g[i] = x
	}
	out["groups"] = g
	return out
}
