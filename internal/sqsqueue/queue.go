package sqsqueue

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/songqueue/songqueue/internal/batch"
	"github.com/songqueue/songqueue/internal/eventsource"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// URLs locate one tier's queue and its dead-letter queue.
type URLs struct {
	Queue      string
	DeadLetter string
}

// Queues are the tier queues on SQS.
type Queues struct {
	sqs  *sqs.Client
	urls map[generation.Tier]URLs
}

var (
	_ service.Queue      = (*Queues)(nil)
	_ eventsource.Source = (*Queues)(nil)
)

// New returns the queues at urls, one entry per tier.
func New(client *sqs.Client, urls map[generation.Tier]URLs) *Queues {
	return &Queues{sqs: client, urls: urls}
}

// Resolve looks up the URLs of the queues named after prefix (one
// GetQueueUrl per queue; a function that is given the URLs in its
// environment skips this).
func Resolve(ctx context.Context, client *sqs.Client, prefix string) (map[generation.Tier]URLs, error) {
	out := make(map[generation.Tier]URLs, len(generation.Tiers))
	for _, t := range generation.Tiers {
		var u URLs
		for _, q := range []struct {
			name string
			dst  *string
		}{{QueueName(prefix, t), &u.Queue}, {DeadLetterName(prefix, t), &u.DeadLetter}} {
			res, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(q.name)})
			if err != nil {
				return nil, fmt.Errorf("find queue %s: %w", q.name, err)
			}
			*q.dst = aws.ToString(res.QueueUrl)
		}
		out[t] = u
	}
	return out, nil
}

func (q *Queues) url(t generation.Tier) (URLs, error) {
	u, ok := q.urls[t]
	if !ok || u.Queue == "" {
		return URLs{}, fmt.Errorf("no queue for tier %q", t)
	}
	return u, nil
}

// delaySeconds is SQS's DelaySeconds for delay: rounded up, so a job never
// arrives before it is due when the delay fits, and capped at 15 minutes,
// beyond which the job arrives early and the worker defers it again.
func delaySeconds(delay time.Duration) int32 {
	if delay <= 0 {
		return 0
	}
	s := (delay + time.Second - 1) / time.Second
	return int32(min(s, MaxDelay/time.Second))
}

// Send implements service.Queue: one SendMessage with the job as JSON.
func (q *Queues) Send(ctx context.Context, job service.Job, delay time.Duration) error {
	body, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	in := &sqs.SendMessageInput{MessageBody: aws.String(string(body)), DelaySeconds: delaySeconds(delay)}
	if job.UserID != "" {
		// SQS fair queues: a user's backlog does not delay other users'
		// messages of the same queue.
		in.MessageGroupId = aws.String(MessageGroupID(job.UserID))
	}
	return q.send(ctx, job.Tier, in)
}

// MessageGroupID is the SQS message group of a user's jobs, the same for
// every message of that user. The user id (a token's sub) cannot be used
// as it is: SQS takes only 1 to 128 characters, each an ASCII letter or
// digit or punctuation among !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~, and an
// identity provider's sub may hold spaces and other letters, or be
// longer. So every id is hashed, "u-" and the unpadded base64url of its
// SHA-256 (45 characters): two users share a group only if their ids
// collide in SHA-256, and an id that already looks like a group id is
// hashed too, so it cannot land in another user's group.
func MessageGroupID(userID string) string {
	sum := sha256.Sum256([]byte(userID))
	return "u-" + base64.RawURLEncoding.EncodeToString(sum[:])
}

func (q *Queues) send(ctx context.Context, t generation.Tier, in *sqs.SendMessageInput) error {
	u, err := q.url(t)
	if err != nil {
		return err
	}
	in.QueueUrl = aws.String(u.Queue)
	_, err = q.sqs.SendMessage(ctx, in)
	if err != nil {
		return fmt.Errorf("send to %s queue: %w", t, err)
	}
	return nil
}

// Receive implements eventsource.Source: up to maxMessages (at most 10)
// messages, long-polling up to wait (at most 20 s, whole seconds).
func (q *Queues) Receive(ctx context.Context, t generation.Tier, maxMessages int, wait time.Duration) ([]batch.Record, error) {
	u, err := q.url(t)
	if err != nil {
		return nil, err
	}
	return q.receive(ctx, u.Queue, maxMessages, wait)
}

