package devstack

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/domainevents"
	"github.com/songqueue/songqueue/internal/eventsource"
	"github.com/songqueue/songqueue/internal/lambdaapp"
	"github.com/songqueue/songqueue/internal/logging"
	"github.com/songqueue/songqueue/internal/memory"
)

// eventRetries is how many times a change whose event cannot be delivered
// is tried again before it is given up (logged), as the template's
// publisher mapping does (MaximumRetryAttempts) before its dead-letter
// queue.
const eventRetries = 10

// startEvents publishes the domain events, as the publisher function
// does in AWS, from the backend's outbox: the memory store's change log,
// or the generations table's stream on the AWS backend (read with the
// DynamoDB Streams API, as Lambda's event source mapping does, and handed
// to the publisher function's own handler). Where they go is the
// environment's (app.Env.Events): the log and EVENTS_WEBHOOK_URL, or the
// bus of EVENT_BUS_NAME. The events are published apart from the writes,
// so nothing a request or a job does waits for them.
func (s *Stack) startEvents(ctx context.Context, env *app.Env, noStream bool) error {
	pub, err := env.Events()
	if err != nil {
		return err
	}
	if s.Store != nil {
		log := s.Store.Changes()
		s.events.Go(func() { s.publishChanges(ctx, log, pub) })
		return nil
	}
	if noStream {
		return nil
	}
	cfg, err := env.AWS()
	if err != nil {
		return err
	}
	table := env.Config.Names.Generations
	arn, err := awsinfra.StreamARN(ctx, dynamodb.NewFromConfig(cfg), table)
	if err != nil {
		return err
	}
	if arn == "" {
		s.log.Warn("the generations table has no stream: no domain events are published (template.yaml and awsinfra.Ensure give it one)", "table", table)
		return nil
	}
	handler := lambdaapp.StreamHandler(env, pub)
	streams := dynamodbstreams.NewFromConfig(cfg)
	s.events.Go(func() {
		eventsource.RunStream(ctx, streams, arn, eventsource.StreamOptions{
			BatchSize: 100, Wait: time.Second, Retries: eventRetries, Timeout: 30 * time.Second,
			Logger: s.log.With("component", "events"),
		}, func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return handler(withInvocationID(ctx, "stream"), ev)
		})
	})
	return nil
}

// publishChanges publishes the memory store's changes in order until ctx
// ends, then what is left. A change whose event was not delivered is
// tried again, with the ones after it, until it is given up.
func (s *Stack) publishChanges(ctx context.Context, changes *memory.ChangeLog, pub *domainevents.Publisher) {
	var attempts int
	var head int64
	for {
		batch, err := changes.Read(ctx, 100)
		if err != nil {
			// Shutting down: the workers are done; publish what is left.
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			for changes.Len() > 0 && final.Err() == nil {
				batch, _ = changes.Read(final, 100)
				if n, _ := pub.Publish(final, toChanges(batch)); n > 0 {
					changes.Ack(batch[n-1].Seq)
				} else {
					break
				}
			}
			cancel()
			return
		}
		ictx := withInvocationID(ctx, "outbox-"+strconv.FormatInt(batch[0].Seq, 10))
		done, err := pub.Publish(ictx, toChanges(batch))
		if done > 0 {
			changes.Ack(batch[done-1].Seq)
		}
		if err == nil {
			attempts = 0
			continue
		}
		failed := batch[done]
		if failed.Seq != head {
			head, attempts = failed.Seq, 0
		}
		attempts++
		if attempts > eventRetries {
			s.log.Error("domain event given up after its retries", "change", failed.Seq, "err", err)
			changes.Ack(failed.Seq)
			attempts = 0
			continue
		}
		s.log.Warn("domain event not delivered; trying again", "change", failed.Seq, "attempt", attempts, "err", err)
		sleepCtx(ctx, min(100*time.Millisecond<<min(attempts, 7), 10*time.Second))
	}
}

func toChanges(batch []memory.Change) []domainevents.Change {
	out := make([]domainevents.Change, len(batch))
	for i, c := range batch {
		out[i] = domainevents.Change{Old: c.Old, New: c.New}
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// withInvocationID names an invocation in its log lines, as the Lambda
// request id does.
func withInvocationID(ctx context.Context, prefix string) context.Context {
	return logging.WithRequestID(ctx, fmt.Sprintf("%s-%s", prefix, newRequestID()))
}
