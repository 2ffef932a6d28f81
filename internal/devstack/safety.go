package devstack

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// loopback reports whether host (an address the stack listens on) is this
// machine only.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// checkExposure refuses to serve beyond this machine on the public
// development defaults: the demo secret signs tokens anyone could mint, and
// without a key the fake Suno takes any caller's submissions.
func checkExposure(cfg Config) error {
	if loopback(cfg.Host) {
		return nil
	}
	var missing []string
	if cfg.JWTSecret == "" || cfg.JWTSecret == DevJWTSecret {
		missing = append(missing, "JWT_SECRET (the development default is public)")
	}
	if !cfg.SunoKey.Set() {
		missing = append(missing, "SUNO_API_KEY")
	}
	if len(missing) > 0 {
		return fmt.Errorf("HOST=%s serves the stack beyond this machine: set %s first, or listen on 127.0.0.1", cfg.Host, strings.Join(missing, " and "))
	}
	return nil
}

// trusted lets through only clients on this machine or in the configured
// networks (TRUSTED_CLIENTS): the demo tokens, the in-process fake Suno and
// the @connections management routes are for the developer's own tools,
// never for the network the stack may listen on.
type trusted []*net.IPNet

func (t trusted) allows(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	for _, n := range t {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// only lets through to h the requests of trusted clients addressed to this
// machine by name (allowsHost). It adds no CORS headers, and nothing in
// front of it may: no page of another site is to read its answers.
func (t trusted) only(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !t.allows(r):
			forbidden(w, "this route answers only clients on this machine (or TRUSTED_CLIENTS)")
		case !t.allowsHost(r):
			forbidden(w, "this route answers only requests addressed to a loopback name (localhost, 127.0.0.1, [::1]); the Host of this one names another")
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// forbidden answers 403 with the API's error body.
func forbidden(w http.ResponseWriter, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte(`{"error":{"code":"forbidden","message":"` + message + `"}}` + "\n"))
}

// allowsHost checks the name a request is addressed to, against DNS
// rebinding: a page of another site that has its own name resolve to
// 127.0.0.1 reaches the stack from this machine, but its requests carry
// that name in Host. So Host must be a loopback name (loopbackName). A
// client of TRUSTED_CLIENTS beyond this machine (a sam local container)
// may also use an address or host.docker.internal, the name Docker gives
// the host; no rebinding page sends either, as each is no name of its.
func (t trusted) allowsHost(r *http.Request) bool {
	if loopbackName(r.Host) {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || ip.IsLoopback() {
		return false
	}
	name := hostname(r.Host)
	return name == "host.docker.internal" || net.ParseIP(name) != nil
}

// loopbackName reports whether hostport, a request's Host, names this
// machine only: localhost or a name under .localhost (which browsers
// resolve to loopback themselves), or a loopback address, with any port.
func loopbackName(hostport string) bool {
	name := hostname(hostport)
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	ip := net.ParseIP(name)
	return ip != nil && ip.IsLoopback()
}

// hostname is the lower-case name or address of a Host header, without
// port, brackets or a final dot.
func hostname(hostport string) string {
	name := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.Trim(name, "[]"), ".")
	return strings.ToLower(name)
}

// ownOrigins are the origins of the stack's own page, listening on host
// and port: the names people type for this machine, and the listened-on
// address itself when it is one a browser can be pointed at.
func ownOrigins(host string, port int) []string {
	p := strconv.Itoa(port)
	out := []string{"http://localhost:" + p, "http://127.0.0.1:" + p}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil && !ip.IsUnspecified() {
		if o := "http://" + net.JoinHostPort(ip.String(), p); !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

func parseTrusted(list string) (trusted, error) {
	var out trusted
	for _, c := range strings.Split(list, ",") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			return nil, fmt.Errorf("TRUSTED_CLIENTS: %q is not a CIDR such as 172.17.0.0/16", c)
		}
		out = append(out, n)
	}
	return out, nil
}
