package localstack

import (
	"context"
	"fmt"

	"github.com/songqueue/songqueue/internal/apigw"
	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/dynamo"
	"github.com/songqueue/songqueue/internal/eventsource"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/sqsqueue"
)

// awsBackend wires the AWS adapters: SQS queues, DynamoDB tables and rate
// limiter, and the API Gateway management API pointed at this stack's own
// @connections routes, so the notifier code is the one that runs in AWS.
// Against an emulator it first creates what is missing.
func awsBackend(ctx context.Context, cfg Config, base string, deps *service.Deps) (eventsource.Source, error) {
	awsCfg, err := awsinfra.LoadAWSConfig(ctx, cfg.AWSEndpointURL)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	clients := awsinfra.NewClients(awsCfg)
	names := awsinfra.DefaultNames(cfg.ResourcePrefix)
	settings := sqsqueue.Settings{VisibilityTimeout: cfg.Visibility, MaxReceiveCount: cfg.MaxReceives}
	var urls map[generation.Tier]sqsqueue.URLs
	if cfg.AWSEndpointURL != "" {
		res, err := awsinfra.Ensure(ctx, clients, names, settings)
		if err != nil {
			return nil, fmt.Errorf("create tables and queues at %s: %w", cfg.AWSEndpointURL, err)
		}
		urls = res.Queues
	} else {
		if urls, err = sqsqueue.Resolve(ctx, clients.SQS, names.Prefix); err != nil {
			return nil, fmt.Errorf("find the queues (deploy the stack first): %w", err)
		}
	}
	store := dynamo.NewStore(clients.DynamoDB, names.Generations, names.Connections, dynamo.Options{})
	queues := sqsqueue.New(clients.SQS, urls)
	deps.Store, deps.Connections, deps.Queue = store, store, queues
	deps.Limiter = dynamo.NewLimiter(clients.DynamoDB, names.Generations, "suno",
		cfg.RatePolicy(), nil)
	deps.Notifier = apigw.New(awsCfg, base)
	return queues, nil
}
