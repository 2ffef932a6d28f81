package cors_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/songqueue/songqueue/internal/cors"
)

func TestPolicy(t *testing.T) {
	reached := 0
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++; w.WriteHeader(http.StatusTeapot) })
	h := cors.Default(cors.ParseOrigins(" http://localhost:5173/ , https://app.example")).Handler(next)
	do := func(method, origin string, hdr map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/api/x", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	pre := map[string]string{"Access-Control-Request-Method": "DELETE", "Access-Control-Request-Headers": "Authorization, Content-Type"}
	if w := do("OPTIONS", "http://localhost:5173", pre); w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "http://localhost:5173" || reached != 0 {
		t.Errorf("preflight of a listed origin: %d %v (next reached %d times)", w.Code, w.Header(), reached)
	}
	if w := do("OPTIONS", "https://evil.example", pre); w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight of an unlisted origin: %d %v", w.Code, w.Header())
	}
	if w := do("GET", "https://APP.example", nil); w.Code != http.StatusTeapot || w.Header().Get("Access-Control-Allow-Origin") != "https://APP.example" || w.Header().Get("Vary") != "Origin" {
		t.Errorf("request from a listed origin: %d %v", w.Code, w.Header())
	}
	if w := do("GET", "", nil); w.Header().Get("Access-Control-Allow-Origin") != "" || w.Code != http.StatusTeapot {
		t.Errorf("request without Origin: %d %v", w.Code, w.Header())
	}
	// OPTIONS that is not a preflight reaches the API (which answers 405).
	if do("OPTIONS", "http://localhost:5173", nil); reached != 3 {
		t.Errorf("a plain OPTIONS did not reach the API")
	}
	// No origins: none allowed (the local stack adds its own page's).
	if none := cors.Default(nil); none.AllowsOrigin("http://anything:1") || none.AllowsOrigin("https://evil.example") || none.AllowsOrigin("") {
		t.Errorf("the policy of no origins allows some: %+v", none)
	}
	// "*" only when asked for (CorsAllowOrigins' default in AWS).
	if any := cors.Default(cors.ParseOrigins("*")); !any.AllowsOrigin("http://anything:1") || any.AllowsOrigin("") {
		t.Errorf("the policy of *: %+v", any)
	}
}
