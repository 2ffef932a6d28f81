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
