package auth

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/songqueue/songqueue/internal/identity"
)

// JWKS verifies RS256 tokens of an OIDC issuer (a Cognito user pool or any
// other) with the public keys the issuer publishes as a JSON Web Key Set.
//
// Keys are fetched on first use and cached. A token signed with a key id
// the cache does not know makes the verifier fetch the set again, so a key
// rotation needs no restart; such refreshes are rate limited, so a stream
// of tokens with made-up key ids cannot turn into a stream of requests to
// the issuer. When a refresh fails the keys already known stay in use.
type JWKS struct {
	cfg JWKSConfig

	mu        sync.Mutex
	keys      map[string]*rsa.PublicKey
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last attempt, successful or not
	jwksURL   string    // resolved from discovery when not configured
}

// JWKSConfig configures a JWKS verifier.
type JWKSConfig struct {
	// Issuer must equal the token's iss claim, for example
	// https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf.
	Issuer string
	// Audiences are the accepted audiences: a token passes when its aud
	// claim (a string or a list) or, as in Cognito access tokens, its
	// client_id claim names one of them. Empty accepts any audience, which
	// is only safe when the issuer mints tokens for this API alone.
	Audiences []string
	// URL is the key set's address. Empty means OIDC discovery: the
	// jwks_uri of {Issuer}/.well-known/openid-configuration.
	URL string
	// TierClaim names the claim carrying the tier; default "tier".
	TierClaim string
	// Client fetches the keys; default a client with a 5 s timeout.
	Client *http.Client
	// RefreshInterval is the least time between two fetches caused by
	// unknown key ids; default one minute.
	RefreshInterval time.Duration
	// MaxAge is how long a fetched set is trusted before it is fetched
	// again, so a key the issuer withdrew stops working; default one hour.
	MaxAge time.Duration
	// Leeway tolerates clock skew on exp, nbf and iat; default 30 s.
	Leeway time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// NewJWKS returns a verifier for cfg.
func NewJWKS(cfg JWKSConfig) (*JWKS, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("JWKS verifier: the issuer is required")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = time.Minute
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = time.Hour
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &JWKS{cfg: cfg, jwksURL: cfg.URL}, nil
}

// Verify checks token and returns its caller. Every refusal wraps
// ErrUnauthenticated.
func (j *JWKS) Verify(ctx context.Context, token string) (identity.Caller, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		return j.key(ctx, kid)
	},
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(j.cfg.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(j.cfg.Leeway),
		jwt.WithTimeFunc(j.cfg.Now),
	)
	if err != nil {
		return identity.Caller{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	if err := j.checkAudience(claims); err != nil {
		return identity.Caller{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	return CallerFromClaims(claims, j.cfg.TierClaim)
}

func (j *JWKS) checkAudience(claims jwt.MapClaims) error {
	if len(j.cfg.Audiences) == 0 {
		return nil
	}
	aud, err := claims.GetAudience()
	if err != nil {
		return fmt.Errorf("the aud claim is malformed: %v", err)
	}
	if cid, ok := claims["client_id"].(string); ok && cid != "" {
		aud = append(aud, cid)
	}
	for _, a := range aud {
		if slices.Contains(j.cfg.Audiences, a) {
			return nil
		}
	}
	return errors.New("the token is not meant for this API (aud/client_id)")
}

// key returns the public key with id kid, fetching the set when the key is
// unknown (at most once per RefreshInterval) or the set is stale.
func (j *JWKS) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.cfg.Now()
	stale := j.keys == nil || now.Sub(j.fetchedAt) >= j.cfg.MaxAge
	k, known := j.lookup(kid)
	if known && !stale {
		return k, nil
	}
	var fetchErr error
	if j.keys == nil || now.Sub(j.triedAt) >= j.cfg.RefreshInterval {
		j.triedAt = now
		keys, err := j.fetch(ctx)
		if err == nil {
			j.keys, j.fetchedAt = keys, now
		} else {
			fetchErr = err
		}
	}
	if k, ok := j.lookup(kid); ok {
		return k, nil
	}
	if fetchErr != nil {
		return nil, fmt.Errorf("fetch the issuer's keys: %w", fetchErr)
	}
	if kid == "" {
		return nil, errors.New("the token names no key (kid) and the issuer has several")
	}
	return nil, fmt.Errorf("the issuer has no key %q", kid)
}

// lookup finds kid in the cache; a token without kid is accepted only
// when the set holds a single key. Called with mu held.
func (j *JWKS) lookup(kid string) (*rsa.PublicKey, bool) {
	if kid == "" {
		if len(j.keys) == 1 {
			for _, k := range j.keys {
				return k, true
			}
		}
		return nil, false
	}
	k, ok := j.keys[kid]
	return k, ok
}

// maxDocument bounds what is read from the issuer.
const maxDocument = 1 << 20

func (j *JWKS) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	if j.jwksURL == "" {
		u, err := j.discover(ctx)
		if err != nil {
			return nil, err
		}
		j.jwksURL = u
	}
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			Alg string `json:"alg"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := j.getJSON(ctx, j.jwksURL, &set); err != nil {
		return nil, err
	}
	keys := make(map[string]*rsa.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
			continue
		}
		pub, err := rsaKey(k.N, k.E)
		if err != nil {
			continue // one bad key must not take the others down
		}
		keys[k.Kid] = pub
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no usable RS256 signing key", j.jwksURL)
	}
	return keys, nil
}

func (j *JWKS) discover(ctx context.Context) (string, error) {
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	u := strings.TrimSuffix(j.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	if err := j.getJSON(ctx, u, &doc); err != nil {
		return "", fmt.Errorf("OIDC discovery: %w", err)
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("OIDC discovery: %s names no jwks_uri", u)
	}
	if doc.Issuer != "" && doc.Issuer != j.cfg.Issuer {
		return "", fmt.Errorf("OIDC discovery: %s is for issuer %q, not %q", u, doc.Issuer, j.cfg.Issuer)
	}
	return doc.JWKSURI, nil
}

func (j *JWKS) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	res, err := j.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxDocument+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if len(body) > maxDocument {
		return fmt.Errorf("GET %s: the document is larger than %d bytes", url, maxDocument)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// minModulusBits refuses keys too weak to trust.
const minModulusBits = 2048

func rsaKey(n, e string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(n, "="))
	if err != nil {
		return nil, fmt.Errorf("modulus: %w", err)
	}
	eb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(e, "="))
	if err != nil {
		return nil, fmt.Errorf("exponent: %w", err)
	}
	if len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("exponent out of range")
	}
	exp := 0
	for _, b := range eb {
		exp = exp<<8 | int(b)
	}
	mod := new(big.Int).SetBytes(nb)
	if mod.BitLen() < minModulusBits || exp < 3 || exp%2 == 0 {
		return nil, errors.New("weak or malformed RSA key")
	}
	return &rsa.PublicKey{N: mod, E: exp}, nil
}
