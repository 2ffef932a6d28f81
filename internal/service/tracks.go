package service

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/songqueue/songqueue/internal/generation"
)

// Bounds on what Suno says of a task's tracks before it is stored: two
// tracks a task is Suno's documented answer, the rest generous.
const (
	maxTracks      = 4
	maxTrackURL    = 2048
	maxTrackTitle  = 300
	maxTrackID     = 128
	maxTrackLength = 24 * 3600 // seconds
)

// checkTracks refuses track data the service will not store or show: more
// tracks than Suno makes, oversized fields, and URLs that are not http(s)
// on one of the media hosts (a wrong answer, or someone else's server).
func checkTracks(tracks []generation.Track, hosts []string) error {
	if len(tracks) > maxTracks {
		return fmt.Errorf("%d tracks, at most %d expected", len(tracks), maxTracks)
	}
	for i, t := range tracks {
		if len(t.ID) > maxTrackID || utf8.RuneCountInString(t.Title) > maxTrackTitle || !utf8.ValidString(t.Title) {
			return fmt.Errorf("track %d: id or title too long, or not UTF-8", i)
		}
		if t.Duration < 0 || t.Duration > maxTrackLength {
			return fmt.Errorf("track %d: duration %v", i, t.Duration)
		}
		for _, u := range []string{t.AudioURL, t.StreamAudioURL, t.ImageURL} {
			if u == "" {
				continue
			}
			if err := mediaURL(u, hosts); err != nil {
				return fmt.Errorf("track %d: %w", i, err)
			}
		}
	}
	return nil
}

// mediaURL is nil when u is an http(s) URL on a configured media host: the
// host itself, or a subdomain of an entry written with a leading dot.
func mediaURL(u string, hosts []string) error {
	if len(u) > maxTrackURL {
		return fmt.Errorf("a URL of %d bytes", len(u))
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.User != nil {
		return fmt.Errorf("%q is not an http(s) URL", u)
	}
	host := strings.ToLower(p.Host)
	for _, h := range hosts {
		h = strings.ToLower(h)
		if host == h || strings.HasPrefix(h, ".") && strings.HasSuffix(host, h) {
			return nil
		}
	}
	return fmt.Errorf("%s is not one of the media hosts (SUNO_MEDIA_HOSTS)", p.Host)
}
