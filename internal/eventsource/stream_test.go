package eventsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// fakeStream is a stream of shards, each a list of records, read as
// DynamoDB Streams serves them.
type fakeStream struct {
	mu     sync.Mutex
	shards []*fakeShard
	reads  int
}

type fakeShard struct {
	id, parent string
	records    []streamtypes.Record
	closed     bool
}

func (f *fakeStream) shard(id string) *fakeShard {
	for _, s := range f.shards {
		if s.id == id {
			return s
		}
	}
	return nil
}

func (f *fakeStream) add(shard string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.shard(shard)
	for range n {
		seq := fmt.Sprintf("%s-%06d", shard, len(s.records))
		s.records = append(s.records, streamtypes.Record{
			EventID: aws.String("e" + seq), EventName: streamtypes.OperationTypeInsert,
			Dynamodb: &streamtypes.StreamRecord{
				SequenceNumber: aws.String(seq), StreamViewType: streamtypes.StreamViewTypeNewAndOldImages,
				Keys:     map[string]streamtypes.AttributeValue{"generationId": &streamtypes.AttributeValueMemberS{Value: seq}},
				NewImage: map[string]streamtypes.AttributeValue{"generationId": &streamtypes.AttributeValueMemberS{Value: seq}, "version": &streamtypes.AttributeValueMemberN{Value: "1"}},
			},
		})
	}
}

func (f *fakeStream) DescribeStream(_ context.Context, in *dynamodbstreams.DescribeStreamInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := &streamtypes.StreamDescription{StreamArn: in.StreamArn}
	for _, s := range f.shards {
		sh := streamtypes.Shard{ShardId: aws.String(s.id)}
		if s.parent != "" {
			sh.ParentShardId = aws.String(s.parent)
		}
		d.Shards = append(d.Shards, sh)
	}
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: d}, nil
}

func (f *fakeStream) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.shard(aws.ToString(in.ShardId))
	pos := 0
	switch in.ShardIteratorType {
	case streamtypes.ShardIteratorTypeTrimHorizon:
	case streamtypes.ShardIteratorTypeAfterSequenceNumber:
		for i, r := range s.records {
			if aws.ToString(r.Dynamodb.SequenceNumber) == aws.ToString(in.SequenceNumber) {
				pos = i + 1
			}
		}
	default:
		return nil, fmt.Errorf("iterator type %s", in.ShardIteratorType)
	}
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(s.id + "|" + strconv.Itoa(pos))}, nil
}

func (f *fakeStream) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	id, p, _ := strings.Cut(aws.ToString(in.ShardIterator), "|")
	pos, _ := strconv.Atoi(p)
	s := f.shard(id)
	end := min(pos+int(aws.ToInt32(in.Limit)), len(s.records))
	out := &dynamodbstreams.GetRecordsOutput{Records: s.records[pos:end]}
	if !s.closed || end < len(s.records) {
		out.NextShardIterator = aws.String(s.id + "|" + strconv.Itoa(end))
	}
	return out, nil
}

// handled records every invocation's records, and answers as fate says.
type handled struct {
	mu    sync.Mutex
	seen  []string // sequence numbers, in the order handed over
	calls int
	fate  func(call int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
}

func (h *handled) handle(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	h.mu.Lock()
	h.calls++
	call := h.calls
	for _, r := range ev.Records {
		h.seen = append(h.seen, r.Change.SequenceNumber)
	}
	h.mu.Unlock()
	if h.fate != nil {
		return h.fate(call, ev)
	}
	return events.DynamoDBEventResponse{}, nil
}

func (h *handled) snapshot() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.seen...)
}