func (q *Queues) receive(ctx context.Context, url string, maxMessages int, wait time.Duration) ([]batch.Record, error) {
	res, err := q.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(url),
		MaxNumberOfMessages:         int32(min(max(maxMessages, 1), 10)),
		WaitTimeSeconds:             int32((min(max(wait, 0), 20*time.Second) + time.Second - 1) / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", url, err)
	}
	out := make([]batch.Record, 0, len(res.Messages))
	for _, m := range res.Messages {
		n, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		out = append(out, batch.Record{
			ID: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body: []byte(aws.ToString(m.Body)), ReceiveCount: n,
		})
	}
	return out, nil
}

// Delete implements eventsource.Source with DeleteMessageBatch, ten
// receipts a request. Like SQS, it deletes what it can and reports the
// receipts it could not.
func (q *Queues) Delete(ctx context.Context, t generation.Tier, receipts []string) error {
	u, err := q.url(t)
	if err != nil {
		return err
	}
	return deleteBatch(ctx, q.sqs, u.Queue, receipts)
}

func deleteBatch(ctx context.Context, client *sqs.Client, url string, receipts []string) error {
	var errs []error
	for chunk := range slices.Chunk(receipts, 10) {
		entries := make([]types.DeleteMessageBatchRequestEntry, len(chunk))
		for i, r := range chunk {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(r)}
		}
		res, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
		if err != nil {
			errs = append(errs, fmt.Errorf("delete %d messages: %w", len(chunk), err))
			continue
		}
		errs = append(errs, batchFailures("delete", res.Failed))
	}
	return errors.Join(errs...)
}

func batchFailures(op string, failed []types.BatchResultErrorEntry) error {
	if len(failed) == 0 {
		return nil
	}
	msgs := make([]string, len(failed))
	for i, f := range failed {
		msgs[i] = fmt.Sprintf("entry %s: %s %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message))
	}
	return fmt.Errorf("%s: %d of the batch failed: %s", op, len(failed), strings.Join(msgs, "; "))
}

var depthAttributes = []types.QueueAttributeName{
	types.QueueAttributeNameApproximateNumberOfMessages,
	types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
}

func (q *Queues) attributes(ctx context.Context, url string) (service.QueueDepth, error) {
	res, err := q.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: depthAttributes})
	if err != nil {
		return service.QueueDepth{}, fmt.Errorf("attributes of %s: %w", url, err)
	}
	n := func(a types.QueueAttributeName) int64 {
		v, _ := strconv.ParseInt(res.Attributes[string(a)], 10, 64)
		return v
	}
	return service.QueueDepth{
		Waiting:  n(types.QueueAttributeNameApproximateNumberOfMessages),
		InFlight: n(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible),
		Delayed:  n(types.QueueAttributeNameApproximateNumberOfMessagesDelayed),
	}, nil
}

// Depth implements service.Queue from the queues' approximate counts: one
// GetQueueAttributes for each tier queue and each dead-letter queue. SQS
// documents these counts as approximate, lagging by up to a minute.
func (q *Queues) Depth(ctx context.Context) (map[generation.Tier]service.QueueDepth, error) {
	out := make(map[generation.Tier]service.QueueDepth, len(q.urls))
	for t, u := range q.urls {
		d, err := q.attributes(ctx, u.Queue)
		if err != nil {
			return nil, err
		}
		if u.DeadLetter != "" {
			dead, err := q.attributes(ctx, u.DeadLetter)
			if err != nil {
				return nil, err
			}
			d.Dead = dead.Waiting + dead.InFlight + dead.Delayed
		}
		out[t] = d
	}
	return out, nil
}

// DeadCount implements service.DeadLetters: one GetQueueAttributes per
// dead-letter queue, the tier queues left alone.
func (q *Queues) DeadCount(ctx context.Context) (map[generation.Tier]int64, error) {
	out := make(map[generation.Tier]int64, len(q.urls))
	for t, u := range q.urls {
		if u.DeadLetter == "" {
			continue
		}
		dead, err := q.attributes(ctx, u.DeadLetter)
		if err != nil {
			return nil, err
		}
		out[t] = dead.Waiting + dead.InFlight + dead.Delayed
	}
	return out, nil
}

