package eventsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// StreamsAPI is the part of the DynamoDB Streams client a stream source
// reads with.
type StreamsAPI interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// StreamHandler is a function behind a DynamoDB stream with
// ReportBatchItemFailures: what it reports failed, and everything after
// it in the shard, comes again.
type StreamHandler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// StreamOptions are a DynamoDB stream event source mapping's settings.
type StreamOptions struct {
	// BatchSize is the most records per invocation (default 100).
	BatchSize int
	// Wait is how long a shard with nothing new rests before the next
	// read (default 1 s).
	Wait time.Duration
	// Retries is MaximumRetryAttempts: after that many failed retries of
	// the same record it is given up (logged as the on-failure destination
	// would get it) and the shard moves on. Negative retries forever.
	Retries int
	// Timeout bounds one invocation, like the function's timeout (default
	// one minute).
	Timeout time.Duration
	Logger  *slog.Logger
}

// RunStream emulates Lambda's event source mapping on the DynamoDB
// stream arn, for the local stack on an emulator and for tests: it reads
// every shard from its oldest record (TRIM_HORIZON, the template's
// starting position) in order (a child after its parent is done), hands each
// batch to h as a Lambda DynamoDB event, and honours the partial batch
// response: the records before the first reported failure are done, the
// rest are read again from it (a new iterator after the last record
// handled). A handler error retries the whole batch. It returns when ctx
// ends, after the invocation in flight.
func RunStream(ctx context.Context, api StreamsAPI, arn string, opt StreamOptions, h StreamHandler) {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 100
	}
	if opt.Wait <= 0 {
		opt.Wait = time.Second
	}
	if opt.Timeout <= 0 {
		opt.Timeout = time.Minute
	}
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	r := &streamReader{api: api, arn: arn, opt: opt, h: h, log: log, shards: map[string]*shard{}}
	var described time.Time
	for ctx.Err() == nil {
		if time.Since(described) > 30*time.Second {
			if err := r.describe(ctx); err != nil {
				if ctx.Err() == nil {
					log.Warn("describe stream", "stream", arn, "err", err)
					sleep(ctx, opt.Wait)
				}
				continue
			}
			described = time.Now()
		}
		busy := false
		for _, s := range r.order {
			if s.done || (s.parent != "" && r.shards[s.parent] != nil && !r.shards[s.parent].done) {
				continue
			}
			more, err := r.poll(ctx, s)
			if err != nil && ctx.Err() == nil {
				log.Warn("read stream shard", "stream", arn, "shard", s.id, "err", err)
			}
			busy = busy || more
		}
		if !busy {
			sleep(ctx, opt.Wait)
		}
	}
}

type shard struct {
	id, parent string
	// last is the sequence number of the last record handled, empty
	// before the first.
	last     string
	done     bool
	attempts int // failed invocations of the record after last
	// iter reads on from last; nil takes a new one.
	iter *string
}

type streamReader struct {
	api    StreamsAPI
	arn    string
	opt    StreamOptions
	h      StreamHandler
	log    *slog.Logger
	shards map[string]*shard
	order  []*shard
}

func (r *streamReader) describe(ctx context.Context) error {
	var start *string
	for {
		out, err := r.api.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(r.arn), ExclusiveStartShardId: start})
		if err != nil {
			return err
		}
		d := out.StreamDescription
		if d == nil {
			return errors.New("no stream description")
		}
		for _, s := range d.Shards {
			id := aws.ToString(s.ShardId)
			if r.shards[id] == nil {
				sh := &shard{id: id, parent: aws.ToString(s.ParentShardId)}
				r.shards[id] = sh
				r.order = append(r.order, sh)
			}
		}
		if d.LastEvaluatedShardId == nil {
			return nil
		}
		start = d.LastEvaluatedShardId
	}
}

