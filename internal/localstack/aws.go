package localstack

import (
	"context"
	"errors"

	"github.com/songqueue/songqueue/internal/eventsource"
	"github.com/songqueue/songqueue/internal/service"
)

// awsBackend wires the AWS adapters (SQS, DynamoDB, the management API
// pointed at this stack's @connections routes).
func awsBackend(ctx context.Context, cfg Config, base string, deps *service.Deps) (eventsource.Source, error) {
	return nil, errors.New("the AWS backend is not wired yet")
}
