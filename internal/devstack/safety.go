package devstack

import (
	"fmt"
	"net"
	"net/http"
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

func (t trusted) only(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !t.allows(r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":{"code":"forbidden","message":"this route answers only clients on this machine (or TRUSTED_CLIENTS)"}}` + "\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
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
