package suno

import (
	"fmt"
	"strings"

	"github.com/songqueue/songqueue/internal/generation"
)

// Response codes sunoapi.org puts in the body's "code" field. The service
// usually answers HTTP 200 and reports errors only there.
// Source: the status-code tables of https://docs.sunoapi.org/suno-api/generate-music
// and https://docs.sunoapi.org/suno-api/generate-music-callbacks.
const (
	CodeOK                 = 200
	CodeInvalidParams      = 400 // also: lyrics contain copyrighted material (callbacks)
	CodeUnauthorized       = 401
	CodeNotFound           = 404 // invalid method or path
	CodeRateLimited        = 405 // rate limit exceeded
	CodeTimeout            = 408 // callbacks: generation timed out
	CodeTooLong            = 413 // prompt too long; callbacks: audio matches an existing work
	CodeInsufficientCredit = 429 // insufficient credits, NOT a rate limit
	CodeTooFrequent        = 430 // call frequency too high
	CodeMaintenance        = 455 // system maintenance
	CodeServerError        = 500
	CodeAudioFailed        = 501 // callbacks: audio generation failed
	CodeRefunded           = 531 // callbacks: generation failed, credits refunded
)

// codeForbidden is a 403 in the body, undocumented but read like 401.
const codeForbidden = 403

// APIError is an error answer from the Suno API. Code is the body's "code"
// (0 when the body could not be read as Suno JSON) and HTTPStatus the HTTP
// status of the response.
//
// Its Error text is for logs; generation.MessageOf gives the plain message
// for a person (FailureMessage), generation.CodeOf the owner's error code
// (FailureCode) and generation.OutageOf why Suno is unavailable when it is
// (Outage).
type APIError struct {
	HTTPStatus int
	Code       int
	Msg        string
}

func (e *APIError) Error() string {
	switch {
	case e.Code != 0 && e.Msg != "":
		return fmt.Sprintf("suno: code %d (HTTP %d): %s", e.Code, e.HTTPStatus, e.Msg)
	case e.Code != 0:
		return fmt.Sprintf("suno: code %d (HTTP %d)", e.Code, e.HTTPStatus)
	case e.Msg != "":
		return fmt.Sprintf("suno: HTTP %d: %s", e.HTTPStatus, e.Msg)
	}
	return fmt.Sprintf("suno: HTTP %d", e.HTTPStatus)
}

// FailureKind classifies the error for the retry policy. The body's code
// wins whenever there is one, because sunoapi.org answers HTTP 200 for most
// errors. Without a code (a proxy's HTML page, a load balancer's 503) the
// HTTP status is read with its ordinary HTTP meaning, which differs: HTTP
// 405 is "method not allowed" (our bug, permanent), not Suno's rate limit,
// and HTTP 429 is a gateway's Too Many Requests, not Suno's "insufficient
// credits".
func (e *APIError) FailureKind() generation.FailureKind { return e.verdict().kind }

// Outage says why Suno as a whole is unavailable, or "" when the error is
// not Suno-wide (generation.OutageOf then reports false).
func (e *APIError) Outage() generation.Outage { return e.verdict().outage }

// FailureCode is the owner's error code (one of generation.ErrorCodes).
func (e *APIError) FailureCode() string { return e.verdict().code }

// FailureMessage is a plain sentence for a person; it never holds Suno's
// raw message.
func (e *APIError) FailureMessage() string {
	v := e.verdict()
	if v.code == generation.CodeContentRefused {
		return refusalMessage(e.Msg)
	}
	return v.message()
}

func (e *APIError) verdict() verdict {
	if e.Code != 0 && e.Code != CodeOK {
		return apiCodeVerdict(e.Code)
	}
	return httpStatusVerdict(e.HTTPStatus)
}

// verdict is what a failure means: its kind, the outage when Suno-wide,
// and the owner's error code.
type verdict struct {
	kind   generation.FailureKind
	outage generation.Outage
	code   string
}

func (v verdict) message() string {
	if v.outage != "" {
		return generation.OutageMessage(v.outage)
	}
	return generation.MessageFor(v.code)
}

var (
	rateLimited  = verdict{kind: generation.RateLimited, code: generation.CodeRateLimited}
	sunoError    = verdict{kind: generation.Transient, code: generation.CodeSunoError}
	ourMistake   = verdict{kind: generation.Permanent, code: generation.CodeSunoError}
	refused      = verdict{kind: generation.Permanent, code: generation.CodeContentRefused}
	tooLong      = verdict{kind: generation.Permanent, code: generation.CodePromptTooLong}
	audioFailed  = verdict{kind: generation.Transient, code: generation.CodeAudioFailed}
	taskTimedOut = verdict{kind: generation.Transient, code: generation.CodeSunoTimeout}
)

func outage(o generation.Outage) verdict {
	return verdict{kind: generation.Unavailable, outage: o, code: generation.OutageCode(o)}
}

