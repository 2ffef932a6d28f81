package awstest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"
)

// SQSSends records every message that SQS clients send, with the
// MessageGroupId and MessageDeduplicationId it carries, so that a test can
// hold them to what real SQS accepts: emulators take any value. Add
// APIOption to the clients' options (sqs.Options.APIOptions, or
// aws.Config.APIOptions for every client made from a configuration); it
// looks only at SendMessage and SendMessageBatch and lets every request
// through unchanged.
type SQSSends struct {
	mu   sync.Mutex
	sent []SQSSent
}

// SQSSent is one message as a client sent it; nil fields were not set.
type SQSSent struct {
	Operation       string // SendMessage or SendMessageBatch
	Body            string
	GroupID         *string
	DeduplicationID *string
}

// APIOption adds the recording middleware to a client's stack.
func (r *SQSSends) APIOption(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("RecordSQSSends",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			switch p := in.Parameters.(type) {
			case *sqs.SendMessageInput:
				r.add(SQSSent{Operation: "SendMessage", Body: aws.ToString(p.MessageBody), GroupID: p.MessageGroupId, DeduplicationID: p.MessageDeduplicationId})
			case *sqs.SendMessageBatchInput:
				for _, e := range p.Entries {
					r.add(SQSSent{Operation: "SendMessageBatch", Body: aws.ToString(e.MessageBody), GroupID: e.MessageGroupId, DeduplicationID: e.MessageDeduplicationId})
				}
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

func (r *SQSSends) add(s SQSSent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, s)
}

// Sent returns what was sent so far, in order.
func (r *SQSSends) Sent() []SQSSent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]SQSSent(nil), r.sent...)
}

// Check returns an error for each message sent with a MessageGroupId or
// MessageDeduplicationId that SQS would refuse (CheckSQSMessageID).
func (r *SQSSends) Check() []error {
	var errs []error
	for i, s := range r.Sent() {
		for _, f := range []struct {
			name string
			v    *string
		}{{"MessageGroupId", s.GroupID}, {"MessageDeduplicationId", s.DeduplicationID}} {
			if f.v == nil {
				continue
			}
			if err := CheckSQSMessageID(*f.v); err != nil {
				errs = append(errs, fmt.Errorf("message %d (%s, body %.80q): %s: %w", i, s.Operation, s.Body, f.name, err))
			}
		}
	}
	return errs
}

// sqsPunctuation is the punctuation SQS allows in a MessageGroupId and a
// MessageDeduplicationId.
const sqsPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// CheckSQSMessageID checks v against SQS's documented rule for a
// MessageGroupId and a MessageDeduplicationId: 1 to 128 characters, each
// alphanumeric (a-z, A-Z, 0-9) or punctuation among
// !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~.
func CheckSQSMessageID(v string) error {
	if n := utf8.RuneCountInString(v); n < 1 || n > 128 {
		return fmt.Errorf("%q has %d characters, not 1 to 128", v, n)
	}
	for _, c := range v {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c < utf8.RuneSelf && strings.ContainsRune(sqsPunctuation, c)) {
			return fmt.Errorf("%q holds %q, neither alphanumeric nor SQS's punctuation", v, c)
		}
	}
	return nil
}
