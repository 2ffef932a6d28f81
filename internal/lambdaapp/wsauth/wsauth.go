// Package wsauth is the Lambda REQUEST authorizer of the WebSocket API's
// $connect route: the client puts its JWT in the query string
// (wss://…/{stage}?token=<JWT>), and the authorizer answers with an IAM
// policy that allows or denies execute-api:Invoke on the $connect method,
// with the caller ({userId, tier}) as context for the WebSocket function.
//
// It is a package of its own, apart from lambdaapp, so the authorizer's
// binary carries no AWS SDK and none of the application: it verifies
// tokens and nothing else (auth.Settings says how).
package wsauth

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/songqueue/songqueue/internal/auth"
)

// ErrUnauthorized is the error API Gateway maps to 401 when an authorizer
// returns it: the exact message "Unauthorized" is the contract.
var ErrUnauthorized = errors.New("Unauthorized")

// Handler returns the authorizer. A request without a token is refused with
// ErrUnauthorized (401); a token that fails verification gets a Deny policy
// (403); a good one an Allow policy on the method ARN with the caller as
// context.
func Handler(v auth.Verifier, log *slog.Logger) func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
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
		who := map[string]any{"userId": caller.UserID, "tier": string(caller.Tier)}
		if !caller.Expires.IsZero() {
			who["exp"] = caller.Expires.Unix() // the connection ends with the token
		}
		return Policy(caller.UserID, "Allow", ev.MethodArn, who), nil
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