// suspect is the verdict of a server error or an unreachable Suno: one
// such answer may be the song's (a transient failure, as DESIGN.md §6
// says), and only a window of outcomes across workers tells that Suno as
// a whole is down (the breaker). The outage says which trouble it would be.
func suspect(o generation.Outage) verdict {
	return verdict{kind: generation.Transient, outage: o, code: generation.CodeSunoError}
}

// sunoWide is the verdict of the body codes that mean Suno cannot serve
// anyone, in an API answer and a callback alike.
func sunoWide(code int) (verdict, bool) {
	switch code {
	case CodeMaintenance:
		return outage(generation.OutageMaintenance), true
	case CodeInsufficientCredit:
		// Not a rate limit: waiting does not refill the account, an
		// operator has to top it up.
		return outage(generation.OutageCredits), true
	case CodeUnauthorized, codeForbidden:
		return outage(generation.OutageKeyRefused), true
	}
	return verdict{}, false
}

// apiCodeVerdict maps the body code of an API answer (submit, record-info,
// credit) to a verdict, following DESIGN.md §6.
func apiCodeVerdict(code int) verdict {
	if v, ok := sunoWide(code); ok {
		return v
	}
	switch {
	case code == CodeRateLimited, code == CodeTooFrequent:
		return rateLimited
	case code == CodeServerError:
		// Suno's API answered, in its own envelope, that this request
		// failed: Suno is up, and the failure is the song's, transient. A
		// server that is not answering at all (a gateway's 5xx page, a
		// dropped connection, a timeout) is what suspects an outage.
		return sunoError
	case code == CodeInvalidParams:
		// Invalid parameters, sensitive words, copyrighted lyrics: the
		// same request will be refused again.
		return refused
	case code == CodeTooLong:
		return tooLong
	case code == CodeTimeout:
		return sunoError
	case code >= 400 && code <= 499:
		// 404 (our path is wrong) and undocumented 4xx: refused again.
		return ourMistake
	}
	// Other 5xx (501 and 531 belong to callbacks) and undocumented codes:
	// like any unclassified error, worth another try.
	return sunoError
}

// callbackCodeVerdict maps the code Suno reports for a task (a callback)
// to a verdict. A task's failure is the song's, not Suno-wide, except for
// the codes that are Suno-wide wherever they appear (maintenance, credits,
// key).
func callbackCodeVerdict(code int) verdict {
	if v, ok := sunoWide(code); ok {
		return v
	}
	switch {
	case code == CodeRateLimited, code == CodeTooFrequent:
		return rateLimited
	case code == CodeInvalidParams, code == CodeTooLong:
		// Copyrighted lyrics; the audio matches an existing work.
		return refused
	case code == CodeTimeout:
		return taskTimedOut
	case code == CodeAudioFailed, code == CodeRefunded:
		return audioFailed
	case code >= 400 && code <= 499:
		return ourMistake
	}
	// 500 and other codes: the task failed, worth another try.
	return sunoError
}

// httpStatusVerdict reads an HTTP status without a Suno body code.
func httpStatusVerdict(status int) verdict {
	switch {
	case status == 429: // Too Many Requests from a gateway in front of Suno
		return rateLimited
	case status == 401, status == 403:
		return outage(generation.OutageKeyRefused)
	case status == 408:
		return sunoError
	case status >= 400 && status <= 499:
		return ourMistake
	case status >= 500 && status <= 599:
		return suspect(generation.OutageServer)
	}
	return sunoError
}

// refusalMessage is the plain message of content_refused, as precise as
// Suno's raw message allows.
func refusalMessage(raw string) string {
	raw = strings.ToLower(raw)
	switch {
	case strings.Contains(raw, "sensitive"):
		return "Suno refused the prompt: it may contain sensitive words"
	case strings.Contains(raw, "copyright"):
		return "Suno refused the lyrics: they may contain copyrighted material"
	case strings.Contains(raw, "existing work"), strings.Contains(raw, "matches"):
		return "Suno refused the song: the audio matches an existing work"
	}
	return generation.MessageFor(generation.CodeContentRefused)
}

// UnreachableError is a failure to talk to Suno at all: connection refused
// or reset, the connection closed before an answer, DNS or TLS failure, the
// HTTP client's timeout or the call's context deadline. Suno is then
// unavailable (generation.OutageUnreachable), which is not the song's
// fault. Err is the HTTP client's error, kept for the log.
type UnreachableError struct {
	Err error
}

func (e *UnreachableError) Error() string { return "Suno unreachable: " + e.Err.Error() }
func (e *UnreachableError) Unwrap() error { return e.Err }

// FailureKind is generation.Transient: one unreachable answer may be a
// blip; the breaker's window decides whether Suno is down.
func (e *UnreachableError) FailureKind() generation.FailureKind { return generation.Transient }

// Outage is generation.OutageUnreachable.
func (e *UnreachableError) Outage() generation.Outage { return generation.OutageUnreachable }

// FailureCode is generation.CodeSunoError.
func (e *UnreachableError) FailureCode() string { return generation.CodeSunoError }

// FailureMessage is a plain sentence, without the address or the Go
// error.
func (e *UnreachableError) FailureMessage() string {
	return generation.OutageMessage(generation.OutageUnreachable)
}
