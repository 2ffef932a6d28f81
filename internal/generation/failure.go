package generation

import "errors"

// FailureKind says what a failed attempt means for the job.
type FailureKind int

const (
	// Transient failures are retried with backoff and count as an attempt.
	Transient FailureKind = iota
	// RateLimited means "come back later": retried, but not an attempt.
	RateLimited
	// Permanent failures end the generation at once.
	Permanent
)

func (k FailureKind) String() string {
	switch k {
	case RateLimited:
		return "rate_limited"
	case Permanent:
		return "permanent"
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

// Failure is an error with an explicit kind.
type Failure struct {
	Kind   FailureKind
	Reason string
}

func (f *Failure) Error() string            { return f.Reason }
func (f *Failure) FailureKind() FailureKind { return f.Kind }

// ErrUnknownTask is the answer about a task the music service does not
// know, or no longer knows (it forgot it, or was restarted): the attempt
// cannot finish and is retried like any transient failure.
var ErrUnknownTask = &Failure{Kind: Transient, Reason: "Suno does not know the task (any more)"}