// DeadLetters implements service.DeadLetters. It receives the messages,
// which hides them while it gathers more (so no receive shows one twice),
// then makes them visible again at once: looking takes nothing out of the
// queue, and a redrive right after sees them all.
func (q *Queues) DeadLetters(ctx context.Context, t generation.Tier, limit int) (_ []service.DeadLetter, err error) {
	u, err := q.url(t)
	if err != nil {
		return nil, err
	}
	if u.DeadLetter == "" {
		return nil, fmt.Errorf("tier %s has no dead-letter queue", t)
	}
	var out []service.DeadLetter
	var receipts []string
	defer func() {
		if rerr := q.release(context.WithoutCancel(ctx), u.DeadLetter, receipts); rerr != nil && err == nil {
			err = rerr
		}
	}()
	for len(out) < limit {
		msgs, err := q.receive(ctx, u.DeadLetter, limit-len(out), time.Second)
		if err != nil {
			return out, fmt.Errorf("look into the dead letters of %s: %w", t, err)
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			receipts = append(receipts, m.ReceiptHandle)
			out = append(out, service.DeadLetter{MessageID: m.ID, Body: m.Body, ReceiveCount: m.ReceiveCount})
		}
	}
	return out, nil
}

// release makes received messages visible again, ten a request.
func (q *Queues) release(ctx context.Context, url string, receipts []string) error {
	for chunk := range slices.Chunk(receipts, 10) {
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(chunk))
		for i, r := range chunk {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(r), VisibilityTimeout: 0}
		}
		res, err := q.sqs.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url), Entries: entries})
		if err != nil {
			return fmt.Errorf("make dead letters visible again: %w", err)
		}
		if len(res.Failed) > 0 {
			return batchFailures("change visibility", res.Failed)
		}
	}
	return nil
}

// Redrive moves every message of tier's dead-letter queue back to the tier
// queue, where it starts with a fresh receive count, and returns how many
// moved. Each message is sent again before it is deleted, so a failure
// half-way duplicates a message rather than losing it (the worker ignores
// duplicates). It receives, sends and deletes ten at a time; SQS's own
// StartMessageMoveTask does the same server-side in AWS, but emulators lack
// it and it reports no count.
func (q *Queues) Redrive(ctx context.Context, t generation.Tier) (int, error) {
	u, err := q.url(t)
	if err != nil {
		return 0, err
	}
	if u.DeadLetter == "" {
		return 0, fmt.Errorf("tier %s has no dead-letter queue", t)
	}
	moved := 0
	for {
		// A long poll, unlike a short one, asks every server, so an empty
		// answer means the queue is empty.
		msgs, err := q.receive(ctx, u.DeadLetter, 10, time.Second)
		if err != nil {
			return moved, err
		}
		if len(msgs) == 0 {
			return moved, nil
		}
		entries := make([]types.SendMessageBatchRequestEntry, len(msgs))
		for i, m := range msgs {
			entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(m.Body))}
			// Back in the owner's message group, as Send put it.
			var job service.Job
			if json.Unmarshal(m.Body, &job) == nil && job.UserID != "" {
				entries[i].MessageGroupId = aws.String(MessageGroupID(job.UserID))
			}
		}
		res, err := q.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(u.Queue), Entries: entries})
		if err != nil {
			return moved, fmt.Errorf("redrive %s: send: %w", t, err)
		}
		var sent []string
		for _, ok := range res.Successful {
			i, _ := strconv.Atoi(aws.ToString(ok.Id))
			sent = append(sent, msgs[i].ReceiptHandle)
		}
		if err := deleteBatch(ctx, q.sqs, u.DeadLetter, sent); err != nil {
			return moved, fmt.Errorf("redrive %s: %w", t, err)
		}
		moved += len(sent)
		if len(res.Failed) > 0 {
			return moved, fmt.Errorf("redrive %s: %w", t, batchFailures("send", res.Failed))
		}
	}
}
