// Package batch processes a batch of queue records the way Lambda's SQS
// event source expects: records one at a time, each failure reported on
// its own (a partial batch response), so a poisoned message is retried
// alone and finally lands in the dead-letter queue while its neighbours
// are deleted. The worker Lambda and the local stack's event-source
// emulation both run it, so the rules below hold in AWS and locally alike:
//
//   - A record whose handler returns an error or panics fails; the others
//     do not.
//   - No record is started within Margin of the invocation's deadline; the
//     records left are failures, delivered again untouched, rather than
//     the invocation timing out (which would hand back the whole batch and
//     count as a function error).
//   - A batch in which every record failed is a function error (ErrAllFailed),
//     as in Powertools' batch processor, so the function's error alarm
//     sees a worker that fails everything it touches.
package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Record is one received queue message.
type Record struct {
	ID            string // the message id, which a batch item failure names
	ReceiptHandle string // deletes the message
	Body          []byte
	ReceiveCount  int // deliveries so far, this one included
}

// Handler processes one record; an error means "deliver it again".
type Handler func(ctx context.Context, r Record) error

// ErrAllFailed is the function error of a batch in which no record
// succeeded.
var ErrAllFailed = errors.New("every record of the batch failed")

// Margin is how long before the invocation's deadline no record is started.
const Margin = 2 * time.Second

// Process runs h on each record of records in order and returns the IDs of
// those that failed. err is ErrAllFailed (wrapped) when none succeeded.
func Process(ctx context.Context, records []Record, h Handler, log *slog.Logger) (failed []string, err error) {
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := BeforeDeadline(ctx)
	defer cancel()
	for i, r := range records {
		if ctx.Err() != nil {
			for _, left := range records[i:] {
				failed = append(failed, left.ID)
			}
			log.WarnContext(ctx, "out of time; records left for redelivery", "left", len(records)-i)
			break
		}
		if err := safely(ctx, h, r); err != nil {
			log.ErrorContext(ctx, "record failed; it will be delivered again", "message", r.ID, "receiveCount", r.ReceiveCount, "err", err)
			failed = append(failed, r.ID)
		}
	}
	if len(records) > 0 && len(failed) == len(records) {
		return failed, fmt.Errorf("%w (%d records)", ErrAllFailed, len(records))
	}
	if len(failed) > 0 {
		log.WarnContext(ctx, "batch partly failed", "records", len(records), "failed", len(failed))
	}
	return failed, nil
}

func safely(ctx context.Context, h Handler, r Record) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic handling message %s: %v", r.ID, p)
		}
	}()
	return h(ctx, r)
}

// BeforeDeadline is ctx ending Margin before its deadline (or a tenth of
// the time left, when that is shorter): the rule for every invocation that
// must stop starting work in time, the worker's batches and the sweeper's
// sweeps alike.
func BeforeDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	margin := min(Margin, time.Until(dl)/10)
	return context.WithDeadline(ctx, dl.Add(-margin))
}
