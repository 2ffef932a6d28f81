package sunofake

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Directives script the fake for one task. They are written anywhere in the
// prompt as [fake:name] or [fake:name=value] (DESIGN.md §6), so a test that
// only speaks HTTP to the project can still ask for a behaviour.
type Directives struct {
	// Fail: the first Fail submissions of this exact prompt get a transient
	// server error (body code 500) ([fake:fail=N]).
	Fail int
	// RateLimit: the first RateLimit submissions of this exact prompt are
	// refused with code 430 ([fake:ratelimit=N]). They come before the Fail
	// ones: with both, submissions 1..RateLimit are rate limited and the
	// next Fail ones fail.
	RateLimit int
	// AudioFailed: the task ends in GENERATE_AUDIO_FAILED after its text
	// stage ([fake:audio-failed]).
	AudioFailed bool
	// Sensitive: the task ends in SENSITIVE_WORD_ERROR at its text stage
	// ([fake:sensitive]). It wins over AudioFailed.
	Sensitive bool
	// Slow: the task takes this long from submission to SUCCESS, with the
	// earlier stages scaled in proportion ([fake:slow=90s]).
	Slow time.Duration
	// NoCallback: no callback is sent, so only polling finishes the task
	// ([fake:nocallback]).
	NoCallback bool
	// MediaBase: the task's track URLs point at this http(s) base instead
	// of the fake's own host, as a wrong or hostile answer would
	// ([fake:media-base=http://elsewhere:8080]).
	MediaBase string
}

var directiveRE = regexp.MustCompile(`(?i)\[fake:([a-z][a-z0-9_-]*)(?:=([^\]]*))?\]`)

// ParseDirectives reads every [fake:…] directive in prompt. Unknown
// directives and values that do not parse (a negative count, a bad
// duration) are ignored, as a real prompt could contain anything.
func ParseDirectives(prompt string) Directives {
	var d Directives
	for _, m := range directiveRE.FindAllStringSubmatch(prompt, -1) {
		name, value := strings.ToLower(m[1]), strings.TrimSpace(m[2])
		switch name {
		case "fail":
			if n, err := strconv.Atoi(value); err == nil && n >= 0 {
				d.Fail = n
			}
		case "ratelimit":
			if n, err := strconv.Atoi(value); err == nil && n >= 0 {
				d.RateLimit = n
			}
		case "audio-failed":
			d.AudioFailed = true
		case "sensitive":
			d.Sensitive = true
		case "slow":
			if v, err := time.ParseDuration(value); err == nil && v > 0 {
				d.Slow = v
			}
		case "nocallback":
			d.NoCallback = true
		case "media-base":
			if u, err := url.Parse(value); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
				d.MediaBase = strings.TrimRight(value, "/")
			}
		}
	}
	return d
}

// stripDirectives removes the directives from a prompt, for fake titles.
func stripDirectives(prompt string) string {
	return strings.Join(strings.Fields(directiveRE.ReplaceAllString(prompt, " ")), " ")
}
