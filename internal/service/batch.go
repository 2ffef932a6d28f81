package service

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/songqueue/songqueue/internal/batch"
)

// HandleRecord runs the job a queue record carries: the worker's record
// handler for batch.Process. A nil error means the message may be deleted,
// including when the job was a duplicate or was rescheduled; an error
// means it should be delivered again, and after the queue's maximum
// receive count it goes to the dead-letter queue.
func (s *Service) HandleRecord(ctx context.Context, r batch.Record) error {
	var job Job
	if err := json.Unmarshal(r.Body, &job); err != nil {
		return fmt.Errorf("decode job of message %s: %w", r.ID, err)
	}
	return s.HandleJob(ctx, job)
}
