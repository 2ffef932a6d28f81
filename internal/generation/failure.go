package generation

import (
	"errors"
	"slices"
)

// FailureKind says what a failed attempt means for the job.
type FailureKind int

const (
	// Transient failures are retried with backoff and count as an attempt:
	// the song's own trouble or a blip, nobody can tell which.
	Transient FailureKind = iota
	// RateLimited means "come back later" (Suno's 405/430 call frequency,
	// a gateway's HTTP 429): retried, but not an attempt.
	RateLimited
	// Permanent failures are the song's own fault (a refused prompt, a
	// prompt too long): the generation ends at once.
	Permanent
	// Unavailable means Suno as a whole cannot serve anyone right now
	// (maintenance, no credits, key refused, server errors, unreachable).
	// It is never the song's fault: retried, but not an attempt. OutageOf
	// says why.
	Unavailable
)

func (k FailureKind) String() string {
	switch k {
	case RateLimited:
		return "rate_limited"
	case Permanent:
		return "permanent"
	case Unavailable:
		return "unavailable"
	default:
		return "transient"
	}
}

// Classifier is implemented by errors that know their own kind, such as
// Suno's API errors.
type Classifier interface {
	FailureKind() FailureKind
}

// Classify returns the kind of err. Errors that do not say are transient:
// a network error or a timeout is worth another try.
func Classify(err error) FailureKind {
	var c Classifier
	if errors.As(err, &c) {
		return c.FailureKind()
	}
	return Transient
}

// Outage names why Suno as a whole is unavailable. The list is closed:
// Outages holds every value.
type Outage string

const (
	// OutageMaintenance: Suno answered body code 455, system maintenance.
	OutageMaintenance Outage = "maintenance"
	// OutageCredits: Suno answered body code 429, insufficient credits (not
	// a rate limit: an operator has to top the account up).
	OutageCredits Outage = "credits"
	// OutageKeyRefused: Suno refused the API key (401 or 403, as the body's
	// code or the HTTP status).
	OutageKeyRefused Outage = "key_refused"
	// OutageServer: Suno's servers fail: HTTP 5xx without a Suno body code,
	// or body code 500 answering an API call. A task's own failure reported
	// by a callback (501, 531) is not an outage.
	OutageServer Outage = "server_error"
	// OutageUnreachable: Suno could not be talked to at all: connection
	// refused or reset, the connection closed early, DNS or TLS failure,
	// the HTTP client's timeout or the call's context deadline. The
	// caller's own cancellation is not an outage.
	OutageUnreachable Outage = "unreachable"
)

// Certain reports whether one answer proves the trouble Suno-wide
// (maintenance, credits, a refused key); a server error or an unreachable
// Suno is only suspected from one answer, and a window of answers across
// workers decides (the breaker).
func (o Outage) Certain() bool {
	return o == OutageMaintenance || o == OutageCredits || o == OutageKeyRefused
}

// Outages lists every Outage.
var Outages = []Outage{OutageMaintenance, OutageCredits, OutageKeyRefused, OutageServer, OutageUnreachable}

// OutageReporter is implemented by errors that can say Suno is unavailable
// as a whole. An empty Outage means the error is not Suno-wide.
type OutageReporter interface {
	Outage() Outage
}

// OutageOf reports why Suno is unavailable when err says it is: an error
// in err's chain implementing OutageReporter with a non-empty answer, or a
// *Failure of kind Unavailable with its Outage set.
func OutageOf(err error) (Outage, bool) {
	var r OutageReporter
	if errors.As(err, &r) {
		if o := r.Outage(); o != "" {
			return o, true
		}
		return "", false
	}
	var f *Failure
	if errors.As(err, &f) && f.Kind == Unavailable && f.Outage != "" {
		return f.Outage, true
	}
	return "", false
}

