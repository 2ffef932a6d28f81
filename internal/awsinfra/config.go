// Package awsinfra is what the AWS adapters share: the AWS configuration,
// the names of the tables and queues, a way to create them when they are
// missing (for emulators such as moto or LocalStack; in AWS template.yaml
// creates them), and a middleware that counts the requests the adapters make.
package awsinfra

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// EndpointEnv is the variable that points every AWS client at an emulator.
const EndpointEnv = "AWS_ENDPOINT_URL"

// EmulatorRegion is the region used against an emulator.
const EmulatorRegion = "us-east-1"

// LoadAWSConfig returns the AWS configuration. With an endpoint (the
// argument, or AWS_ENDPOINT_URL when the argument is empty) every client
// talks to that endpoint in us-east-1 with dummy static credentials, which is
// what moto and LocalStack accept; without one it is the SDK's default chain
// (Lambda's role, the developer's profile).
func LoadAWSConfig(ctx context.Context, endpoint string) (aws.Config, error) {
	if endpoint == "" {
		endpoint = os.Getenv(EndpointEnv)
	}
	var opts []func(*config.LoadOptions) error
	if endpoint != "" {
		opts = append(opts,
			config.WithRegion(EmulatorRegion),
			config.WithBaseEndpoint(endpoint),
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		)
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// Clients are the AWS clients the adapters use.
type Clients struct {
	DynamoDB *dynamodb.Client
	SQS      *sqs.Client
}

// NewClients returns clients on cfg.
func NewClients(cfg aws.Config) Clients {
	return Clients{DynamoDB: dynamodb.NewFromConfig(cfg), SQS: sqs.NewFromConfig(cfg)}
}
