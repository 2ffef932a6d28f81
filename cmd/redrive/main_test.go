package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/songqueue/songqueue/internal/awstest"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/sqsqueue"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func TestRedriveMovesDeadLettersBack(t *testing.T) {
	endpoint := awstest.Endpoint(t)
	c, res := awstest.Setup(t, awstest.Config(t), sqsqueue.Settings{})
	ctx := context.Background()
	dlq := res.Queues[generation.Free].DeadLetter
	for range 3 {
		if _, err := c.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(dlq), MessageBody: aws.String(`{"kind":"generate","generationId":"g-1","tier":"FREE","attempt":2}`)}); err != nil {
			t.Fatal(err)
		}
	}
	// The SDK reads the endpoint from the process environment itself.
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	env := map[string]string{"RESOURCE_PREFIX": res.Names.Prefix}
	getenv := func(k string) string { return env[k] }

	var out bytes.Buffer
	if err := run(ctx, []string{"-show"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "FREE       dead letters: 3") || strings.Count(out.String(), "generate generation g-1 attempt 2") != 3 {
		t.Fatalf("listing:\n%s\nwant FREE with 3 dead letters, each shown", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"-tier", "free"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "moved 3 message(s)") || !strings.Contains(out.String(), "FREE       dead letters: 0") {
		t.Fatalf("redrive:\n%s\nwant 3 moved and none left", out.String())
	}
	got, err := c.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(res.Queues[generation.Free].Queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil || len(got.Messages) != 3 {
		t.Fatalf("FREE queue holds %d messages (%v), want the 3 redriven", len(got.Messages), err)
	}
	if err := run(ctx, []string{"-tier", "GOLD"}, getenv, &out); err == nil {
		t.Error("an unknown tier was accepted")
	}
}