// The error codes a generation's owner is shown when it fails: a closed
// list, each stable and snake_case. ErrorCodes holds them all.
const (
	// CodeContentRefused: Suno refused the song's content: body code 400
	// (invalid parameters, sensitive words, copyrighted lyrics) or, reported
	// for a task, 413 (the audio matches an existing work).
	CodeContentRefused = "content_refused"
	// CodePromptTooLong: Suno answered 413 to the submission (prompt, style
	// or title too long).
	CodePromptTooLong = "prompt_too_long"
	// CodeAudioFailed: Suno reported that the task's audio failed (callback
	// codes 501 and 531, status GENERATE_AUDIO_FAILED): a transient failure
	// of one attempt, retried like any (DESIGN.md §6), not the song's end;
	// a song whose every attempt fails so ends CodeAttemptsExhausted.
	CodeAudioFailed = "audio_failed"
	// CodeSunoTimeout: Suno did not finish the song in time (set by the
	// service; also a task's callback code 408).
	CodeSunoTimeout = "suno_timeout"
	// CodeSunoError: anything else Suno got wrong, unclassified or
	// transient; the code of any error that says nothing better.
	CodeSunoError = "suno_error"
	// CodeSunoUnavailable: Suno was unavailable (maintenance, server
	// errors, unreachable).
	CodeSunoUnavailable = "suno_unavailable"
	// CodeSunoCredits: the Suno account has run out of credits.
	CodeSunoCredits = "suno_credits"
	// CodeSunoKeyRefused: Suno refused the service's API key.
	CodeSunoKeyRefused = "suno_key_refused"
	// CodeRateLimited: Suno asked to slow down (405/430, a gateway's 429).
	CodeRateLimited = "rate_limited"
	// CodeMaxWaitExceeded: the song was held (Suno unavailable, out of
	// credits, its tier paused) for longer than GENERATION_MAX_WAIT (set by
	// the service).
	CodeMaxWaitExceeded = "max_wait_exceeded"
	// CodeAttemptsExhausted: every attempt failed with a transient error
	// (set by the service; the message says the last one).
	CodeAttemptsExhausted = "attempts_exhausted"
	// CodeWorkerStopped: the worker stopped before submitting the song to
	// Suno (set by the service).
	CodeWorkerStopped = "worker_stopped"
	// CodeInvalidTracks: Suno returned track data the service cannot accept
	// (set by the service).
	CodeInvalidTracks = "invalid_tracks"
	// CodeUnknownTask: Suno does not know the task (any more): ErrUnknownTask.
	CodeUnknownTask = "unknown_task"
)

// ErrorCodes lists every error code, for checking the API's description
// against.
var ErrorCodes = []string{
	CodeContentRefused, CodePromptTooLong, CodeAudioFailed, CodeSunoTimeout,
	CodeSunoError, CodeSunoUnavailable, CodeSunoCredits, CodeSunoKeyRefused,
	CodeRateLimited, CodeMaxWaitExceeded, CodeAttemptsExhausted, CodeWorkerStopped, CodeInvalidTracks,
	CodeUnknownTask,
}

// codeMessages is the plain message of each code, for errors that carry no
// better one. Messages are sentences for a person: no URL, host, address or
// Go error chain.
var codeMessages = map[string]string{
	CodeContentRefused:    "Suno refused the prompt: it may contain sensitive words or copyrighted lyrics",
	CodePromptTooLong:     "The prompt, style or title is too long for Suno",
	CodeAudioFailed:       "Suno could not generate the audio",
	CodeSunoTimeout:       "Suno did not finish the song in time",
	CodeSunoError:         "Suno could not make the song this time",
	CodeSunoUnavailable:   "Suno is unavailable right now",
	CodeSunoCredits:       "The Suno account has run out of credits",
	CodeSunoKeyRefused:    "Suno refused the service's API key",
	CodeRateLimited:       "Suno is receiving too many requests right now",
	CodeMaxWaitExceeded:   "The song was held longer than the service waits (Suno unavailable, or its plan paused)",
	CodeAttemptsExhausted: "Suno could not make the song after every try",
	CodeWorkerStopped:     "The worker stopped before submitting the song to Suno",
	CodeInvalidTracks:     "Suno returned track data the service cannot accept",
	CodeUnknownTask:       "Suno does not know the song's task any more",
}

// MessageFor returns the plain message of code, or the one of
// CodeSunoError for a code not in ErrorCodes.
func MessageFor(code string) string {
	if m, ok := codeMessages[code]; ok {
		return m
	}
	return codeMessages[CodeSunoError]
}

// OutageMessage returns the plain message for an outage.
func OutageMessage(o Outage) string {
	switch o {
	case OutageMaintenance:
		return "Suno is down for maintenance"
	case OutageCredits:
		return codeMessages[CodeSunoCredits]
	case OutageKeyRefused:
		return codeMessages[CodeSunoKeyRefused]
	case OutageServer:
		return "Suno's servers are having trouble right now"
	case OutageUnreachable:
		return "Suno cannot be reached right now"
	}
	return codeMessages[CodeSunoUnavailable]
}