// poll reads and handles one batch of s; more says there was one.
func (r *streamReader) poll(ctx context.Context, s *shard) (more bool, err error) {
	if s.iter == nil {
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(r.arn), ShardId: aws.String(s.id), ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon}
		if s.last != "" {
			in.ShardIteratorType, in.SequenceNumber = streamtypes.ShardIteratorTypeAfterSequenceNumber, aws.String(s.last)
		}
		it, err := r.api.GetShardIterator(ctx, in)
		if err != nil {
			return false, fmt.Errorf("shard iterator: %w", err)
		}
		s.iter = it.ShardIterator
	}
	out, err := r.api.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: s.iter, Limit: aws.Int32(int32(r.opt.BatchSize))})
	if err != nil {
		s.iter = nil // expired, or refused: a new one from the last record handled
		return false, fmt.Errorf("records: %w", err)
	}
	if len(out.Records) == 0 {
		s.iter = out.NextShardIterator
		if s.iter == nil {
			s.done = true // a closed shard, read to its end
		}
		return false, nil
	}
	ev := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, len(out.Records))}
	for i, rec := range out.Records {
		if ev.Records[i], err = LambdaRecord(r.arn, rec); err != nil {
			return false, err
		}
	}

	call, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opt.Timeout)
	res, herr := r.h(call, ev)
	cancel()
	failedAt := len(ev.Records) // index of the first record to read again
	if herr != nil {
		failedAt = 0
	} else {
		for _, f := range res.BatchItemFailures {
			found := false
			for i, rec := range ev.Records {
				if rec.Change.SequenceNumber == f.ItemIdentifier {
					failedAt, found = min(failedAt, i), true
				}
			}
			if !found {
				failedAt = 0 // an identifier not in the batch fails all of it, as in Lambda
			}
		}
	}
	if failedAt > 0 {
		s.last, s.attempts = ev.Records[failedAt-1].Change.SequenceNumber, 0
	}
	if failedAt == len(ev.Records) {
		s.iter = out.NextShardIterator
		if s.iter == nil {
			s.done = true
		}
		return true, nil
	}
	s.iter = nil // read again from the failed record
	s.attempts++
	rec := ev.Records[failedAt]
	if r.opt.Retries >= 0 && s.attempts > r.opt.Retries {
		r.log.Error("stream record given up after its retries (the on-failure destination gets it in AWS)",
			"stream", r.arn, "shard", s.id, "sequenceNumber", rec.Change.SequenceNumber, "eventName", rec.EventName, "attempts", s.attempts, "err", herr)
		s.last, s.attempts = rec.Change.SequenceNumber, 0
		return true, nil
	}
	r.log.Warn("stream batch failed; reading it again from the failed record", "stream", r.arn, "shard", s.id,
		"sequenceNumber", rec.Change.SequenceNumber, "attempt", s.attempts, "err", herr)
	sleep(ctx, min(time.Duration(s.attempts)*100*time.Millisecond, 5*time.Second))
	return true, nil
}

// LambdaRecord is a DynamoDB Streams record of stream arn as Lambda hands
// it to a function.
func LambdaRecord(arn string, r streamtypes.Record) (events.DynamoDBEventRecord, error) {
	out := events.DynamoDBEventRecord{
		AWSRegion: aws.ToString(r.AwsRegion), EventID: aws.ToString(r.EventID), EventName: string(r.EventName),
		EventSource: aws.ToString(r.EventSource), EventVersion: aws.ToString(r.EventVersion), EventSourceArn: arn,
	}
	if r.UserIdentity != nil {
		out.UserIdentity = &events.DynamoDBUserIdentity{Type: aws.ToString(r.UserIdentity.Type), PrincipalID: aws.ToString(r.UserIdentity.PrincipalId)}
	}
	d := r.Dynamodb
	if d == nil {
		return out, nil
	}
	out.Change = events.DynamoDBStreamRecord{
		SequenceNumber: aws.ToString(d.SequenceNumber), SizeBytes: aws.ToInt64(d.SizeBytes), StreamViewType: string(d.StreamViewType),
	}
	if d.ApproximateCreationDateTime != nil {
		out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
	}
	var err error
	for _, img := range []struct {
		from map[string]streamtypes.AttributeValue
		to   *map[string]events.DynamoDBAttributeValue
	}{{d.Keys, &out.Change.Keys}, {d.NewImage, &out.Change.NewImage}, {d.OldImage, &out.Change.OldImage}} {
		if img.from == nil {
			continue
		}
		if *img.to, err = lambdaImage(img.from); err != nil {
			return out, fmt.Errorf("record %s: %w", aws.ToString(r.EventID), err)
		}
	}
	return out, nil
}

// lambdaImage converts through DynamoDB's JSON, which both sides speak.
func lambdaImage(in map[string]streamtypes.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	av, err := attributevalue.FromDynamoDBStreamsMap(in)
	if err != nil {
		return nil, err
	}
	b, err := attributevalue.MarshalMapJSON(av)
	if err != nil {
		return nil, err
	}
	var out map[string]events.DynamoDBAttributeValue
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}
