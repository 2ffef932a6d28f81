package awsinfra

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/songqueue/songqueue/internal/dynamo"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/sqsqueue"
)

// DefaultPrefix starts the name of every table and queue.
const DefaultPrefix = "songqueue"

// Names are the names of the project's tables and queues.
type Names struct {
	// Prefix names the queues: "<prefix>-<tier>" and "<prefix>-<tier>-dlq".
	Prefix      string
	Generations string // default "<prefix>-generations"
	Connections string // default "<prefix>-connections"
	// Media is the bucket of the songs' copies, default "<prefix>-media"
	// (bucket names are global: in AWS the template names it).
	Media string
}

// DefaultNames are the names for prefix (DefaultPrefix when empty).
func DefaultNames(prefix string) Names {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return Names{Prefix: prefix, Generations: prefix + "-generations", Connections: prefix + "-connections", Media: prefix + "-media"}
}

// Queue is tier's queue name.
func (n Names) Queue(t generation.Tier) string { return sqsqueue.QueueName(n.Prefix, t) }

// DeadLetter is tier's dead-letter queue name.
func (n Names) DeadLetter(t generation.Tier) string { return sqsqueue.DeadLetterName(n.Prefix, t) }

// Resources are what Ensure found or made.
type Resources struct {
	Names  Names
	Queues map[generation.Tier]sqsqueue.URLs
}

// Ensure creates the tables and queues that are missing, with the settings
// template.yaml gives them: pay-per-request tables with their indexes and
// TTL on expiresAt (encrypted at rest with DynamoDB's default AWS-owned key,
// which costs nothing), and for every tier a queue whose redrive policy
// feeds its dead-letter queue, both with SQS-managed encryption. It is
// idempotent: existing resources are kept, and a queue whose attributes
// differ is brought to the settings. It is meant for emulators and
// development accounts; in AWS the template owns the resources.
func Ensure(ctx context.Context, c Clients, n Names, s sqsqueue.Settings) (Resources, error) {
	if err := EnsureTables(ctx, c.DynamoDB, n); err != nil {
		return Resources{}, err
	}
	queues, err := EnsureQueues(ctx, c.SQS, n, s)
	if err != nil {
		return Resources{}, err
	}
	if c.S3 != nil && n.Media != "" && Emulated(os.Getenv, "S3") {
		if err := EnsureBucket(ctx, c.S3, n.Media); err != nil {
			return Resources{}, err
		}
	}
	return Resources{Names: n, Queues: queues}, nil
}

// EnsureBucket creates the media bucket if it is missing; Ensure makes it
// only where S3 is emulated.
func EnsureBucket(ctx context.Context, client *s3.Client, name string) error {
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	var owned *s3types.BucketAlreadyOwnedByYou
	var exists *s3types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}

// EnsureTables is the DynamoDB half of Ensure.
func EnsureTables(ctx context.Context, db *dynamodb.Client, n Names) error {
	for _, in := range []*dynamodb.CreateTableInput{dynamo.GenerationsTable(n.Generations), dynamo.ConnectionsTable(n.Connections)} {
		if err := ensureTable(ctx, db, in); err != nil {
			return err
		}
	}
	return nil
}

// EnsureQueues is the SQS half of Ensure: it returns every tier's URLs.
func EnsureQueues(ctx context.Context, client *sqs.Client, n Names, s sqsqueue.Settings) (map[generation.Tier]sqsqueue.URLs, error) {
	out := make(map[generation.Tier]sqsqueue.URLs, len(generation.Tiers))
	for _, t := range generation.Tiers {
		dlq, err := ensureQueue(ctx, client, n.DeadLetter(t), s.DeadLetterAttributes())
		if err != nil {
			return nil, err
		}
		attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(dlq), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
		})
		if err != nil {
			return nil, fmt.Errorf("ARN of %s: %w", n.DeadLetter(t), err)
		}
		q, err := ensureQueue(ctx, client, n.Queue(t), s.QueueAttributes(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]))
		if err != nil {
			return nil, err
		}
		out[t] = sqsqueue.URLs{Queue: q, DeadLetter: dlq}
	}
	return out, nil
}

