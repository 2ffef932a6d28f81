package lambdatest

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/domainevents"
	"github.com/songqueue/songqueue/internal/eventsource"
	"github.com/songqueue/songqueue/internal/generation"
)

// busEvent is an event as the rule's queue received it.
type busEvent struct {
	Source     string                  `json:"source"`
	DetailType domainevents.DetailType `json:"detail-type"`
	Detail     domainevents.Detail     `json:"detail"`
	raw        string
}

// receiveEvents takes every event the bus sent to the fixture's queue
// until want says it has them all (or 20 s pass).
func receiveEvents(t *testing.T, f *fixture, into map[string][]busEvent, want func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !want() && time.Now().Before(deadline) {
		out, err := f.clients.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(f.eventsQueue), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var ev busEvent
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil || ev.Source != "songqueue" {
				t.Fatalf("event %s: %v", aws.ToString(m.Body), err)
			}
			var d map[string]any
			_ = json.Unmarshal([]byte(aws.ToString(m.Body)), &d)
			detail, _ := json.Marshal(d["detail"])
			ev.raw = string(detail)
			id := domainevents.ID(ev.Detail.GenerationID, ev.Detail.Version)
			into[id] = append(into[id], ev)
			_, _ = f.clients.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(f.eventsQueue), ReceiptHandle: m.ReceiptHandle})
		}
	}
}

// streamEvents reads every record of the generations table's stream on
// moto, as Lambda's poller does, in events of at most 100 records.
func streamEvents(t *testing.T, f *fixture) []events.DynamoDBEvent {
	t.Helper()
	ctx := context.Background()
	arn, err := awsinfra.StreamARN(ctx, f.clients.DynamoDB, f.res.Names.Generations)
	if err != nil || arn == "" {
		t.Fatalf("stream of %s: %q %v", f.res.Names.Generations, arn, err)
	}
	st := dynamodbstreams.NewFromConfig(f.cfg)
	d, err := st.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	var out []events.DynamoDBEvent
	for _, sh := range d.StreamDescription.Shards {
		it, err := st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: sh.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			recs, err := st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(100)})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs.Records) == 0 {
				break
			}
			ev := events.DynamoDBEvent{}
			for _, r := range recs.Records {
				lr, err := eventsource.LambdaRecord(arn, r)
				if err != nil {
					t.Fatal(err)
				}
				ev.Records = append(ev.Records, lr)
			}
			out = append(out, ev)
			iter = recs.NextShardIterator
		}
	}
	return out
}

// publisherUnderRIE: the publisher function under the emulator, fed
// events/publisher.json and then the table's own stream, as Lambda feeds
// it; the bus delivers each event to the rule's queue.
func publisherUnderRIE(t *testing.T, f *fixture, generationID string) {
	fn := f.fn("publisher")
	got := map[string][]busEvent{}

	// The sample, with an id of this run: the create's and the
	// completion's events, and the unreadable record reported.
	const sampleID = "7c2f1e0a-5b3d-4e6f-8a9b-0c1d2e3f4a5b"
	id := "rie-" + randomHex(8)
	sample := bytes.ReplaceAll(f.sample(t, "publisher.json"), []byte(sampleID), []byte(id))
	var res events.DynamoDBEventResponse
	invoke(t, fn, sample, &res)
	if len(res.BatchItemFailures) != 1 || res.BatchItemFailures[0].ItemIdentifier != "4100000000012345678905" {
		t.Fatalf("batch item failures %+v, want the sample's unreadable record\n%s", res.BatchItemFailures, fn.Logs())
	}
	receiveEvents(t, f, got, func() bool { return len(got[id+":1"]) > 0 && len(got[id+":6"]) > 0 })
	if c, d := got[id+":1"], got[id+":6"]; len(c) != 1 || len(d) != 1 || c[0].DetailType != domainevents.Created || d[0].DetailType != domainevents.Completed ||
		d[0].Detail.UserID != "demo-premium" || d[0].Detail.Status != generation.Completed || len(d[0].Detail.Tracks) != 1 {
		t.Fatalf("the sample's events: %+v\n%s", got, fn.Logs())
	}

	// The stream of everything the functions wrote above, given twice:
	// the second time is Lambda's redelivery after the function died
	// having put the events but before answering. Every event comes
	// twice, the same.
	batches := streamEvents(t, f)
	for range 2 {
		for _, ev := range batches {
			invoke(t, fn, mustJSON(t, ev), &res)
			if len(res.BatchItemFailures) != 0 {
				t.Fatalf("batch item failures %+v\n%s", res.BatchItemFailures, fn.Logs())
			}
		}
	}
	g, err := f.store.Get(context.Background(), generationID)
	if err != nil || g.Status != generation.Completed {
		t.Fatalf("%s: %+v %v", generationID, g, err)
	}
	created, done := domainevents.ID(generationID, 1), domainevents.ID(generationID, g.Version)
	receiveEvents(t, f, got, func() bool { return len(got[created]) >= 2 && len(got[done]) >= 2 })
	var types []domainevents.DetailType
	for id, evs := range got {
		if len(evs) == 0 || evs[0].Detail.GenerationID != generationID {
			continue
		}
		types = append(types, evs[0].DetailType)
		if len(evs) != 2 || evs[0].raw != evs[1].raw || evs[0].DetailType != evs[1].DetailType {
			t.Errorf("%s delivered %d times: %+v", id, len(evs), evs)
		}
	}
	slices.Sort(types)
	if want := []domainevents.DetailType{domainevents.Completed, domainevents.Created}; !slices.Equal(types, want) {
		t.Fatalf("events of %s: %v, want %v\n%s", generationID, types, want, fn.Logs())
	}
	d := got[done][0].Detail
	if d.Version != g.Version || d.UserID != g.UserID || d.AudioURL != g.AudioURL() || len(d.Tracks) != len(g.Tracks) || !d.UpdatedAt.Equal(g.UpdatedAt) {
		t.Errorf("completed detail %+v, stored %+v", d, g)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
