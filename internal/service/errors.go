package service

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies a user-facing error; transports map it to a status code.
type Kind int

const (
	KindInvalid   Kind = iota + 1 // the request is malformed
	KindNotFound                  // no such resource, or not the caller's
	KindConflict                  // the resource is in the wrong state
	KindQuota                     // the caller's quota is used up; RetryAfter says when it frees
	KindForbidden                 // the caller may not do this (operator routes)
)

// Error is an error meant for the caller, with a stable snake_case code and
// a message that says how to fix the request.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	// RetryAfter is when trying again may succeed (KindQuota).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func invalid(code, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Code: code, Message: fmt.Sprintf(format, args...)}
}

func notFound(id string) *Error {
	return &Error{Kind: KindNotFound, Code: "not_found", Message: fmt.Sprintf("no generation %q belongs to you", id)}
}

// Wiring errors: a role assembled without a port its configuration needs.
var (
	errMissingCopies = errors.New("Config.Archive is set, but the role was given no Media (and, for the worker, no Fetcher) to keep the copies with")
	errNoCallbackKey = errors.New("no callback signing key is configured")
)
