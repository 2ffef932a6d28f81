package domainevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// PutEventsAPI is the part of the EventBridge client the sink uses.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// EventBridge is the Sink of the AWS stack: one PutEvents per batch to
// the bus, each event's detail its Detail as JSON, its time the change's.
// Entries PutEvents reports failed with a retryable code (InternalFailure,
// ThrottlingException), and calls that fail as a whole, are sent again,
// only those entries, up to Attempts calls in all; what is still failed
// is given back to the Publisher, which has the stream deliver it again.
type EventBridge struct {
	Client PutEventsAPI
	// Bus is the event bus's name or ARN.
	Bus string
	// Attempts is the most PutEvents calls per batch (default 4); Backoff
	// the wait before the second (default 100 ms), doubling.
	Attempts int
	Backoff  time.Duration
	Log      *slog.Logger
}

// Send implements Sink.
func (b *EventBridge) Send(ctx context.Context, events []Event) ([]int, error) {
	if len(events) > MaxBatch {
		return nil, fmt.Errorf("%d events in one PutEvents; at most %d", len(events), MaxBatch)
	}
	attempts, wait := b.Attempts, b.Backoff
	if attempts <= 0 {
		attempts = 4
	}
	if wait <= 0 {
		wait = 100 * time.Millisecond
	}
	entries := make([]types.PutEventsRequestEntry, len(events))
	for i, ev := range events {
		detail, err := json.Marshal(ev.Detail)
		if err != nil {
			return []int{i}, fmt.Errorf("event %s: %w", ev.ID, err)
		}
		entries[i] = types.PutEventsRequestEntry{
			EventBusName: aws.String(b.Bus), Source: aws.String(Source), DetailType: aws.String(string(ev.DetailType)),
			Detail: aws.String(string(detail)), Time: aws.Time(ev.Time),
		}
	}
	// left are the indexes (into events) still to deliver.
	left := make([]int, len(events))
	for i := range left {
		left[i] = i
	}
	var lastErr error
	for n := 0; n < attempts && len(left) > 0; n++ {
		if n > 0 {
			if err := sleep(ctx, backoff(wait, 5*time.Second, n-1)); err != nil {
				return left, errors.Join(lastErr, err)
			}
		}
		in := &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, len(left))}
		for j, i := range left {
			in.Entries[j] = entries[i]
		}
		out, err := b.Client.PutEvents(ctx, in)
		if err != nil {
			lastErr = fmt.Errorf("PutEvents: %w", err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if out.FailedEntryCount == 0 && len(out.Entries) == len(left) {
			return nil, nil
		}
		var still []int
		retryable := true
		for j, i := range left {
			if j >= len(out.Entries) {
				still = append(still, i) // no answer for it: not known delivered
				continue
			}
			r := out.Entries[j]
			if r.ErrorCode == nil {
				continue
			}
			still = append(still, i)
			code := aws.ToString(r.ErrorCode)
			lastErr = fmt.Errorf("PutEvents entry %s: %s: %s", events[i].ID, code, aws.ToString(r.ErrorMessage))
			if code != "InternalFailure" && code != "ThrottlingException" {
				retryable = false
			}
		}
		left = still
		if !retryable {
			break
		}
		if b.Log != nil && len(left) > 0 {
			b.Log.WarnContext(ctx, "PutEvents failed entries; sending them again", "failed", len(left), "err", lastErr)
		}
	}
	if len(left) == 0 {
		return nil, nil
	}
	return left, lastErr
}
