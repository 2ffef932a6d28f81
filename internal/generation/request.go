package generation

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Request is what a user asks Suno to make. Field names match the HTTP API.
type Request struct {
	Prompt       string `json:"prompt"`
	Style        string `json:"style,omitempty"`
	Title        string `json:"title,omitempty"`
	Instrumental bool   `json:"instrumental"`
	Model        string `json:"model"`
	CustomMode   bool   `json:"customMode"`
	NegativeTags string `json:"negativeTags,omitempty"`
}

// DefaultModel is used when a request names none.
const DefaultModel = "V4_5"

// Limits are Suno's maximum field lengths, in characters.
type Limits struct {
	Prompt int `json:"prompt"`
	Style  int `json:"style"`
	Title  int `json:"title"`
}

// NonCustomPromptLimit is the prompt limit when customMode is false, for
// every model. Source: docs.sunoapi.org/suno-api/generate-music.
const NonCustomPromptLimit = 500

// negativeTagsLimit is ours: Suno documents none, and an unbounded free-text
// field is an invitation to abuse.
const negativeTagsLimit = 200

// customLimits are the custom-mode limits per model, from the same page.
var customLimits = map[string]Limits{
	"V4":       {Prompt: 3000, Style: 200, Title: 80},
	"V4_5":     {Prompt: 5000, Style: 1000, Title: 100},
	"V4_5PLUS": {Prompt: 5000, Style: 1000, Title: 100},
	"V4_5ALL":  {Prompt: 5000, Style: 1000, Title: 80},
	"V5":       {Prompt: 5000, Style: 1000, Title: 100},
	"V5_5":     {Prompt: 5000, Style: 1000, Title: 100},
}

// Models lists the models Suno accepts, oldest first.
var Models = []string{"V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5", "V5_5"}

// ModelLimits returns the limits that apply to model in the given mode.
func ModelLimits(model string, customMode bool) (Limits, bool) {
	l, ok := customLimits[model]
	if !ok {
		return Limits{}, false
	}
	if !customMode {
		return Limits{Prompt: NonCustomPromptLimit}, true
	}
	return l, true
}

// FieldError is a validation failure of one field, with a message that
// tells the user how to fix it.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Normalize trims surrounding whitespace and fills in the default model.
func (r Request) Normalize() Request {
	r.Prompt = strings.TrimSpace(r.Prompt)
	r.Style = strings.TrimSpace(r.Style)
	r.Title = strings.TrimSpace(r.Title)
	r.NegativeTags = strings.TrimSpace(r.NegativeTags)
	r.Model = strings.TrimSpace(r.Model)
	if r.Model == "" {
		r.Model = DefaultModel
	}
	return r
}

// Validate checks r (already normalized) against Suno's rules, so that a
// request Suno would refuse is refused here, before it costs a queue slot.
func (r Request) Validate() error {
	limits, ok := ModelLimits(r.Model, r.CustomMode)
	if !ok {
		return &FieldError{"model", fmt.Sprintf("unknown model %q: use one of %s", r.Model, strings.Join(Models, ", "))}
	}
	for _, f := range []struct{ name, value string }{
		{"prompt", r.Prompt}, {"style", r.Style}, {"title", r.Title}, {"negativeTags", r.NegativeTags},
	} {
		if !utf8.ValidString(f.value) {
			return &FieldError{f.name, "must be valid UTF-8 text"}
		}
		if strings.ContainsRune(f.value, 0) {
			return &FieldError{f.name, "must not contain NUL characters"}
		}
	}
	if !r.CustomMode {
		if r.Prompt == "" {
			return &FieldError{"prompt", "is required: describe the song you want"}
		}
		if r.Style != "" || r.Title != "" {
			return &FieldError{"customMode", "style and title are only used in custom mode: set customMode to true or leave them empty"}
		}
	} else {
		if r.Style == "" {
			return &FieldError{"style", "is required in custom mode"}
		}
		if r.Title == "" {
			return &FieldError{"title", "is required in custom mode"}
		}
		if !r.Instrumental && r.Prompt == "" {
			return &FieldError{"prompt", "is required in custom mode unless instrumental is true: it holds the lyrics"}
		}
	}
	if err := maxLen("prompt", r.Prompt, limits.Prompt, r); err != nil {
		return err
	}
	if err := maxLen("style", r.Style, limits.Style, r); err != nil {
		return err
	}
	if err := maxLen("title", r.Title, limits.Title, r); err != nil {
		return err
	}
	return maxLen("negativeTags", r.NegativeTags, negativeTagsLimit, r)
}

func maxLen(field, value string, limit int, r Request) error {
	n := utf8.RuneCountInString(value)
	if n <= limit {
		return nil
	}
	mode := "non-custom mode"
	if r.CustomMode {
		mode = "custom mode with model " + r.Model
	}
	if field == "negativeTags" {
		mode = "any mode"
	}
	return &FieldError{field, fmt.Sprintf("is %d characters long; the limit in %s is %d", n, mode, limit)}
}
