package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/songqueue/songqueue/internal/generation"
)

// issuer is an OIDC issuer on loopback: discovery document and JWKS, with
// keys that the test can rotate, and a count of the requests it answered.
type issuer struct {
	srv      *httptest.Server
	mu       sync.Mutex
	keys     map[string]*rsa.PrivateKey // published
	requests atomic.Int64
	fail     atomic.Bool
}

var (
	keyOnce sync.Once
	keyPool []*rsa.PrivateKey
)

// testKeys returns n RSA keys, generated once per test binary.
func testKeys(t *testing.T, n int) []*rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		for range 3 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keyPool = append(keyPool, k)
		}
	})
	return keyPool[:n]
}

func newIssuer(t *testing.T, keys map[string]*rsa.PrivateKey) *issuer {
	is := &issuer{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		is.requests.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		is.requests.Add(1)
		if is.fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		is.mu.Lock()
		defer is.mu.Unlock()
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		// An EC key and a weak RSA key are skipped, not fatal.
		set.Keys = append(set.Keys, map[string]string{"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"})
		set.Keys = append(set.Keys, map[string]string{"kty": "RSA", "kid": "weak", "n": "AQAB", "e": "AQAB"})
		for kid, k := range is.keys {
			set.Keys = append(set.Keys, map[string]string{
				"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
			})
		}
		_ = json.NewEncoder(w).Encode(set)
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) publish(keys map[string]*rsa.PrivateKey) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = keys
}

func sign(t *testing.T, k *rsa.PrivateKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func goodClaims(iss string) jwt.MapClaims { return goodClaimsAt(iss, time.Now()) }

func goodClaimsAt(iss string, now time.Time) jwt.MapClaims {
	return jwt.MapClaims{"iss": iss, "sub": "user-1", "aud": "client-a", "tier": "PREMIUM", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

func TestJWKSVerifiesThroughDiscovery(t *testing.T) {
	ks := testKeys(t, 1)
	is := newIssuer(t, map[string]*rsa.PrivateKey{"k1": ks[0]})
	v, err := NewJWKS(JWKSConfig{Issuer: is.srv.URL, Audiences: []string{"client-a"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(context.Background(), sign(t, ks[0], "k1", goodClaims(is.srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID != "user-1" || c.Tier != generation.Premium {
		t.Fatalf("caller = %+v", c)
	}
	// The keys are cached: more tokens cost no request.
	before := is.requests.Load()
	for range 5 {
		if _, err := v.Verify(context.Background(), sign(t, ks[0], "k1", goodClaims(is.srv.URL))); err != nil {
			t.Fatal(err)
		}
	}
	if got := is.requests.Load(); got != before || before != 2 {
		t.Fatalf("requests = %d then %d, want discovery + keys once (2)", before, got)
	}
}

func TestJWKSRefusesBadTokens(t *testing.T) {
	ks := testKeys(t, 2)
	is := newIssuer(t, map[string]*rsa.PrivateKey{"k1": ks[0]})
	v, err := NewJWKS(JWKSConfig{Issuer: is.srv.URL, URL: is.srv.URL + "/keys", Audiences: []string{"client-a"}})
	if err != nil {
		t.Fatal(err)
	}
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := goodClaims(is.srv.URL)
		change(c)
		return c
	}
	pub := modulusBytes(t, ks[0])
	cases := map[string]string{
		"garbage":         "a.b.c",
		"other key":       sign(t, ks[1], "k1", goodClaims(is.srv.URL)),
		"unknown kid":     sign(t, ks[1], "k9", goodClaims(is.srv.URL)),
		"other issuer":    sign(t, ks[0], "k1", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })),
		"other audience":  sign(t, ks[0], "k1", with(func(c jwt.MapClaims) { c["aud"] = "client-b" })),
		"no audience":     sign(t, ks[0], "k1", with(func(c jwt.MapClaims) { delete(c, "aud") })),
		"expired":         sign(t, ks[0], "k1", with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() })),
		"no expiry":       sign(t, ks[0], "k1", with(func(c jwt.MapClaims) { delete(c, "exp") })),
		"issued later":    sign(t, ks[0], "k1", with(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(time.Hour).Unix() })),
		"not yet valid":   sign(t, ks[0], "k1", with(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() })),
		"no subject":      sign(t, ks[0], "k1", with(func(c jwt.MapClaims) { delete(c, "sub") })),
		"unknown tier":    sign(t, ks[0], "k1", with(func(c jwt.MapClaims) { c["tier"] = "GOLD" })),
		"HS256 with pub":  hs256(t, pub, goodClaims(is.srv.URL)),
		"alg none":        none(t, goodClaims(is.srv.URL)),
		"RS512 not RS256": rs512(t, ks[0], goodClaims(is.srv.URL)),
	}
	for name, tok := range cases {
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: err = %v, want ErrUnauthenticated", name, err)
		}
	}
}

// modulusBytes is public material an attacker has, used as an HMAC secret
// in the algorithm-confusion attack.
func modulusBytes(t *testing.T, k *rsa.PrivateKey) []byte {
	t.Helper()
	return k.N.Bytes()
}

func hs256(t *testing.T, secret []byte, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func none(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, c)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func rs512(t *testing.T, k *rsa.PrivateKey, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS512, c)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWKSAcceptsCognitoAccessTokenClientID(t *testing.T) {
	ks := testKeys(t, 1)
	is := newIssuer(t, map[string]*rsa.PrivateKey{"k1": ks[0]})
	v, _ := NewJWKS(JWKSConfig{Issuer: is.srv.URL, URL: is.srv.URL + "/keys", Audiences: []string{"client-a"}, TierClaim: "custom:tier"})
	c := goodClaims(is.srv.URL)
	delete(c, "aud")
	delete(c, "tier")
	c["client_id"] = "client-a"
	c["custom:tier"] = "ENTERPRISE"
	got, err := v.Verify(context.Background(), sign(t, ks[0], "k1", c))
	if err != nil {
		t.Fatal(err)
	}
	if got.Tier != generation.Enterprise {
		t.Fatalf("tier = %s", got.Tier)
	}
}

func TestJWKSRefreshesOnUnknownKidAndRateLimits(t *testing.T) {
	ks := testKeys(t, 2)
	is := newIssuer(t, map[string]*rsa.PrivateKey{"k1": ks[0]})
	now := time.Now()
	clock := func() time.Time { return now }
	v, _ := NewJWKS(JWKSConfig{Issuer: is.srv.URL, URL: is.srv.URL + "/keys", Now: clock, RefreshInterval: time.Minute})
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, ks[0], "k1", goodClaims(is.srv.URL))); err != nil {
		t.Fatal(err)
	}
	if n := is.requests.Load(); n != 1 {
		t.Fatalf("requests = %d, want 1", n)
	}

	// The issuer adds k2. A token signed with it inside the rate-limit
	// window is refused without a request; after the window the unknown
	// kid makes the verifier fetch the set again and the token passes.
	is.publish(map[string]*rsa.PrivateKey{"k1": ks[0], "k2": ks[1]})
	if _, err := v.Verify(ctx, sign(t, ks[1], "k2", goodClaims(is.srv.URL))); err == nil {
		t.Fatal("k2 accepted before any refresh was allowed")
	}
	if n := is.requests.Load(); n != 1 {
		t.Fatalf("requests = %d, want no refresh inside the window", n)
	}
	now = now.Add(61 * time.Second)
	if _, err := v.Verify(ctx, sign(t, ks[1], "k2", goodClaims(is.srv.URL))); err != nil {
		t.Fatalf("k2 after refresh: %v", err)
	}
	// A flood of made-up kids costs at most one request per window.
	for range 20 {
		_, _ = v.Verify(ctx, sign(t, ks[1], "bogus", goodClaims(is.srv.URL)))
	}
	if n := is.requests.Load(); n != 2 {
		t.Fatalf("requests = %d, want 2", n)
	}
}

