package service

import (
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// JobKind tells the worker what a message asks for.
type JobKind string

const (
	// JobGenerate submits an attempt of a generation to Suno.
	JobGenerate JobKind = "generate"
	// JobPoll asks Suno how a submitted task is doing.
	JobPoll JobKind = "poll"
	// JobArchive copies a finished task's files into the stack's storage.
	JobArchive JobKind = "archive"
	// JobBulk works through a page of an operator's bulk action (bulk.go).
	JobBulk JobKind = "bulk"
)

// Job is the body of a queue message.
type Job struct {
	Kind         JobKind         `json:"kind"`
	GenerationID string          `json:"generationId"`
	Tier         generation.Tier `json:"tier"`
	// UserID is the generation's owner: the message group of an SQS fair
	// queue, so one user's backlog does not hold up the tier's other users.
	UserID string `json:"userId,omitempty"`
	// Attempt is the attempt a generate job starts; a stale duplicate of an
	// earlier attempt is recognised by it and dropped.
	Attempt int `json:"attempt,omitempty"`
	// TaskID is the Suno task a poll job asks about, and Account the Suno
	// account that submitted it.
	TaskID  string `json:"taskId,omitempty"`
	Account string `json:"account,omitempty"`
	// Polls counts a poll job's polls of that task so far.
	Polls int `json:"polls,omitempty"`
	// Tries counts an archive job's failed copies so far.
	Tries int `json:"tries,omitempty"`
	// EnqueuedAt is when the job first entered the queue; the rate limiter
	// promotes jobs that have waited long, so no tier starves.
	EnqueuedAt time.Time `json:"enqueuedAt"`
	// SuspectAt marks a generate job whose previous attempt failed then in
	// a way that may have been Suno's (a server error, Suno unreachable):
	// it is counted when the job runs and Suno has been fine since
	// (Worker.spendSuspect).
	SuspectAt time.Time `json:"suspectAt,omitzero"`
	// NotBefore is when the job may run, for delays longer than a queue
	// supports.
	NotBefore time.Time `json:"notBefore,omitzero"`
	// BulkID is the bulk action a bulk job works through.
	BulkID string `json:"bulkId,omitempty"`
	// Waits counts the times a generate job was turned away by the rate
	// limiter: each wait is longer (Worker.waitForToken).
	Waits int `json:"waits,omitempty"`
}

// generateJob asks for attempt of g, in line since enqueuedAt: the first
// attempt after a create or an operator's retry, a retry, or a job
// requeued by the sweeper.
func generateJob(g generation.Generation, attempt int, enqueuedAt time.Time) Job {
	return Job{Kind: JobGenerate, GenerationID: g.ID, Tier: g.Tier, UserID: g.UserID, Attempt: attempt, EnqueuedAt: enqueuedAt}
}

// pollJob asks account about taskID, the Suno task of g's current
// attempt.
func pollJob(g generation.Generation, taskID, account string, enqueuedAt time.Time) Job {
	return Job{Kind: JobPoll, GenerationID: g.ID, Tier: g.Tier, UserID: g.UserID, Attempt: g.Attempts, TaskID: taskID, Account: account, EnqueuedAt: enqueuedAt}
}

// archiveJob copies the files of g's finished task.
func archiveJob(g generation.Generation) Job {
	return Job{Kind: JobArchive, GenerationID: g.ID, Tier: g.Tier, UserID: g.UserID, Attempt: g.Attempts, TaskID: g.TaskID, EnqueuedAt: g.CreatedAt}
}
