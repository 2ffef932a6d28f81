package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/songqueue/songqueue/internal/service"
)

// TokenVerifier checks a bearer token.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (service.Caller, error)
}

// BearerAuth authenticates requests by verifying their bearer token itself,
// as the local stack must.
type BearerAuth struct{ Verifier TokenVerifier }

// Authenticate implements Authenticator.
func (b BearerAuth) Authenticate(r *http.Request) (service.Caller, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" {
		return service.Caller{}, errors.New("the Authorization header is missing")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return service.Caller{}, errors.New("the Authorization header must be 'Bearer <JWT>'")
	}
	return b.Verifier.Verify(r.Context(), strings.TrimSpace(token))
}

type callerKey struct{}

// WithCaller returns ctx carrying a caller that something upstream, such as
// API Gateway's JWT authorizer, has already authenticated.
func WithCaller(ctx context.Context, c service.Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// ContextAuth trusts the caller put in the request context by WithCaller.
type ContextAuth struct{}

// Authenticate implements Authenticator.
func (ContextAuth) Authenticate(r *http.Request) (service.Caller, error) {
	c, ok := r.Context().Value(callerKey{}).(service.Caller)
	if !ok || c.UserID == "" {
		return service.Caller{}, errors.New("the request carries no authorized caller")
	}
	return c, nil
}
