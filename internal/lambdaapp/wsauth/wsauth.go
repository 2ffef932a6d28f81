// Package wsauth is the Lambda REQUEST authorizer of the WebSocket API's
// $connect route: the client puts its JWT in the query string
// (wss://…/{stage}?token=<JWT>), and the authorizer answers with an IAM
// policy that allows or denies execute-api:Invoke on the $connect method,
// with the caller ({userId, tier}) as context for the WebSocket function.
//
// It is a package of its own, apart from lambdaapp, so the authorizer's
// binary carries no AWS SDK: it verifies tokens and nothing else.
package wsauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/songqueue/songqueue/internal/auth"
	"github.com/songqueue/songqueue/internal/service"
)

// Verifier checks a token.
type Verifier interface {
	Verify(ctx context.Context, token string) (service.Caller, error)
}

// ErrUnauthorized is the error API Gateway maps to 401 when an authorizer
// returns it: the exact message "Unauthorized" is the contract.
var ErrUnauthorized = errors.New("Unauthorized")

// Handler returns the authorizer. A request without a token is refused with
// ErrUnauthorized (401); a token that fails verification gets a Deny policy
// (403); a good one an Allow policy on the method ARN with the caller as
// context.
func Handler(v Verifier, log *slog.Logger) func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	if log == nil {
		log = slog.Default()
	}
	return func(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		token := Token(ev)
		if token == "" {
			log.InfoContext(ctx, "connect without token refused", "sourceIp", ev.RequestContext.Identity.SourceIP)
			return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
		}
		caller, err := v.Verify(ctx, token)
		if err != nil {
			log.InfoContext(ctx, "connect with a bad token denied", "err", err, "sourceIp", ev.RequestContext.Identity.SourceIP)
			return Policy("anonymous", "Deny", ev.MethodArn, nil), nil
		}
		return Policy(caller.UserID, "Allow", ev.MethodArn, map[string]any{
			"userId": caller.UserID,
			"tier":   string(caller.Tier),
		}), nil
	}
}

// Token is the token of a $connect request: the token query parameter, or
// else an "Authorization: Bearer" header for clients that can send one.
func Token(ev events.APIGatewayCustomAuthorizerRequestTypeRequest) string {
	if t := strings.TrimSpace(ev.QueryStringParameters["token"]); t != "" {
		return t
	}
	for k, v := range ev.Headers {
		if strings.EqualFold(k, "Authorization") {
			if scheme, t, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "Bearer") {
				return strings.TrimSpace(t)
			}
		}
	}
	return ""
}

// Policy is an authorizer answer with effect on resource.
func Policy(principal, effect, resource string, context map[string]any) events.APIGatewayCustomAuthorizerResponse {
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: principal,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action:   []string{"execute-api:Invoke"},
				Effect:   effect,
				Resource: []string{resource},
			}},
		},
		Context: context,
	}
}

// VerifierFromEnv builds the verifier from the environment template.yaml
// sets: JWT_ISSUER (required in AWS), JWT_AUDIENCE (comma-separated client
// ids), JWKS_URL (default: OIDC discovery), TIER_CLAIM (default tier).
// Without an issuer, DEV_JWT_SECRET selects HS256 tokens as the local stack
// mints them, for sam local and LocalStack only.
func VerifierFromEnv(getenv func(string) string, log *slog.Logger) (Verifier, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	tierClaim := getenv("TIER_CLAIM")
	if iss := getenv("JWT_ISSUER"); iss != "" {
		var auds []string
		for _, a := range strings.Split(getenv("JWT_AUDIENCE"), ",") {
			if a = strings.TrimSpace(a); a != "" {
				auds = append(auds, a)
			}
		}
		return auth.NewJWKS(auth.JWKSConfig{Issuer: iss, Audiences: auds, URL: getenv("JWKS_URL"), TierClaim: tierClaim})
	}
	if secret := getenv("DEV_JWT_SECRET"); secret != "" {
		if log != nil {
			log.Warn("JWT_ISSUER is not set: accepting HS256 development tokens signed with DEV_JWT_SECRET")
		}
		return auth.HS256{Secret: []byte(secret), TierClaim: tierClaim}, nil
	}
	return nil, fmt.Errorf("configuration: set JWT_ISSUER (and JWT_AUDIENCE) to verify the issuer's RS256 tokens")
}
