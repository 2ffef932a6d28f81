// Package generation is the domain of a song generation: its lifecycle,
// the tiers that order it, the request a user makes and the retry policy.
// It knows nothing of AWS, HTTP or Suno's wire format.
package generation

import (
	"fmt"
	"strings"
)

// Tier is a user's plan. It decides which queue a job goes to and how soon
// it gets a rate-limiter token.
type Tier string

const (
	Enterprise Tier = "ENTERPRISE"
	Premium    Tier = "PREMIUM"
	Pro        Tier = "PRO"
	Free       Tier = "FREE"
)

// Tiers lists every tier, highest priority first.
var Tiers = [...]Tier{Enterprise, Premium, Pro, Free}

// Priority is the seed's BullMQ priority: lower is served first.
func (t Tier) Priority() int {
	switch t {
	case Enterprise:
		return 1
	case Premium:
		return 5
	case Pro:
		return 10
	default:
		return 20
	}
}

// Rank is the tier's position in Tiers: 0 for ENTERPRISE, 3 for FREE.
func (t Tier) Rank() int {
	for i, x := range Tiers {
		if x == t {
			return i
		}
	}
	return len(Tiers) - 1
}

// Valid reports whether t is one of the four tiers.
func (t Tier) Valid() bool {
	for _, x := range Tiers {
		if x == t {
			return true
		}
	}
	return false
}

// TierNamed is the tier s names, its ASCII letters in any case. Only
// ASCII letters are folded: strings.ToUpper would turn "premıum" (a
// dotless i) or "ENTERPRIſE" (a long s) into tiers the contract's
// pattern does not accept.
func TierNamed(s string) Tier {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return Tier(b)
}

// ParseTier reads a tier claim. An empty claim is FREE; anything else that
// is not a tier is an error, so a typo in an identity provider's claim
// mapping fails loudly instead of silently downgrading paying users.
func ParseTier(s string) (Tier, error) {
	if s == "" {
		return Free, nil
	}
	t := TierNamed(strings.TrimSpace(s))
	if !t.Valid() {
		return "", fmt.Errorf("unknown tier %q: want one of ENTERPRISE, PREMIUM, PRO, FREE", s)
	}
	return t, nil
}
