// Package auth turns bearer tokens into callers: HS256 tokens signed with a
// shared secret for the local stack, RS256 tokens from an OIDC issuer's
// JWKS in AWS. The tier comes only from the verified token.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

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
	// Cognito's group names cannot hold a space, so API Gateway's text of
	// its cognito:groups splits exactly; any other issuer's names may.
	iss, _ := claims["iss"].(string)
	c.Groups = append(c.Groups, groupList(claims[CognitoGroupsClaim], cognitoIssuer(iss))...)
	c.Groups = append(c.Groups, groupList(claims[GroupsClaim], false)...)
	return c, nil
}

// The claims that carry a caller's groups: Cognito's, and the name most
// OIDC issuers use.
const (
	CognitoGroupsClaim = "cognito:groups"
	GroupsClaim        = "groups"
)

// groupList reads a groups claim as a list of whole names, never splitting
// a name. The claim is a JSON array as a token carries it; or a string
// holding one (["a","b c"]), as some issuers put it; or the text API
// Gateway's JWT authorizer makes of an array for the function, its
// elements joined by single spaces in brackets ("[a b c]"); or a single
// name. That text is ambiguous when names may hold spaces: "[Billing
// admin]" is one group or two. spaceFree says the issuer's names cannot
// hold one (Cognito's, whose group names are letters, marks, symbols,
// digits and punctuation); then the text splits on spaces. Otherwise
// text of a single name ("[admin]") is that name, and text with a space
// reads as no group at all, so that no reading of it can make an operator
// of someone who is not one. A name is never split on a comma.
func groupList(v any, spaceFree bool) []string {
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
		return groupText(g, spaceFree)
	}
	return out
}

// groupText reads a groups claim that came as a string (see groupList).
func groupText(g string, spaceFree bool) []string {
	if g == "" {
		return nil
	}
	inner, bracketed := strings.CutPrefix(g, "[")
	if bracketed {
		inner, bracketed = strings.CutSuffix(inner, "]")
	}
	if !bracketed {
		return []string{g} // one name
	}
	if spaceFree {
		// API Gateway's text of Cognito's array: no element holds a space,
		// so every space separates two. (Such an element cannot hold
		// quotes either, but it may: Cognito allows punctuation, so a
		// JSON-looking text is still split as text.)
		return strings.FieldsFunc(inner, func(r rune) bool { return r == ' ' })
	}
	var list []any
	if json.Unmarshal([]byte(g), &list) == nil {
		return groupList(list, false)
	}
	if inner == "" || strings.ContainsFunc(inner, unicode.IsSpace) {
		return nil // none, or ambiguous
	}
	return []string{inner}
}

// cognitoIssuer reports whether iss is a Cognito user pool's
// (https://cognito-idp.<region>.amazonaws.com[.cn]/<pool id>). Claims that
// API Gateway hands over were verified against the configured issuer, so
// the name can be trusted.
func cognitoIssuer(iss string) bool {
	u, err := url.Parse(iss)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Port() != "" {
		return false
	}
	region, ok := strings.CutPrefix(u.Hostname(), "cognito-idp.")
	if !ok {
		return false
	}
	for _, domain := range []string{".amazonaws.com", ".amazonaws.com.cn"} {
		if r, ok := strings.CutSuffix(region, domain); ok && r != "" && !strings.Contains(r, ".") {
			return true
		}
	}
	return false
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
