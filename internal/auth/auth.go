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
	"strings"
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

// Mint signs a token for user with tier, valid for ttl, in groups.
func (h HS256) Mint(userID string, tier generation.Tier, ttl time.Duration, groups ...string) (string, error) {
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
	if len(groups) > 0 {
		claims[GroupsClaim] = groups
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
	c := identity.Caller{UserID: sub, Tier: tier, Expires: expiry(claims["exp"])}
	for _, name := range []string{CognitoGroupsClaim, GroupsClaim} {
		c.Groups = append(c.Groups, groupList(claims[name])...)
	}
	return c, nil
}

// The claims that carry a caller's groups: Cognito's, and the name most
// OIDC issuers use.
const (
	CognitoGroupsClaim = "cognito:groups"
	GroupsClaim        = "groups"
)

// groupList reads a groups claim: a JSON array as a token carries it, or
// the text API Gateway's JWT authorizer makes of one ("[admin ops]"), or a
// comma- or space-separated list.
func groupList(v any) []string {
	var out []string
	switch g := v.(type) {
	case []any:
		for _, e := range g {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
	case []string:
		for _, s := range g {
			if s != "" {
				out = append(out, s)
			}
		}
	case string:
		g = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(g), "["), "]")
		out = strings.FieldsFunc(g, func(r rune) bool { return r == ',' || r == ' ' })
	}
	return out
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
