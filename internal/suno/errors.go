package suno

import (
	"fmt"

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

// APIError is an error answer from the Suno API. Code is the body's "code"
// (0 when the body could not be read as Suno JSON) and HTTPStatus the HTTP
// status of the response.
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
// 405 is "method not allowed" (our bug, permanent), not Suno's rate limit.
func (e *APIError) FailureKind() generation.FailureKind {
	if e.Code != 0 && e.Code != CodeOK {
		return classifyCode(e.Code)
	}
	return classifyHTTPStatus(e.HTTPStatus)
}

// classifyCode maps a Suno body code (API answers and callbacks alike) to a
// failure kind, following DESIGN.md §6.
func classifyCode(code int) generation.FailureKind {
	switch {
	case code == CodeRateLimited, code == CodeTooFrequent:
		return generation.RateLimited
	case code == CodeInsufficientCredit:
		// Insufficient credits is not a rate limit: waiting does not refill
		// the account, an operator has to top it up. Treating it as
		// RateLimited would retry forever without spending attempts; as
		// Transient it is retried with backoff (the operator may top up in
		// the meantime) and then the generation fails visibly.
		return generation.Transient
	case code == CodeMaintenance, code == CodeTimeout:
		return generation.Transient
	case code >= 500 && code <= 599:
		return generation.Transient
	case code >= 400 && code <= 499:
		// 400 invalid parameters or copyrighted lyrics, 401 bad key, 404,
		// 413 too long or matching an existing work: the same request will
		// be refused again.
		return generation.Permanent
	}
	// An undocumented code: like any unclassified error, worth another try.
	return generation.Transient
}

func classifyHTTPStatus(status int) generation.FailureKind {
	switch {
	case status == 429: // Too Many Requests from a gateway in front of Suno
		return generation.RateLimited
	case status == 408:
		return generation.Transient
	case status >= 400 && status <= 499:
		return generation.Permanent
	}
	return generation.Transient
}
