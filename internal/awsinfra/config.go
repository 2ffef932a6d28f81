// Package awsinfra is what the AWS adapters share: the AWS configuration,
// the names of the tables and queues, a way to create them when they are
// missing (for emulators such as moto or LocalStack; in AWS template.yaml
// creates them), and a middleware that counts the requests the adapters make.
package awsinfra

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// EndpointEnv is the variable that points every AWS client at an emulator;
// EndpointEnv + "_" + a service's id (AWS_ENDPOINT_URL_DYNAMODB,
// AWS_ENDPOINT_URL_SQS, ...) points that service alone, and wins.
const EndpointEnv = "AWS_ENDPOINT_URL"

// EmulatorRegion is the region used against an emulator when none is set.
const EmulatorRegion = "us-east-1"

// EmulatorConfigured reports whether an endpoint variable points some AWS
// service at an emulator (unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS says
// to ignore them, as the SDK does).
func EmulatorConfigured(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")), "true") {
		return false
	}
	if strings.TrimSpace(getenv(EndpointEnv)) != "" {
		return true
	}
	for _, id := range serviceIDs() {
		if strings.TrimSpace(getenv(EndpointEnv+"_"+id)) != "" {
			return true
		}
	}
	return false
}

// Emulated reports whether service (its endpoint id: "S3", "SQS", ...)
// is pointed at an emulator, alone or with every service.
func Emulated(getenv func(string) string, service string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")), "true") {
		return false
	}
	return strings.TrimSpace(getenv(EndpointEnv)) != "" || strings.TrimSpace(getenv(EndpointEnv+"_"+service)) != ""
}

// serviceIDs are the services the project uses, as their endpoint
// variables spell them.
func serviceIDs() []string {
	return []string{"DYNAMODB", "SQS", "S3", "APIGATEWAYMANAGEMENTAPI", "SECRETS_MANAGER", "SSM"}
}

// LoadAWSConfig returns the AWS configuration of the environment. The SDK
// itself resolves AWS_ENDPOINT_URL and the per-service
// AWS_ENDPOINT_URL_<SERVICE> variables, so DynamoDB and SQS may be on two
// different emulators. With any of them set, the region defaults to
// us-east-1 and the credentials to dummy static ones, which is what moto
// and LocalStack accept, unless the environment gives its own; without
// them it is the SDK's default chain (Lambda's role, the developer's
// profile).
func LoadAWSConfig(ctx context.Context) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if EmulatorConfigured(os.Getenv) {
		if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
			opts = append(opts, config.WithRegion(EmulatorRegion))
		}
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
			opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// EmulatorConfig is the configuration of every client talking to the
// emulator at endpoint, for tests that choose their emulator themselves; a
// service's own AWS_ENDPOINT_URL_<SERVICE> still wins, as the SDK has it
// (SQS on LocalStack, the rest on moto). config.WithBaseEndpoint would win
// over it, so the endpoint is set on the loaded configuration instead.
func EmulatorConfig(ctx context.Context, endpoint string) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(EmulatorRegion),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
	)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration for %s: %w", endpoint, err)
	}
	cfg.BaseEndpoint = aws.String(endpoint)
	return cfg, nil
}

// Clients are the AWS clients the adapters use.
type Clients struct {
	DynamoDB *dynamodb.Client
	SQS      *sqs.Client
	S3       *s3.Client
}

// NewClients returns clients on cfg. S3 addresses buckets by path when an
// emulator is configured: emulators serve no per-bucket host names.
func NewClients(cfg aws.Config) Clients {
	pathStyle := Emulated(os.Getenv, "S3")
	return Clients{
		DynamoDB: dynamodb.NewFromConfig(cfg), SQS: sqs.NewFromConfig(cfg),
		S3: s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = pathStyle }),
	}
}
