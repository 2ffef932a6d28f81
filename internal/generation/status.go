package generation

import "fmt"

// Status is where a generation is in its life.
type Status string

const (
	Pending    Status = "pending"
	Processing Status = "processing"
	Completed  Status = "completed"
	Failed     Status = "failed"
	Cancelled  Status = "cancelled"
)

// Terminal reports whether s is an end: no stage of the pipeline leaves
// it (only an operator's Revive takes a failed generation back).
func (s Status) Terminal() bool {
	return s == Completed || s == Failed || s == Cancelled
}

// transitions is the lifecycle, in one place. processing→pending is a retry
// waiting for its backoff; processing→processing is progress.
var transitions = map[Status][]Status{
	Pending:    {Processing, Failed, Cancelled},
	Processing: {Processing, Pending, Completed, Failed, Cancelled},
}

// CanTransition reports whether a generation may move from one status to
// another.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// TransitionError is returned when a change would break the lifecycle, for
// instance completing a cancelled generation.
type TransitionError struct {
	From, To Status
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("generation is %s and cannot become %s", e.From, e.To)
}
