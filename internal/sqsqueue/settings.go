// Package sqsqueue is the job queue on Amazon SQS: one standard queue per
// tier, each with a dead-letter queue that its redrive policy feeds. It
// implements service.Queue for the producers and eventsource.Source for
// the local stack's emulation of Lambda's event source mapping.
package sqsqueue

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// MaxDelay is the longest delay SQS supports on a message.
const MaxDelay = 15 * time.Minute

// Settings are the attributes of the tier queues; template.yaml declares the
// same. The queues keep SQS's default receive wait of zero: the SDK cannot
// send an explicit WaitTimeSeconds of 0, so a queue default would turn every
// short poll into a long one, and Lambda's event source mapping long-polls
// whatever the queue says.
type Settings struct {
	// VisibilityTimeout hides a received message; it should exceed the
	// worker function's timeout (Lambda's guidance: six times it). Whole
	// seconds. Default 180 s.
	VisibilityTimeout time.Duration
	// MaxReceiveCount is how many receives a message gets before the next
	// one moves it to the dead-letter queue. Default 5.
	MaxReceiveCount int
	// Retention is how long a tier queue keeps a message; default 4 days.
	Retention time.Duration
	// DeadLetterRetention is the dead-letter queues'; default 14 days, the
	// most SQS allows, so that failures wait for someone to look.
	DeadLetterRetention time.Duration
}

// DefaultSettings are the production settings.
func DefaultSettings() Settings { return Settings{}.WithDefaults() }

// WithDefaults fills the zero fields.
func (s Settings) WithDefaults() Settings {
	if s.VisibilityTimeout <= 0 {
		s.VisibilityTimeout = service.DefaultVisibilityTimeout
	}
	if s.MaxReceiveCount <= 0 {
		s.MaxReceiveCount = service.DefaultMaxReceiveCount
	}
	if s.Retention <= 0 {
		s.Retention = 4 * 24 * time.Hour
	}
	if s.DeadLetterRetention <= 0 {
		s.DeadLetterRetention = 14 * 24 * time.Hour
	}
	return s
}

func seconds(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }

// QueueAttributes are the attributes of a tier queue whose dead-letter
// queue has the given ARN.
func (s Settings) QueueAttributes(deadLetterARN string) map[string]string {
	s = s.WithDefaults()
	policy, _ := json.Marshal(map[string]any{"deadLetterTargetArn": deadLetterARN, "maxReceiveCount": s.MaxReceiveCount})
	return map[string]string{
		"VisibilityTimeout":      seconds(s.VisibilityTimeout),
		"MessageRetentionPeriod": seconds(s.Retention),
		"RedrivePolicy":          string(policy),
		"SqsManagedSseEnabled":   "true",
	}
}

// DeadLetterAttributes are the attributes of a dead-letter queue.
func (s Settings) DeadLetterAttributes() map[string]string {
	s = s.WithDefaults()
	return map[string]string{
		"MessageRetentionPeriod": seconds(s.DeadLetterRetention),
		"SqsManagedSseEnabled":   "true",
	}
}

// QueueName is the name of tier's queue: "<prefix>-<tier>", lower case.
func QueueName(prefix string, t generation.Tier) string {
	return prefix + "-" + strings.ToLower(string(t))
}

// DeadLetterName is the name of tier's dead-letter queue.
func DeadLetterName(prefix string, t generation.Tier) string {
	return QueueName(prefix, t) + "-dlq"
}
