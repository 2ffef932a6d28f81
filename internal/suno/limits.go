package suno

// Field limits of POST /api/v1/generate, in characters.
//
// Source: https://docs.sunoapi.org/suno-api/generate-music ("Parameter Usage
// Guide"), which lists for custom mode:
//   - prompt: V4 3000; V4_5, V4_5PLUS, V4_5ALL, V5 and V5_5 5000
//   - style:  V4 200;  V4_5, V4_5PLUS, V4_5ALL, V5 and V5_5 1000
//   - title:  V4 and V4_5ALL 80; V4_5, V4_5PLUS, V5 and V5_5 100
//
// and for non-custom mode a 500-character prompt with the other fields left
// empty. V3_5 is no longer listed there; its limits (3000/200/80) come from
// the older copy of the same page (https://old-docs.kie.ai/suno-api/generate-music),
// so the service may refuse it.

// Limits are the maximum lengths, in characters, of a request's text fields.
// A zero Style or Title means the field is not used in that mode and should
// be left empty.
type Limits struct {
	Prompt, Style, Title int
}

// DefaultModel is the model used when a request names none. V4_5 is the
// oldest model with the long (5000/1000/100) limits and is widely available.
const DefaultModel = "V4_5"

// Models lists the model names the API accepts, oldest first.
var Models = []string{"V3_5", "V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5", "V5_5"}

// nonCustomPromptLimit applies to every model when customMode is false.
const nonCustomPromptLimit = 500

var customLimits = map[string]Limits{
	"V3_5":     {Prompt: 3000, Style: 200, Title: 80},
	"V4":       {Prompt: 3000, Style: 200, Title: 80},
	"V4_5":     {Prompt: 5000, Style: 1000, Title: 100},
	"V4_5PLUS": {Prompt: 5000, Style: 1000, Title: 100},
	"V4_5ALL":  {Prompt: 5000, Style: 1000, Title: 80},
	"V5":       {Prompt: 5000, Style: 1000, Title: 100},
	"V5_5":     {Prompt: 5000, Style: 1000, Title: 100},
}

// ModelLimits returns the field limits of model in the given mode, and false
// if the model is unknown.
func ModelLimits(model string, customMode bool) (Limits, bool) {
	l, ok := customLimits[model]
	if !ok {
		return Limits{}, false
	}
	if !customMode {
		return Limits{Prompt: nonCustomPromptLimit}, true
	}
	return l, true
}
