package lambdaapp

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/domainevents"
	"github.com/songqueue/songqueue/internal/generation"
)

// recordingSink records what it is given; fail decides each event's fate.
type recordingSink struct {
	mu   sync.Mutex
	got  []domainevents.Event
	fail func(domainevents.Event) bool
}

func (s *recordingSink) Send(_ context.Context, evs []domainevents.Event) ([]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var failed []int
	for i, ev := range evs {
		if s.fail != nil && s.fail(ev) {
			failed = append(failed, i)
			continue
		}
		s.got = append(s.got, ev)
	}
	if failed != nil {
		return failed, context.DeadlineExceeded
	}
	return nil, nil
}

func sampleStream(t *testing.T) events.DynamoDBEvent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "publisher.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestStreamHandler: the publisher's handler on events/publisher.json
// (a create, a claim, a counter item, a completion, and an image that
// cannot be read): the create's and the completion's events are put,
// and the unreadable record is reported by its sequence number, so the
// stream gives it again; a failed put is reported the same way, from
// the first record whose event failed.
func TestStreamHandler(t *testing.T) {
	ev := sampleStream(t)
	e, err := app.NewEnv(context.Background(), app.DefaultConfig(), app.Options{Logger: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	h := StreamHandler(e, domainevents.NewPublisher(sink, nil))
	res, err := h(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.BatchItemFailures) != 1 || res.BatchItemFailures[0].ItemIdentifier != ev.Records[4].Change.SequenceNumber {
		t.Fatalf("batch item failures = %+v, want the unreadable record's", res.BatchItemFailures)
	}
	var got []string
	for _, e := range sink.got {
		got = append(got, e.ID+" "+string(e.DetailType))
	}
	const id = "7c2f1e0a-5b3d-4e6f-8a9b-0c1d2e3f4a5b"
	if want := []string{id + ":1 Generation Created", id + ":6 Generation Completed"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	done := sink.got[1].Detail
	if done.Status != generation.Completed || done.UserID != "demo-premium" || len(done.Tracks) != 1 || done.AudioURL != "https://musicfile.api.box/ODU1MWE4ZTM.mp3" || done.Tier != generation.Premium {
		t.Fatalf("completed detail %+v", done)
	}

	// The completion's put fails: reported from its record, the create's
	// put stays done.
	sink = &recordingSink{fail: func(e domainevents.Event) bool { return e.DetailType == domainevents.Completed }}
	h = StreamHandler(e, domainevents.NewPublisher(sink, nil))
	res, _ = h(context.Background(), ev)
	if len(res.BatchItemFailures) != 1 || res.BatchItemFailures[0].ItemIdentifier != ev.Records[3].Change.SequenceNumber || len(sink.got) != 1 {
		t.Fatalf("batch item failures = %+v after %d events", res.BatchItemFailures, len(sink.got))
	}
	// A batch of nothing but control items and progress is no event and
	// no failure.
	sink = &recordingSink{}
	h = StreamHandler(e, domainevents.NewPublisher(sink, nil))
	res, _ = h(context.Background(), events.DynamoDBEvent{Records: ev.Records[1:3]})
	if len(res.BatchItemFailures) != 0 || len(sink.got) != 0 || res.BatchItemFailures == nil {
		t.Fatalf("control items: %+v, %d events", res, len(sink.got))
	}
}
