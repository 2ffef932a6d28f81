package media

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The guard keeps a download on the public internet. The media hosts'
// allow-list (SUNO_MEDIA_HOSTS) says which names may be fetched; the guard
// makes sure those names lead where a public CDN would: every address a
// name resolves to is checked, and the connection goes to a checked
// address, so neither a hostile DNS answer nor a rebinding between the
// check and the connect can reach the instance metadata service
// (169.254.169.254, fd00:ec2::254), a private network or this machine.

// AddressError is a connection the guard refused.
type AddressError struct {
	Host  string
	Addr  netip.Addr
	Class string // loopback, private, link-local, unspecified, multicast, reserved; or "not loopback"
}

func (e *AddressError) Error() string {
	if e.Class == "not loopback" {
		return fmt.Sprintf("%s resolves to %s, which is not a loopback address: a loopback name is fetched from this machine only", e.Host, e.Addr)
	}
	article := "a"
	if strings.ContainsAny(e.Class[:1], "aeiou") {
		article = "an"
	}
	return fmt.Sprintf("%s resolves to %s, %s %s address: media is fetched from public addresses only", e.Host, e.Addr, article, e.Class)
}

// LoopbackName reports whether host (a URL's host, with or without port)
// names this machine: localhost, a name under .localhost, or a loopback
// address.
func LoopbackName(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// AnyLoopback reports whether one of hosts is a loopback name: a media
// host list the local stack made for its fake Suno (or a test's server),
// for which Fetcher.AllowLoopback is set.
func AnyLoopback(hosts []string) bool {
	return slices.ContainsFunc(hosts, LoopbackName)
}

// classify is why a is refused as a public media server's address, or ""
// if it is not.
func classify(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate(): // 10/8, 172.16/12, 192.168/16, fc00::/7 (incl. fd00:ec2::254)
		return "private"
	case a.IsLinkLocalUnicast(): // 169.254/16 (incl. 169.254.169.254), fe80::/10
		return "link-local"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsMulticast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast():
		return "multicast"
	}
	for _, p := range embedding {
		// NAT64 and 6to4 addresses carry an IPv4 address that a gateway
		// connects to: judged by that one.
		if p.prefix.Contains(a) {
			b := a.As16()
			if c := classify(netip.AddrFrom4([4]byte(b[p.at : p.at+4]))); c != "" {
				return c
			}
		}
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return "reserved"
		}
	}
	return ""
}

var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (carrier NAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
}

var embedding = []struct {
	prefix netip.Prefix
	at     int
}{
	{netip.MustParsePrefix("64:ff9b::/96"), 12}, // NAT64
	{netip.MustParsePrefix("2002::/16"), 2},     // 6to4
}

// guard checks the addresses a download connects to.
type guard struct {
	// allowLoopback: a loopback name (LoopbackName) may be dialled, at
	// loopback addresses only.
	allowLoopback bool
	// lookup resolves a name; nil is the system's resolver.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// addrs are the addresses to connect to for host, every one allowed, IPv4
// first (Lambda functions outside a VPC have no IPv6 route).
func (g guard) addrs(ctx context.Context, host string) ([]netip.Addr, error) {
	var all []netip.Addr
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		all = []netip.Addr{a}
	} else {
		lookup := g.lookup
		if lookup == nil {
			lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
				return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			}
		}
		if all, err = lookup(ctx, host); err != nil {
			return nil, err
		}
		if len(all) == 0 {
			return nil, fmt.Errorf("%s has no address", host)
		}
	}
	local := g.allowLoopback && LoopbackName(host)
	for i, a := range all {
		a = a.Unmap()
		all[i] = a
		switch {
		case local && !a.IsLoopback():
			return nil, &AddressError{Host: host, Addr: a, Class: "not loopback"}
		case local:
		default:
			if c := classify(a); c != "" {
				return nil, &AddressError{Host: host, Addr: a, Class: c}
			}
		}
	}
	slices.SortStableFunc(all, func(a, b netip.Addr) int {
		switch {
		case a.Is4() == b.Is4():
			return 0
		case a.Is4():
			return -1
		}
		return 1
	})
	return all, nil
}

// dialContext connects to addr (host:port) at one of its checked
// addresses: the name is resolved once, here, and what was checked is what
// is dialled.
func (g guard) dialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		addrs, err := g.addrs(ctx, host)
		if err != nil {
			return nil, err
		}
		var errs []error
		for _, a := range addrs {
			c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
		return nil, errors.Join(errs...)
	}
}

// control checks the address of every socket about to connect, whatever
// dialled it: the last line, under dialContext's check.
func (g guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", address, err)
	}
	a := ap.Addr().Unmap()
	if g.allowLoopback && a.IsLoopback() {
		return nil
	}
	if c := classify(a); c != "" {
		return &AddressError{Host: a.String(), Addr: a, Class: c}
	}
	return nil
}

// transport is a guarded transport: no proxy (a proxy's address would be
// the one checked), every connection through the guard.
func (g guard) transport() *http.Transport {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           g.dialContext(d),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// transports are the two guarded transports, shared by every Fetcher of
// the process so that connections are reused across downloads.
var transports struct {
	sync.Mutex
	byLoopback map[bool]*http.Transport
}

func sharedTransport(allowLoopback bool) *http.Transport {
	transports.Lock()
	defer transports.Unlock()
	if transports.byLoopback == nil {
		transports.byLoopback = map[bool]*http.Transport{}
	}
	t := transports.byLoopback[allowLoopback]
	if t == nil {
		t = guard{allowLoopback: allowLoopback}.transport()
		transports.byLoopback[allowLoopback] = t
	}
	return t
}
