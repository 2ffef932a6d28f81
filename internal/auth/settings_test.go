package auth

import (
	"slices"
	"testing"
)

func TestSettingsVerifier(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	verifier := func(m map[string]string) (Verifier, Settings, error) {
		s, err := SettingsFromEnv(env(m))
		if err != nil {
			return nil, s, err
		}
		v, err := s.Verifier(nil)
		return v, s, err
	}
	v, s, err := verifier(map[string]string{"JWT_ISSUER": "https://issuer.example", "JWT_AUDIENCE": "a, b,", "DEV_JWT_SECRET": "ignored"})
	if _, ok := v.(*JWKS); err != nil || !ok || !slices.Equal(s.Audiences, []string{"a", "b"}) {
		t.Fatalf("issuer: %T %v %+v", v, err, s)
	}
	v, _, err = verifier(map[string]string{"DEV_JWT_SECRET": "dev", "TIER_CLAIM": "t"})
	if h, ok := v.(HS256); err != nil || !ok || h.TierClaim != "t" {
		t.Fatalf("secret: %T %v", v, err)
	}
	if _, _, err := verifier(nil); err == nil {
		t.Fatal("no configuration accepted")
	}
	if _, _, err := verifier(map[string]string{"JWT_ISSUER": "https://issuer.example", "JWT_AUDIENCE": " , "}); err == nil {
		t.Fatal("an issuer without audiences accepted: any of its tokens would pass")
	}
}
