package auth

import (
	"context"
	"errors"
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

func TestGroupsFromEveryForm(t *testing.T) {
	for name, claims := range map[string]map[string]any{
		"token array":            {"sub": "u", "groups": []any{"ops", "admin"}},
		"cognito array":          {"sub": "u", "cognito:groups": []any{"admin"}},
		"api gateway text":       {"sub": "u", "cognito:groups": "[ops admin]"},
		"comma separated":        {"sub": "u", "groups": "ops,admin"},
		"minted by the dev tool": mintedClaims(t, "admin"),
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
