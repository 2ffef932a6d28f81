package sqsqueue_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/songqueue/songqueue/internal/awstest"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/sqsqueue"
)

// fakeSQS answers the adapter's requests in the client's middleware stack,
// before anything is signed or sent: a dead-letter queue that holds the
// given bodies once, and every send and delete succeeding.
type fakeSQS struct {
	mu   sync.Mutex
	dead []string // bodies still in the dead-letter queue
}

func (f *fakeSQS) apiOption(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("FakeSQS",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			var out any
			switch p := in.Parameters.(type) {
			case *sqs.SendMessageInput:
				out = &sqs.SendMessageOutput{MessageId: aws.String("m")}
			case *sqs.SendMessageBatchInput:
				res := &sqs.SendMessageBatchOutput{}
				for _, e := range p.Entries {
					res.Successful = append(res.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m")})
				}
				out = res
			case *sqs.ReceiveMessageInput:
				f.mu.Lock()
				n := min(len(f.dead), int(p.MaxNumberOfMessages))
				res := &sqs.ReceiveMessageOutput{}
				for i, b := range f.dead[:n] {
					res.Messages = append(res.Messages, types.Message{MessageId: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String("r" + strconv.Itoa(i)), Body: aws.String(b)})
				}
				f.dead = f.dead[n:]
				f.mu.Unlock()
				out = res
			case *sqs.DeleteMessageBatchInput:
				out = &sqs.DeleteMessageBatchOutput{}
			default:
				return next.HandleInitialize(ctx, in) // nothing else is expected
			}
			return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, nil
		}), middleware.After)
}

// TestMessageGroupIDsAreWhatSQSAccepts sends and redrives jobs of users
// whose ids (a token's sub) SQS would refuse as a MessageGroupId, and holds
// every MessageGroupId and MessageDeduplicationId the adapter sends to
// SQS's documented rule, which emulators do not check. Each user keeps one
// group of their own.
func TestMessageGroupIDsAreWhatSQSAccepts(t *testing.T) {
	long := strings.Repeat("ü", 100) + strings.Repeat("x", 200) // 300 characters
	users := []string{
		"alice",
		"ana maría/ünïcode 名前 " + strings.Repeat("x", 200),
		"with spaces and / slashes",
		"tab\tand\nnewline",
		"Ελληνικά",
		long,
		long[:len(long)-1] + "y",         // differs from long after 128 characters only
		strings.Repeat("a", 128),         // valid as it is, and as long as SQS allows
		"auth0|5f7c8ec7c33c6c004bbafe82", // valid punctuation
		"google-oauth2|1234 5678",        // one space
		"user@example.com",
		"\u00e9",  // é, composed
		"e\u0301", // é, decomposed: another id
	}
	// Ids that look like other users' groups: valid as they are, so a
	// scheme that kept valid ids and hashed the rest would mix them up.
	users = append(users, sqsqueue.MessageGroupID(users[1]), sqsqueue.MessageGroupID("alice"))
	rec := &awstest.SQSSends{}
	fake := &fakeSQS{}
	client := sqs.New(sqs.Options{Region: "us-east-1", APIOptions: []func(*middleware.Stack) error{rec.APIOption, fake.apiOption}})
	q := sqsqueue.New(client, map[generation.Tier]sqsqueue.URLs{generation.Free: {Queue: "https://sqs.example/q", DeadLetter: "https://sqs.example/dlq"}})
	ctx := context.Background()
	var bodies []string
	for i, u := range users {
		for attempt := range 2 {
			job := service.Job{Kind: service.JobGenerate, GenerationID: "g-" + strconv.Itoa(i), Tier: generation.Free, UserID: u, Attempt: attempt + 1}
			if err := q.Send(ctx, job, time.Duration(attempt)*time.Second); err != nil {
				t.Fatalf("send for %q: %v", u, err)
			}
			b, _ := json.Marshal(job)
			bodies = append(bodies, string(b))
		}
	}
	// Without a user (jobs of no one's, such as a sweep), no group.
	if err := q.Send(ctx, service.Job{Kind: service.JobGenerate, GenerationID: "g-none", Tier: generation.Free}, 0); err != nil {
		t.Fatal(err)
	}
	fake.dead = append(bodies, "not a job")
	moved, err := q.Redrive(ctx, generation.Free)
	if err != nil || moved != len(bodies)+1 {
		t.Fatalf("redrive moved %d, %v; want %d", moved, err, len(bodies)+1)
	}

	for _, err := range rec.Check() {
		t.Error(err)
	}
	sent := rec.Sent()
	if len(sent) != 2*(len(bodies)+1) {
		t.Fatalf("%d messages sent, want %d", len(sent), 2*(len(bodies)+1))
	}
	groupOf := map[string]string{} // user → group
	userOf := map[string]string{}  // group → user
	for _, s := range sent {
		var job service.Job
		if json.Unmarshal([]byte(s.Body), &job) != nil || job.UserID == "" {
			if s.GroupID != nil {
				t.Errorf("%s of %q carries group %q, want none", s.Operation, s.Body, *s.GroupID)
			}
			continue
		}
		if s.GroupID == nil {
			t.Errorf("%s of %q's job without a group", s.Operation, job.UserID)
			continue
		}
		g := *s.GroupID
		if prev, ok := groupOf[job.UserID]; ok && prev != g {
			t.Errorf("%q's jobs went to groups %q and %q (%s)", job.UserID, prev, g, s.Operation)
		}
		if other, ok := userOf[g]; ok && other != job.UserID {
			t.Errorf("users %q and %q share group %q", other, job.UserID, g)
		}
		groupOf[job.UserID], userOf[g] = g, job.UserID
	}
	if len(groupOf) != len(users) {
		t.Errorf("%d users have groups, want %d", len(groupOf), len(users))
	}
	if g := sqsqueue.MessageGroupID(users[1]); g != sqsqueue.MessageGroupID(users[1]) || awstest.CheckSQSMessageID(g) != nil {
		t.Errorf("MessageGroupID is not a deterministic valid id: %q", g)
	}
}

func TestTheCheckerFollowsSQSsRule(t *testing.T) {
	for _, ok := range []string{"a", "Z9", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", strings.Repeat("x", 128)} {
		if err := awstest.CheckSQSMessageID(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", " ", "a b", "é", "名前", "tab\t", strings.Repeat("x", 129), "\x7f"} {
		if awstest.CheckSQSMessageID(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
