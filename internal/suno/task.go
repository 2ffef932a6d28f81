package suno

import (
	"context"

	"github.com/songqueue/songqueue/internal/generation"
)

// Task says how a task is doing (record-info): the service's TaskReader.
func (c *Client) Task(ctx context.Context, taskID string) (generation.TaskReport, error) {
	return c.Record(ctx, taskID)
}
