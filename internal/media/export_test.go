package media

import (
	"context"
	"net/netip"
)

// WithResolver returns f resolving names with lookup instead of the
// system's resolver.
func WithResolver(f Fetcher, lookup func(ctx context.Context, host string) ([]netip.Addr, error)) Fetcher {
	f.lookup = lookup
	return f
}
