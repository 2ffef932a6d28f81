package auth

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/songqueue/songqueue/internal/envconfig"
	"github.com/songqueue/songqueue/internal/identity"
)

// Settings say how tokens are verified, for every program that verifies
// them: the WebSocket authorizer, the HTTP API under sam local and the
// local stack. They are read here, once, so that the authorizer, which
// must stay small, and the application share them:
//
//	JWT_ISSUER      the OIDC issuer whose RS256 tokens are accepted (required in AWS)
//	JWT_AUDIENCE    comma-separated accepted audiences (client ids)
//	JWKS_URL        the issuer's key set (default: OIDC discovery)
//	TIER_CLAIM      the claim with the tier (default tier)
//	DEV_JWT_SECRET  without an issuer, accept HS256 development tokens signed
//	                with it, as make dev mints them (sam local, LocalStack only)
type Settings struct {
	Issuer    string
	Audiences []string
	JWKSURL   string
	TierClaim string
	DevSecret string
}

// DefaultSettings are the settings when the environment says nothing.
func DefaultSettings() Settings { return Settings{TierClaim: DefaultTierClaim} }

// Read sets s from the variables that are set.
func (s *Settings) Read(r *envconfig.Reader) {
	r.String("JWT_ISSUER", &s.Issuer)
	var auds string
	r.String("JWT_AUDIENCE", &auds)
	for _, a := range strings.Split(auds, ",") {
		if a = strings.TrimSpace(a); a != "" {
			s.Audiences = append(s.Audiences, a)
		}
	}
	r.String("JWKS_URL", &s.JWKSURL)
	r.String("TIER_CLAIM", &s.TierClaim)
	r.String("DEV_JWT_SECRET", &s.DevSecret)
}

// SettingsFromEnv reads the settings through getenv.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	s := DefaultSettings()
	r := envconfig.New(getenv)
	s.Read(r)
	return s, r.Err()
}

// Verifier checks a token and says whose it is.
type Verifier interface {
	Verify(ctx context.Context, token string) (identity.Caller, error)
}

// Verifier is the verifier the settings describe: the issuer's RS256
// tokens, or else HS256 development tokens.
func (s Settings) Verifier(log *slog.Logger) (Verifier, error) {
	if s.Issuer != "" {
		if len(s.Audiences) == 0 {
			// Any token the issuer mints for any application would pass.
			return nil, errors.New("configuration: JWT_ISSUER needs JWT_AUDIENCE, the client ids whose tokens this service accepts")
		}
		return NewJWKS(JWKSConfig{Issuer: s.Issuer, Audiences: s.Audiences, URL: s.JWKSURL, TierClaim: s.TierClaim})
	}
	if s.DevSecret != "" {
		if log != nil {
			log.Warn("JWT_ISSUER is not set: accepting HS256 development tokens signed with DEV_JWT_SECRET")
		}
		return HS256{Secret: []byte(s.DevSecret), TierClaim: s.TierClaim}, nil
	}
	return nil, errors.New("configuration: set JWT_ISSUER (and JWT_AUDIENCE) to verify the issuer's RS256 tokens")
}
