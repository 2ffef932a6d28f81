package lambdaapp

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/batch"
	"github.com/songqueue/songqueue/internal/domainevents"
	"github.com/songqueue/songqueue/internal/dynamo"
	"github.com/songqueue/songqueue/internal/generation"
)

// StreamHandler is the publisher function, behind the generations table's
// DynamoDB stream (new and old images): each record is one stored change,
// which the publisher turns into a domain event or skips (progress, the
// table's control items). The event source mapping has
// ReportBatchItemFailures: the first record whose event could not be put
// (or whose image cannot be read) is reported with its sequence number,
// and Lambda gives it and the records after it again, so nothing is lost
// and one bad record retries alone until the mapping's retry limit sends
// it to the on-failure queue. A batch is never a function error: the
// partial response says everything.
func StreamHandler(e *app.Env, p *domainevents.Publisher) func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		ctx = invocation(ctx)
		ctx, cancel := batch.BeforeDeadline(ctx)
		defer cancel()
		changes := make([]domainevents.Change, 0, len(ev.Records))
		var bad error
		for _, r := range ev.Records {
			c, err := StreamChange(r)
			if err != nil {
				bad = err
				break
			}
			changes = append(changes, c)
		}
		done, err := p.Publish(ctx, changes)
		res := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
		switch {
		case err != nil:
			e.Log.ErrorContext(ctx, "events not put; the stream gives them again", "records", len(ev.Records), "published", done, "err", err)
		case bad != nil:
			e.Log.ErrorContext(ctx, "stream record unreadable; the stream gives it again, then to the on-failure queue", "published", done, "err", bad)
		default:
			return res, nil
		}
		res.BatchItemFailures = append(res.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: ev.Records[done].Change.SequenceNumber})
		return res, nil
	}
}

// StreamChange reads a stream record of the generations table: the
// generation before and after, each nil when absent or not a generation.
func StreamChange(r events.DynamoDBEventRecord) (domainevents.Change, error) {
	var c domainevents.Change
	var err error
	if c.Old, err = streamImage(r.Change.OldImage); err != nil {
		return c, fmt.Errorf("record %s (%s) old image: %w", r.Change.SequenceNumber, r.EventName, err)
	}
	if c.New, err = streamImage(r.Change.NewImage); err != nil {
		return c, fmt.Errorf("record %s (%s) new image: %w", r.Change.SequenceNumber, r.EventName, err)
	}
	return c, nil
}

// streamImage converts Lambda's image through DynamoDB's JSON, which both
// it and the SDK speak, and decodes it.
func streamImage(img map[string]events.DynamoDBAttributeValue) (*generation.Generation, error) {
	if len(img) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(img)
	if err != nil {
		return nil, err
	}
	av, err := attributevalue.UnmarshalMapJSON(b)
	if err != nil {
		return nil, err
	}
	return dynamo.StreamImage(av)
}
