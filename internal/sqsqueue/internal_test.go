package sqsqueue

import (
	"testing"
	"time"
)

func TestDelaySeconds(t *testing.T) {
	for d, want := range map[time.Duration]int32{
		-time.Second: 0, 0: 0, time.Millisecond: 1, time.Second: 1, 1500 * time.Millisecond: 2,
		15 * time.Minute: 900, time.Hour: 900,
	} {
		if got := delaySeconds(d); got != want {
			t.Errorf("delaySeconds(%s) = %d, want %d", d, got, want)
		}
	}
}

func TestSettings(t *testing.T) {
	a := DefaultSettings().QueueAttributes("arn:aws:sqs:us-east-1:1:q-dlq")
	if a["VisibilityTimeout"] != "180" || a["RedrivePolicy"] != `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:q-dlq","maxReceiveCount":5}` || a["SqsManagedSseEnabled"] != "true" {
		t.Errorf("queue attributes %v", a)
	}
	if QueueName("songqueue", "ENTERPRISE") != "songqueue-enterprise" || DeadLetterName("songqueue", "FREE") != "songqueue-free-dlq" {
		t.Error("queue names do not follow <prefix>-<tier>[-dlq]")
	}
}
