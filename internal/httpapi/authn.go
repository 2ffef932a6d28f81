package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/songqueue/songqueue/internal/identity"
)

// TokenVerifier checks a bearer token.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (identity.Caller, error)
}

// BearerAuth authenticates requests by verifying their bearer token itself,
// as the local stack must.
type BearerAuth struct{ Verifier TokenVerifier }

// Authenticate implements Authenticator.
func (b BearerAuth) Authenticate(r *http.Request) (identity.Caller, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" {
		return identity.Caller{}, errors.New("the Authorization header is missing")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return identity.Caller{}, errors.New("the Authorization header must be 'Bearer <JWT>'")
	}
	return b.Verifier.Verify(r.Context(), strings.TrimSpace(token))
}

type callerKey struct{}

// WithCaller returns ctx carrying a caller that something upstream, such as
// API Gateway's JWT authorizer, has already authenticated.
func WithCaller(ctx context.Context, c identity.Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// ContextAuth trusts the caller put in the request context by WithCaller.
type ContextAuth struct{}

// Authenticate implements Authenticator.
func (ContextAuth) Authenticate(r *http.Request) (identity.Caller, error) {
	c, ok := r.Context().Value(callerKey{}).(identity.Caller)
	if !ok || c.UserID == "" {
		return identity.Caller{}, errors.New("the request carries no authorized caller")
	}
	return c, nil
}
