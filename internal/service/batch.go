package service

import (
	"context"
	"encoding/json"
	"fmt"
)

// Delivery is one received queue message, whatever carried it.
type Delivery struct {
	ID           string
	Body         []byte
	ReceiveCount int
}

// HandleBatch runs each delivery's job and returns the IDs of those that
// must be delivered again (a partial batch response). One bad message never
// fails its neighbours; a message that keeps failing reaches the queue's
// dead-letter queue through the redrive policy.
func (s *Service) HandleBatch(ctx context.Context, batch []Delivery) (failed []string) {
	for _, d := range batch {
		if err := s.handleDelivery(ctx, d); err != nil {
			s.log.ErrorContext(ctx, "job failed; it will be delivered again", "message", d.ID, "receiveCount", d.ReceiveCount, "err", err)
			failed = append(failed, d.ID)
		}
	}
	return failed
}

func (s *Service) handleDelivery(ctx context.Context, d Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic handling message %s: %v", d.ID, r)
		}
	}()
	var job Job
	if err := json.Unmarshal(d.Body, &job); err != nil {
		return fmt.Errorf("decode job: %w", err)
	}
	return s.HandleJob(ctx, job)
}