func run(t *testing.T, f *fakeStream, opt StreamOptions, h *handled, until func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	opt.Wait, opt.Logger = 5*time.Millisecond, slog.New(slog.DiscardHandler)
	go func() { RunStream(ctx, f, "arn:stream", opt, h.handle); close(done) }()
	deadline := time.After(10 * time.Second)
	for !until() {
		select {
		case <-deadline:
			cancel()
			<-done
			t.Fatalf("stream not read as expected: %d handed over", len(h.snapshot()))
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	<-done
}

// firstOrder is each sequence number once, at its first delivery.
func firstOrder(seen []string) []string {
	var out []string
	got := map[string]bool{}
	for _, s := range seen {
		if !got[s] {
			got[s] = true
			out = append(out, s)
		}
	}
	return out
}

// TestRunStreamPartialBatches: records are handed over in order, in
// batches of at most BatchSize; a reported failure gives that record and
// the ones after it again, a handler error the whole batch; so every
// record is handed over, in order, at least once.
func TestRunStreamPartialBatches(t *testing.T) {
	f := &fakeStream{shards: []*fakeShard{{id: "s1"}}}
	f.add("s1", 250)
	var mu sync.Mutex
	failedOnce := map[string]bool{}
	h := &handled{fate: func(call int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		if len(ev.Records) > 25 {
			return events.DynamoDBEventResponse{}, fmt.Errorf("batch of %d", len(ev.Records))
		}
		if call == 3 {
			return events.DynamoDBEventResponse{}, errors.New("the function died")
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range ev.Records {
			seq := r.Change.SequenceNumber
			if strings.HasSuffix(seq, "7") && !failedOnce[seq] {
				failedOnce[seq] = true
				return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: seq}}}, nil
			}
		}
		return events.DynamoDBEventResponse{}, nil
	}}
	all := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(firstOrder(h.snapshot())) == 250 && len(failedOnce) == 25
	}
	run(t, f, StreamOptions{BatchSize: 25, Retries: -1}, h, all)
	order := firstOrder(h.snapshot())
	for i, s := range order {
		if want := fmt.Sprintf("s1-%06d", i); s != want {
			t.Fatalf("record %d handed over first as %s, want %s", i, s, want)
		}
	}
	if n := len(h.snapshot()); n <= 250 {
		t.Fatalf("%d records handed over: the failed ones should come again", n)
	}
}

// TestRunStreamGivesUpAfterItsRetries: a record that always fails is
// tried Retries more times, then given up, and the shard moves on.
func TestRunStreamGivesUpAfterItsRetries(t *testing.T) {
	f := &fakeStream{shards: []*fakeShard{{id: "s1"}}}
	f.add("s1", 10)
	const poison = "s1-000004"
	var mu sync.Mutex
	tries, movedOn := 0, false
	h := &handled{fate: func(_ int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		if ev.Records[0].Change.SequenceNumber == "s1-000005" {
			movedOn = true
		}
		for _, r := range ev.Records {
			if r.Change.SequenceNumber == poison {
				tries++
				return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: poison}}}, nil
			}
		}
		return events.DynamoDBEventResponse{}, nil
	}}
	run(t, f, StreamOptions{BatchSize: 100, Retries: 2}, h, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return movedOn
	})
	if tries != 3 {
		t.Fatalf("the poisoned record was tried %d times, want 1 + 2 retries", tries)
	}
}

// TestRunStreamReadsAChildAfterItsParent: a shard split by DynamoDB is
// read to its end before its children, and new records are picked up.
func TestRunStreamReadsAChildAfterItsParent(t *testing.T) {
	f := &fakeStream{shards: []*fakeShard{{id: "child", parent: "parent"}, {id: "parent", closed: true}}}
	f.add("parent", 30)
	f.add("child", 5)
	h := &handled{}
	run(t, f, StreamOptions{BatchSize: 10, Retries: -1}, h, func() bool { return len(h.snapshot()) == 35 })
	seen := h.snapshot()
	for i, s := range seen {
		if (i < 30) != strings.HasPrefix(s, "parent-") {
			t.Fatalf("order %v: the parent's records first", seen)
		}
	}
	f.add("child", 3)
	run(t, f, StreamOptions{BatchSize: 10, Retries: -1}, h, func() bool { return len(h.snapshot()) >= 35+35+3 })
}