func ensureTable(ctx context.Context, db *dynamodb.Client, in *dynamodb.CreateTableInput) error {
	name := aws.ToString(in.TableName)
	_, err := db.CreateTable(ctx, in)
	var inUse *ddbtypes.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	if err := dynamodb.NewTableExistsWaiter(db).Wait(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName}, 5*time.Minute,
		func(o *dynamodb.TableExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = 200*time.Millisecond, 5*time.Second
		}); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	if err := ensureStream(ctx, db, in); err != nil {
		return err
	}
	ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: in.TableName})
	if err != nil {
		return fmt.Errorf("describe TTL of %s: %w", name, err)
	}
	if d := ttl.TimeToLiveDescription; d != nil && (d.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabled || d.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabling) {
		return nil
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               in.TableName,
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(dynamo.AttrExpiresAt), Enabled: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("enable TTL on %s: %w", name, err)
	}
	return nil
}

// ensureStream turns on the stream in.StreamSpecification asks for on a
// table made before it did.
func ensureStream(ctx context.Context, db *dynamodb.Client, in *dynamodb.CreateTableInput) error {
	want := in.StreamSpecification
	if want == nil || !aws.ToBool(want.StreamEnabled) {
		return nil
	}
	d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName})
	if err != nil {
		return fmt.Errorf("describe table %s: %w", aws.ToString(in.TableName), err)
	}
	if s := d.Table.StreamSpecification; s != nil && aws.ToBool(s.StreamEnabled) {
		return nil
	}
	if _, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: in.TableName, StreamSpecification: want}); err != nil {
		return fmt.Errorf("enable the stream of %s: %w", aws.ToString(in.TableName), err)
	}
	return nil
}

// StreamARN is the ARN of table's stream, empty when it has none.
func StreamARN(ctx context.Context, db *dynamodb.Client, table string) (string, error) {
	d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return "", fmt.Errorf("describe table %s: %w", table, err)
	}
	if s := d.Table.StreamSpecification; s == nil || !aws.ToBool(s.StreamEnabled) {
		return "", nil
	}
	return aws.ToString(d.Table.LatestStreamArn), nil
}

func ensureQueue(ctx context.Context, client *sqs.Client, name string, attrs map[string]string) (string, error) {
	res, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err == nil {
		return aws.ToString(res.QueueUrl), nil
	}
	var exists *sqstypes.QueueNameExists
	if !errors.As(err, &exists) {
		return "", fmt.Errorf("create queue %s: %w", name, err)
	}
	// The queue exists with other attributes: converge them.
	url, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("find queue %s: %w", name, err)
	}
	if _, err := client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: url.QueueUrl, Attributes: attrs}); err != nil {
		return "", fmt.Errorf("update queue %s: %w", name, err)
	}
	return aws.ToString(url.QueueUrl), nil
}

// Teardown deletes the tables and queues Ensure reported, ignoring those
// already gone. Tests use it to keep a shared emulator small.
func Teardown(ctx context.Context, c Clients, r Resources) error {
	var errs []error
	if c.DynamoDB != nil {
		for _, table := range []string{r.Names.Generations, r.Names.Connections} {
			if table == "" {
				continue
			}
			_, err := c.DynamoDB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
			var nf *ddbtypes.ResourceNotFoundException
			if err != nil && !errors.As(err, &nf) {
				errs = append(errs, fmt.Errorf("delete table %s: %w", table, err))
			}
		}
	}
	if c.S3 != nil && r.Names.Media != "" && Emulated(os.Getenv, "S3") {
		if err := emptyAndDelete(ctx, c.S3, r.Names.Media); err != nil {
			errs = append(errs, err)
		}
	}
	for _, u := range r.Queues {
		for _, url := range []string{u.Queue, u.DeadLetter} {
			_, err := c.SQS.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)})
			var nf *sqstypes.QueueDoesNotExist
			if err != nil && !errors.As(err, &nf) {
				errs = append(errs, fmt.Errorf("delete queue %s: %w", url, err))
			}
		}
	}
	return errors.Join(errs...)
}

func emptyAndDelete(ctx context.Context, client *s3.Client, bucket string) error {
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		var nb *s3types.NoSuchBucket
		if errors.As(err, &nb) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list bucket %s: %w", bucket, err)
		}
		for _, o := range page.Contents {
			if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key}); err != nil {
				return fmt.Errorf("empty bucket %s: %w", bucket, err)
			}
		}
	}
	_, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	var nb *s3types.NoSuchBucket
	if err != nil && !errors.As(err, &nb) {
		return fmt.Errorf("delete bucket %s: %w", bucket, err)
	}
	return nil
}
