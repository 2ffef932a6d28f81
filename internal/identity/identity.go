// Package identity says who is asking: the caller that a verified token,
// or API Gateway's authorizer, vouches for. It is a package of its own so
// that the code that verifies tokens (internal/auth, the WebSocket
// authorizer) and the application that serves callers share the type
// without either importing the other.
package identity

import (
	"slices"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// Caller is the authenticated user of a request.
type Caller struct {
	UserID string
	Tier   generation.Tier
	// Expires is when the caller's token stops vouching for them (zero:
	// not known); a WebSocket connection lives no longer.
	Expires time.Time
	// Groups are the groups the token puts the caller in (Cognito's
	// cognito:groups, or an OIDC issuer's groups claim).
	Groups []string
}

// InGroup reports whether the caller is in group.
func (c Caller) InGroup(group string) bool {
	return group != "" && slices.Contains(c.Groups, group)
}
