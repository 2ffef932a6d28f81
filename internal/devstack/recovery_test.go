package devstack_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/awstest"
	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// scenarioSweeperRecoversAClaimLeftByADeadWorker: a worker claimed a
// generation and died before submitting it, and its message is gone
// (deleted, or in the dead-letter queue). Nothing will deliver the job
// again; the local stack's sweeper, on its schedule as in AWS, finds the
// generation once its deadline and the dead worker's lease have passed, and
// retries it to completion.
func scenarioSweeperRecoversAClaimLeftByADeadWorker(t *testing.T, b backend) {
	s := startStack(t, b, func(c *devstack.Config) {
		c.SweepInterval = 200 * time.Millisecond
		// Long enough for a claim to reach Suno on a busy emulator (a
		// transaction, a push, the submission): a lease that lapses
		// before would end the second attempt too.
		c.Pipeline.ClaimLease = 2 * time.Second
		c.WorkerTimeout = 1500 * time.Millisecond // below the lease (Config.Check)
	}, devstack.Options{})
	ctx := context.Background()
	now := time.Now().UTC()
	const id = "6a1b4c3e-5d2f-4e8a-9b7c-0123456789ab"
	// What the dead worker left: claimed for attempt 1, no task id, its
	// deadline already past.
	g := generation.New(id, "ines", generation.Pro, generation.Request{Prompt: "left claimed by a dead worker"}, now, 0)
	stored, _, err := s.Generations.Create(ctx, g, "", service.Quota{})
	if err != nil {
		t.Fatal(err)
	}
	if err := stored.Claim(1, now.Add(-3*time.Second), 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Generations.Save(ctx, stored, generation.Pending); err != nil {
		t.Fatal(err)
	}

	u := user(t, s, "ines", generation.Pro)
	ws := u.dial()
	final := ws.waitFinal(t, id, 20*time.Second)
	if final.Event != "generation:complete" {
		t.Fatalf("final event %s, want generation:complete", final)
	}
	st := u.status(id)
	if st["status"] != "completed" || st["attempts"] != float64(2) {
		t.Fatalf("status %v after the sweep, want completed on the second attempt", st)
	}
}

// TestDynamoDBAndSQSOnTwoEmulators: the SDK's own endpoint resolution, as
// LocalStack users run it with DynamoDB elsewhere. With only
// AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS set, on two different
// moto servers, the local stack picks the AWS backend, creates its tables
// where DynamoDB points and its queues where SQS points, and makes a song.
func TestDynamoDBAndSQSOnTwoEmulators(t *testing.T) {
	dynamoURL, sqsURL := awstest.NewEmulator(t), awstest.NewEmulator(t)
	t.Setenv(awsinfra.EndpointEnv, "")
	os.Unsetenv(awsinfra.EndpointEnv) // restored by t.Setenv's cleanup
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamoURL)
	t.Setenv("AWS_ENDPOINT_URL_SQS", sqsURL)
	prefix := awstest.UniqueNames(t).Prefix
	t.Setenv("RESOURCE_PREFIX", prefix)

	cfg, err := devstack.FromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	fast := fastConfig()
	cfg.Port, cfg.Pipeline, cfg.RateLimit, cfg.WorkerTimeout = 0, fast.Pipeline, fast.RateLimit, fast.WorkerTimeout
	cfg.QueueSettings.VisibilityTimeout = fast.QueueSettings.VisibilityTimeout
	cfg.FakeTextDelay, cfg.FakeFirstDelay, cfg.FakeCompleteDelay = fast.FakeTextDelay, fast.FakeFirstDelay, fast.FakeCompleteDelay
	s, err := devstack.Start(context.Background(), cfg, devstack.Options{NoEventStream: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	if s.Store != nil {
		t.Fatal("the endpoint variables did not select the AWS backend")
	}

	u := user(t, s, "noor", generation.Premium)
	ws := u.dial()
	id := u.create("across two emulators")
	if final := ws.waitFinal(t, id, 20*time.Second); final.Event != "generation:complete" {
		t.Fatalf("final event %s", final)
	}

	// Each resource is where its own service's endpoint points, and only there.
	ctx := context.Background()
	// The endpoint variables are still set, and a service's own variable
	// would win over a configuration's base endpoint: each client is told
	// its endpoint directly.
	awsCfg, err := awsinfra.EmulatorConfig(ctx, dynamoURL)
	if err != nil {
		t.Fatal(err)
	}
	tablesAt := func(endpoint string) []string {
		db := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = &endpoint })
		out, err := db.ListTables(ctx, &dynamodb.ListTablesInput{})
		if err != nil {
			t.Fatal(err)
		}
		return slices.DeleteFunc(out.TableNames, func(n string) bool { return !strings.HasPrefix(n, prefix) })
	}
	queuesAt := func(endpoint string) []string {
		q := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { o.BaseEndpoint = &endpoint })
		out, err := q.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: &prefix})
		if err != nil {
			t.Fatal(err)
		}
		return out.QueueUrls
	}
	if tables := tablesAt(dynamoURL); len(tables) != 2 {
		t.Errorf("tables on the DynamoDB emulator: %v, want the generations and connections tables", tables)
	}
	if tables := tablesAt(sqsURL); len(tables) != 0 {
		t.Errorf("tables on the SQS emulator: %v", tables)
	}
	if queues := queuesAt(sqsURL); len(queues) != 2*len(generation.Tiers) {
		t.Errorf("queues on the SQS emulator: %v, want each tier's queue and dead-letter queue", queues)
	}
	if queues := queuesAt(dynamoURL); len(queues) != 0 {
		t.Errorf("queues on the DynamoDB emulator: %v", queues)
	}
}