func TestJWKSKeepsKeysWhenIssuerIsDownAndDropsWithdrawnKeys(t *testing.T) {
	ks := testKeys(t, 2)
	is := newIssuer(t, map[string]*rsa.PrivateKey{"k1": ks[0]})
	now := time.Now()
	v, _ := NewJWKS(JWKSConfig{Issuer: is.srv.URL, URL: is.srv.URL + "/keys", Now: func() time.Time { return now }, MaxAge: time.Hour})
	ctx := context.Background()
	tok := func() string { return sign(t, ks[0], "k1", goodClaimsAt(is.srv.URL, now)) }
	if _, err := v.Verify(ctx, tok()); err != nil {
		t.Fatal(err)
	}
	// Stale set, issuer down: the known key keeps working.
	is.fail.Store(true)
	now = now.Add(2 * time.Hour)
	if _, err := v.Verify(ctx, tok()); err != nil {
		t.Fatalf("known key refused while the issuer is down: %v", err)
	}
	// Issuer back without k1: once the set is refreshed k1 is gone.
	is.fail.Store(false)
	is.publish(map[string]*rsa.PrivateKey{"k2": ks[1]})
	now = now.Add(2 * time.Hour)
	if _, err := v.Verify(ctx, tok()); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("withdrawn key: err = %v", err)
	}
}

func TestJWKSDiscoveryMustMatchIssuer(t *testing.T) {
	ks := testKeys(t, 1)
	is := newIssuer(t, map[string]*rsa.PrivateKey{"k1": ks[0]})
	// Configured with a trailing slash, the issuer differs from the one
	// the discovery document states.
	v, _ := NewJWKS(JWKSConfig{Issuer: is.srv.URL + "/"})
	c := goodClaims(is.srv.URL + "/")
	_, err := v.Verify(context.Background(), sign(t, ks[0], "k1", c))
	if err == nil || !strings.Contains(err.Error(), "discovery") {
		t.Fatalf("err = %v, want a discovery mismatch", err)
	}
	if _, err := NewJWKS(JWKSConfig{}); err == nil {
		t.Fatal("a verifier without issuer was made")
	}
}
