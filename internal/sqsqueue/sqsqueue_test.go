package sqsqueue_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/awstest"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/porttest"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/sqsqueue"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func TestQueueContract(t *testing.T) {
	awstest.Endpoint(t)
	porttest.Queue(t, func(t *testing.T, opt porttest.QueueOptions) porttest.QueueUnderTest {
		c, res := awstest.SetupQueues(t, awstest.Config(t), sqsqueue.Settings{
			VisibilityTimeout: opt.VisibilityTimeout, MaxReceiveCount: opt.MaxReceiveCount,
		})
		return sqsqueue.New(c.SQS, res.Queues)
	})
}

// TestQueuesAsDeclared checks the attributes Ensure gives the queues and
// that running it again converges instead of failing.
func TestQueuesAsDeclared(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	c, res := awstest.SetupQueues(t, cfg, sqsqueue.Settings{})
	ctx := context.Background()
	again, err := awsinfra.EnsureQueues(ctx, c.SQS, res.Names, sqsqueue.Settings{VisibilityTimeout: time.Minute})
	if err != nil {
		t.Fatalf("Ensure with other settings: %v", err)
	}
	for _, tier := range generation.Tiers {
		u := again[tier]
		if u != res.Queues[tier] {
			t.Errorf("%s: second Ensure gave %+v, first %+v", tier, u, res.Queues[tier])
		}
		attrs, err := c.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(u.Queue), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		a := attrs.Attributes
		if a["VisibilityTimeout"] != "60" || a["ReceiveMessageWaitTimeSeconds"] != "0" || a["MessageRetentionPeriod"] != "345600" {
			t.Errorf("%s queue attributes %v", tier, a)
		}
		var policy struct {
			Target string `json:"deadLetterTargetArn"`
			Max    any    `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(a["RedrivePolicy"]), &policy); err != nil {
			t.Fatalf("%s redrive policy %q: %v", tier, a["RedrivePolicy"], err)
		}
		dlq, err := c.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(u.DeadLetter), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn, types.QueueAttributeNameMessageRetentionPeriod}})
		if err != nil {
			t.Fatal(err)
		}
		if policy.Target != dlq.Attributes["QueueArn"] || strconv.Itoa(5) != toString(policy.Max) {
			t.Errorf("%s redrive policy %+v, want the DLQ %s after 5 receives", tier, policy, dlq.Attributes["QueueArn"])
		}
		if dlq.Attributes["MessageRetentionPeriod"] != "1209600" {
			t.Errorf("%s DLQ retention %s, want 14 days", tier, dlq.Attributes["MessageRetentionPeriod"])
		}
	}
}

func toString(v any) string {
	switch v := v.(type) {
	case float64:
		return strconv.Itoa(int(v))
	case string:
		return v
	}
	return ""
}

// TestDelayIsCapped: a delay beyond SQS's 15 minutes is sent as 15 minutes
// rather than refused.
func TestDelayIsCapped(t *testing.T) {
	t.Parallel()
	c, res := awstest.SetupQueues(t, awstest.Config(t), sqsqueue.Settings{})
	q := sqsqueue.New(c.SQS, res.Queues)
	for _, d := range []time.Duration{16 * time.Minute, 24 * time.Hour} {
		if err := q.Send(context.Background(), service.Job{Kind: service.JobGenerate, GenerationID: "g", Tier: generation.Free}, d); err != nil {
			t.Fatalf("Send with delay %s: %v", d, err)
		}
	}
}

// TestResolve finds the queues by name, as a function given only the
// prefix does at cold start.
func TestResolve(t *testing.T) {
	t.Parallel()
	c, res := awstest.SetupQueues(t, awstest.Config(t), sqsqueue.Settings{})
	got, err := sqsqueue.Resolve(context.Background(), c.SQS, res.Names.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, tier := range generation.Tiers {
		if got[tier] != res.Queues[tier] {
			t.Errorf("%s: Resolve = %+v, want %+v", tier, got[tier], res.Queues[tier])
		}
	}
}
