// Package cors is the HTTP API's CORS policy (DESIGN.md section 12), in
// one place: the local stack answers with it, and a template test holds
// the HTTP API's CorsConfiguration in template.yaml to the same values, so
// a frontend on another origin meets the same rules against make dev as in
// AWS.
package cors

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Policy is a CORS configuration as API Gateway's HTTP API takes it.
type Policy struct {
	AllowOrigins  []string // "*" or exact origins (scheme://host[:port])
	AllowHeaders  []string // lower case
	AllowMethods  []string
	ExposeHeaders []string // lower case
	MaxAge        time.Duration
}

// Default is the API's policy for origins: exact origins, or "*" for any
// (the template's CorsAllowOrigins; the local stack's own page's and
// CORS_ALLOW_ORIGINS). No origins allow none. Tokens travel in the
// Authorization header, never in cookies, so credentials are not allowed.
func Default(origins []string) Policy {
	return Policy{
		AllowOrigins:  origins,
		AllowHeaders:  []string{"authorization", "content-type", "idempotency-key"},
		AllowMethods:  []string{"GET", "POST", "DELETE", "OPTIONS"},
		ExposeHeaders: []string{"apigw-requestid", "idempotent-replayed", "retry-after"},
		MaxAge:        10 * time.Minute,
	}
}

// ParseOrigins reads CORS_ALLOW_ORIGINS: comma-separated origins, or "*".
func ParseOrigins(s string) []string {
	var out []string
	for _, o := range strings.Split(s, ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// AllowsOrigin reports whether a page served from origin may call the API.
func (p Policy) AllowsOrigin(origin string) bool {
	return origin != "" && (slices.Contains(p.AllowOrigins, "*") || slices.ContainsFunc(p.AllowOrigins, func(o string) bool {
		return strings.EqualFold(o, origin)
	}))
}

// Handler answers preflight requests and adds the CORS headers to every
// answer of next, as API Gateway does in front of the functions: a
// preflight (OPTIONS with Access-Control-Request-Method) never reaches
// next, and a request from an origin the policy does not allow gets no
// CORS headers, which the browser then refuses to show the page.
func (p Policy) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		if origin != "" {
			h.Add("Vary", "Origin")
		}
		allowed := p.AllowsOrigin(origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if allowed && p.allowsPreflight(r) {
				h.Set("Access-Control-Allow-Origin", p.allowOrigin(origin))
				h.Set("Access-Control-Allow-Methods", strings.Join(p.AllowMethods, ","))
				h.Set("Access-Control-Allow-Headers", strings.Join(p.AllowHeaders, ","))
				h.Set("Access-Control-Max-Age", strconv.Itoa(int(p.MaxAge/time.Second)))
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allowed {
			h.Set("Access-Control-Allow-Origin", p.allowOrigin(origin))
			if len(p.ExposeHeaders) > 0 {
				h.Set("Access-Control-Expose-Headers", strings.Join(p.ExposeHeaders, ","))
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (p Policy) allowOrigin(origin string) string {
	if slices.Contains(p.AllowOrigins, "*") {
		return "*"
	}
	return origin
}

// allowsPreflight checks the method and headers a preflight asks for.
func (p Policy) allowsPreflight(r *http.Request) bool {
	if !slices.Contains(p.AllowMethods, strings.ToUpper(r.Header.Get("Access-Control-Request-Method"))) {
		return false
	}
	for _, hdr := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ",") {
		if hdr = strings.ToLower(strings.TrimSpace(hdr)); hdr != "" && !slices.Contains(p.AllowHeaders, hdr) {
			return false
		}
	}
	return true
}
