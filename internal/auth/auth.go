// Package auth turns bearer tokens into callers: HS256 tokens signed with a
// shared secret for the local stack, RS256 tokens from an OIDC issuer's
// JWKS in AWS. The tier comes only from the verified token.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
)

// DefaultTierClaim is the claim that carries the tier unless configured.
const DefaultTierClaim = "tier"

// ErrUnauthenticated wraps every reason a token is refused.
var ErrUnauthenticated = errors.New("unauthenticated")

// HS256 verifies and mints tokens signed with a shared secret.
type HS256 struct {
	Secret    []byte
	TierClaim string // default "tier"
	Issuer    string // checked when set
	Now       func() time.Time
}

// Verify checks token and returns its caller.
func (h HS256) Verify(_ context.Context, token string) (identity.Caller, error) {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(30 * time.Second),
	}
	if h.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(h.Issuer))
	}
	if h.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(h.Now))
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return h.Secret, nil }, opts...)
	if err != nil {
		return identity.Caller{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	return CallerFromClaims(claims, h.TierClaim)
}

// Mint signs a token for user with tier, valid for ttl.
func (h HS256) Mint(userID string, tier generation.Tier, ttl time.Duration) (string, error) {
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	claim := h.TierClaim
	if claim == "" {
		claim = DefaultTierClaim
	}
	claims := jwt.MapClaims{"sub": userID, claim: string(tier), "iat": now.Unix(), "exp": now.Add(ttl).Unix()}
	if h.Issuer != "" {
		claims["iss"] = h.Issuer
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(h.Secret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// CallerFromClaims reads the user and tier from verified claims. Claims may
// come from a token this package verified or from API Gateway's JWT
// authorizer, which hands them over as strings.
func CallerFromClaims(claims map[string]any, tierClaim string) (identity.Caller, error) {
	if tierClaim == "" {
		tierClaim = DefaultTierClaim
	}
	sub, _ := claims["sub"].(string)
	if sub == "" || len(sub) > 128 {
		return identity.Caller{}, fmt.Errorf("%w: the token has no usable sub claim", ErrUnauthenticated)
	}
	var raw string
	switch v := claims[tierClaim].(type) {
	case nil:
	case string:
		raw = v
	default:
		return identity.Caller{}, fmt.Errorf("%w: the %s claim must be a string", ErrUnauthenticated, tierClaim)
	}
	tier, err := generation.ParseTier(raw)
	if err != nil {
		return identity.Caller{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	return identity.Caller{UserID: sub, Tier: tier, Expires: expiry(claims["exp"])}, nil
}

// expiry reads an exp claim, a number of seconds (as a verified token
// carries it) or its decimal text (as API Gateway hands claims over).
func expiry(v any) time.Time {
	var sec float64
	switch e := v.(type) {
	case float64:
		sec = e
	case int64:
		sec = float64(e)
	case json.Number:
		sec, _ = e.Float64()
	case string:
		sec, _ = strconv.ParseFloat(e, 64)
	}
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(int64(sec), 0)
}
