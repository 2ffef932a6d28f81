package generation

// TaskStage is how far the music service has got with a submitted task.
type TaskStage int

const (
	// TaskRunning: accepted, maybe writing lyrics; nothing to hear yet.
	TaskRunning TaskStage = iota
	// TaskFirstReady: the first track can be streamed.
	TaskFirstReady
	// TaskDone: every track has been generated.
	TaskDone
	// TaskFailed: the task ended in an error; TaskReport.Failure says why.
	TaskFailed
)

func (s TaskStage) String() string {
	switch s {
	case TaskFirstReady:
		return "first_ready"
	case TaskDone:
		return "done"
	case TaskFailed:
		return "failed"
	default:
		return "running"
	}
}

// TaskReport is what the music service says about one task, whether asked
// (a poll) or told (a callback).
type TaskReport struct {
	TaskID string
	Stage  TaskStage
	// Tracks are the songs so far: streamable from TaskFirstReady on,
	// complete at TaskDone.
	Tracks []Track
	// Failure is set when Stage is TaskFailed, classified for the retry
	// policy.
	Failure *Failure
}
