package service

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"

	"github.com/songqueue/songqueue/internal/batch"
)

// WorkerPorts are what the worker runs on.
type WorkerPorts struct {
	Core
	Queue Queue
	// Accounts are the Suno accounts songs are spread over, each with its
	// rate window, breaker and client.
	Accounts []SunoAccount
	Controls PauseReader
	// Media and Fetcher copy the songs' files into the stack's storage;
	// required when Config.Archive is set, unused otherwise.
	Media   Media
	Fetcher Fetcher
	// Callbacks signs the callback URL each submission gives Suno.
	Callbacks CallbackSigner
}

// Worker runs the queues' jobs: it submits generations to Suno (submit.go),
// polls their tasks (poll.go), copies their files (archive.go), and
// retries (retry.go) or completes (complete.go) them. It is safe for
// concurrent use.
type Worker struct {
	*flow
	accounts  accounts[SunoAccount]
	turn      atomic.Uint64
	controls  PauseReader
	media     Media
	fetcher   Fetcher
	callbacks CallbackSigner
	served    servedUsers
	// line tells a job the limiter turns away how far back in line it
	// is, so that it comes back about when its turn nears (submit.go).
	line *line
}

// NewWorker returns the worker on p.
func NewWorker(p WorkerPorts, cfg Config) (*Worker, error) {
	if cfg.Archive && (p.Media == nil || p.Fetcher == nil) {
		return nil, errMissingCopies
	}
	accounts, err := newAccounts(p.Accounts)
	if err != nil {
		return nil, err
	}
	f := newFlow(p.Core, p.Queue, cfg)
	return &Worker{
		flow:     f,
		accounts: accounts, controls: p.Controls,
		media: p.Media, fetcher: p.Fetcher, callbacks: p.Callbacks,
		line: newLine(p.Store, f.cfg.Line, f.now),
	}, nil
}

// Handle runs the job a queue record carries: the worker's record handler
// for batch.Process. A nil error means the message may be deleted,
// including when the job was a duplicate or was rescheduled; an error
// means it should be delivered again, and after the queue's maximum
// receive count it goes to the dead-letter queue.
func (w *Worker) Handle(ctx context.Context, r batch.Record) error {
	var job Job
	if err := json.Unmarshal(r.Body, &job); err != nil {
		return fmt.Errorf("decode job of message %s: %w", r.ID, err)
	}
	if r.ReceiveCount > 1 {
		ctx = context.WithValue(ctx, redeliveredKey{}, true)
	}
	return w.HandleJob(ctx, job)
}

// redeliveredKey marks the context of a job whose message came back: an
// earlier run of it failed somewhere after its writes.
type redeliveredKey struct{}

func redelivered(ctx context.Context) bool {
	v, _ := ctx.Value(redeliveredKey{}).(bool)
	return v
}

// HandleJob runs one job.
func (w *Worker) HandleJob(ctx context.Context, job Job) error {
	if job.Kind == JobBulk && job.BulkID != "" && job.Tier.Valid() {
		return w.bulk(ctx, job)
	}
	if job.GenerationID == "" || !job.Tier.Valid() {
		// A message nobody can act on must not loop until the DLQ takes it;
		// but it must not vanish silently either, so fail it loudly.
		return fmt.Errorf("malformed job %+v", job)
	}
	if wait := job.NotBefore.Sub(w.now()); wait > 0 {
		return w.send(ctx, job, wait)
	}
	switch job.Kind {
	case JobGenerate:
		return w.generate(ctx, job)
	case JobPoll:
		return w.poll(ctx, job)
	case JobArchive:
		return w.archive(ctx, job)
	}
	return fmt.Errorf("job kind %q is not known", job.Kind)
}