// OutageCode returns the error code of an outage.
func OutageCode(o Outage) string {
	switch o {
	case OutageCredits:
		return CodeSunoCredits
	case OutageKeyRefused:
		return CodeSunoKeyRefused
	}
	return CodeSunoUnavailable
}

func knownCode(code string) bool {
	_, ok := codeMessages[code]
	return ok
}

// Explainer is implemented by errors that know the error code and plain
// message to show a generation's owner, such as *Failure and Suno's API
// errors.
type Explainer interface {
	// FailureCode is one of ErrorCodes.
	FailureCode() string
	// FailureMessage is a plain sentence: no URL, host, address or Go
	// error chain.
	FailureMessage() string
}

// CodeOf returns the error code, one of ErrorCodes, to show the owner of a
// generation that failed with err: the code of an Explainer in err's
// chain, else one following from err's kind and outage (CodeSunoError for
// an error that says nothing).
func CodeOf(err error) string {
	var e Explainer
	if errors.As(err, &e) {
		if c := e.FailureCode(); knownCode(c) {
			return c
		}
	}
	return derivedCode(err)
}

// MessageOf returns the plain message to show the owner of a generation
// that failed with err, matching CodeOf: an Explainer's message, else the
// message of the code (or outage). Never a URL, host or Go error chain,
// provided Explainers keep to that.
func MessageOf(err error) string {
	var e Explainer
	if errors.As(err, &e) {
		if c := e.FailureCode(); knownCode(c) {
			if m := e.FailureMessage(); m != "" {
				return m
			}
			return MessageFor(c)
		}
	}
	if o, ok := OutageOf(err); ok {
		return OutageMessage(o)
	}
	return MessageFor(derivedCode(err))
}

// derivedCode is the code of err from its kind and outage alone.
func derivedCode(err error) string {
	if err == nil {
		return CodeSunoError
	}
	if o, ok := OutageOf(err); ok {
		return OutageCode(o)
	}
	switch Classify(err) {
	case Unavailable:
		return CodeSunoUnavailable
	case RateLimited:
		return CodeRateLimited
	}
	return CodeSunoError
}

// Failure is an error with an explicit kind.
type Failure struct {
	Kind FailureKind
	// Code is one of ErrorCodes; empty means the one following from Kind
	// and Outage (see CodeOf).
	Code string
	// Reason is the plain message shown to the generation's owner: a
	// sentence, never a URL, host, address or Go error chain. It is shown
	// only when Code is set; otherwise MessageOf gives the code's message.
	Reason string
	// Detail is for the log only (Error includes it): Suno's raw message,
	// a task id, a status.
	Detail string
	// Outage says why Suno is unavailable when Kind is Unavailable.
	Outage Outage
}

// Error is Reason, followed by Detail when there is one.
func (f *Failure) Error() string {
	switch {
	case f.Detail == "":
		return f.Reason
	case f.Reason == "":
		return f.Detail
	}
	return f.Reason + ": " + f.Detail
}

func (f *Failure) FailureKind() FailureKind { return f.Kind }

// FailureCode is Code when it is one of ErrorCodes, else the code
// following from Kind and Outage.
func (f *Failure) FailureCode() string {
	if knownCode(f.Code) {
		return f.Code
	}
	switch {
	case f.Kind == Unavailable:
		return OutageCode(f.Outage)
	case f.Kind == RateLimited:
		return CodeRateLimited
	}
	return CodeSunoError
}

// FailureMessage is Reason when Code is set, else the message of the code
// (or outage).
func (f *Failure) FailureMessage() string {
	if knownCode(f.Code) && f.Reason != "" {
		return f.Reason
	}
	if f.Kind == Unavailable && f.Outage != "" {
		return OutageMessage(f.Outage)
	}
	return MessageFor(f.FailureCode())
}

// ErrUnknownTask is the answer about a task the music service does not
// know, or no longer knows (it forgot it, or was restarted): the attempt
// cannot finish and is retried like any transient failure.
var ErrUnknownTask = &Failure{Kind: Transient, Code: CodeUnknownTask, Reason: "Suno does not know the task (any more)"}

// KnownErrorCode reports whether code is one of ErrorCodes.
func KnownErrorCode(code string) bool {
	return slices.Contains(ErrorCodes, code)
}
