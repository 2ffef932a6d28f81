package suno

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// envelope is the common shape of every sunoapi.org answer and callback.
// Code is a pointer so that a body without one (not Suno JSON at all) can be
// told apart from code 0.
type envelope struct {
	Code *int            `json:"code"`
	Msg  string          `json:"msg"`
	Data json.RawMessage `json:"data"`
}

// wireTrack decodes a track in both spellings the docs use: camelCase in
// record-info (sunoData[].audioUrl) and snake_case in callbacks
// (data[].audio_url). Some doc pages also show snake_case under
// record-info's response.data, so accepting both everywhere costs nothing.
type wireTrack struct {
	ID string `json:"id"`

	AudioURL       string `json:"audioUrl"`
	StreamAudioURL string `json:"streamAudioUrl"`
	ImageURL       string `json:"imageUrl"`

	AudioURLSnake       string `json:"audio_url"`
	StreamAudioURLSnake string `json:"stream_audio_url"`
	ImageURLSnake       string `json:"image_url"`

	Title    string    `json:"title"`
	Duration flexFloat `json:"duration"`
	// CreateTime is documented as "2025-01-01 00:00:00" but also arrives as
	// epoch milliseconds. It is parsed leniently so that neither shape
	// breaks decoding; the project's tracks do not carry it.
	CreateTime  flexTime `json:"createTime"`
	CreateTime2 flexTime `json:"create_time"`
}

func (w wireTrack) track() generation.Track {
	return generation.Track{
		ID:             w.ID,
		AudioURL:       firstNonEmpty(w.AudioURL, w.AudioURLSnake),
		StreamAudioURL: firstNonEmpty(w.StreamAudioURL, w.StreamAudioURLSnake),
		ImageURL:       firstNonEmpty(w.ImageURL, w.ImageURLSnake),
		Title:          w.Title,
		Duration:       float64(w.Duration),
	}
}

func tracksOf(ws []wireTrack) []generation.Track {
	if len(ws) == 0 {
		return nil
	}
	ts := make([]generation.Track, 0, len(ws))
	for _, w := range ws {
		ts = append(ts, w.track())
	}
	return ts
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// flexFloat accepts a JSON number, a numeric string, null or "". Duration is
// null while a track is still streaming. Anything else decodes to 0 rather
// than failing: a finished song must not be lost over its duration field.
type flexFloat float64

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	*f = 0
	b = bytes.TrimSpace(b)
	var v float64
	if len(b) > 0 && b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) == nil {
			if n, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
				v = n
			}
		}
	} else if json.Unmarshal(b, &v) != nil {
		v = 0
	}
	if !math.IsNaN(v) && !math.IsInf(v, 0) {
		*f = flexFloat(v)
	}
	return nil
}

// flexTime accepts createTime as "2006-01-02 15:04:05" (the docs' example,
// no zone given: read as UTC), RFC 3339, epoch milliseconds (number or
// numeric string) or null. Anything else decodes to the zero time instead of
// failing: a track must not be lost over a timestamp.
type flexTime struct{ time.Time }

// epochMillisThreshold separates seconds from milliseconds: 1e11 seconds is
// the year 5138, 1e11 milliseconds is 1973.
const epochMillisThreshold = 1e11

func (t *flexTime) UnmarshalJSON(b []byte) error {
	t.Time = time.Time{}
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) == nil {
			t.Time = parseTimeString(strings.TrimSpace(s))
		}
		return nil
	}
	var n float64
	if json.Unmarshal(b, &n) == nil { // null leaves n at 0
		t.Time = epochTime(n)
	}
	return nil
}

func parseTimeString(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return epochTime(n)
	}
	for _, layout := range []string{time.DateTime, time.RFC3339Nano, "2006-01-02T15:04:05"} {
		if v, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return v
		}
	}
	return time.Time{}
}

func epochTime(n float64) time.Time {
	if n <= 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return time.Time{}
	}
	if n < epochMillisThreshold {
		return time.Unix(0, int64(n*float64(time.Second))).UTC()
	}
	return time.UnixMilli(int64(n)).UTC()
}
