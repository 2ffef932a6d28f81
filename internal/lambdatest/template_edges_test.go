package lambdatest

import (
	"strings"
	"testing"

	"github.com/songqueue/songqueue/internal/media"
)

// TestTemplateMediaCacheLifetime: the edge keeps a song's copy no longer
// than browsers may (media.CacheControl, an hour), so a deleted song is
// gone from every cache of ours within that time without an invalidation;
// and browsers are told media.CacheControl whatever the object's metadata
// says (copies uploaded before say immutable for a year).
func TestTemplateMediaCacheLifetime(t *testing.T) {
	tpl := template(t)
	cp := props(t, tpl, "MediaCachePolicy")["CachePolicyConfig"].(map[string]any)
	if num(cp["MinTTL"]) != 0 || num(cp["DefaultTTL"]) <= 0 || num(cp["DefaultTTL"]) > media.CacheMaxAge || num(cp["MaxTTL"]) > media.CacheMaxAge {
		t.Errorf("MediaCachePolicy TTLs min %v, default %v, max %v; want 0 and at most media.CacheMaxAge (%d s)", cp["MinTTL"], cp["DefaultTTL"], cp["MaxTTL"], media.CacheMaxAge)
	}
	rh := props(t, tpl, "MediaResponseHeadersPolicy")["ResponseHeadersPolicyConfig"].(map[string]any)
	var cacheControl any
	var override bool
	if custom, ok := rh["CustomHeadersConfig"].(map[string]any); ok {
		for _, h := range custom["Items"].([]any) {
			if h := h.(map[string]any); strings.EqualFold(h["Header"].(string), "Cache-Control") {
				cacheControl, override = h["Value"], h["Override"] == true
			}
		}
	}
	if cacheControl != media.CacheControl || !override {
		t.Errorf("MediaResponseHeadersPolicy sets Cache-Control %v (override %v); want %q, overriding the objects' metadata", cacheControl, override, media.CacheControl)
	}
}
