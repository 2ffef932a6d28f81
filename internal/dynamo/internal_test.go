package dynamo

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

func TestCancellationReasons(t *testing.T) {
	wrap := func(codes ...string) error {
		var r []types.CancellationReason
		for _, c := range codes {
			r = append(r, types.CancellationReason{Code: aws.String(c)})
		}
		return fmt.Errorf("op: %w", &types.TransactionCanceledException{CancellationReasons: r})
	}
	if err := wrap("None", "TransactionConflict"); !conflicted(err) {
		t.Error("a cancellation with TransactionConflict is not seen as a conflict")
	}
	if err := wrap("ConditionalCheckFailed", "None"); conflicted(err) || reasonCode(cancellation(err), 0) != "ConditionalCheckFailed" {
		t.Error("a failed condition is misread")
	}
	if !conflicted(&types.TransactionConflictException{}) {
		t.Error("TransactionConflictException is not a conflict")
	}
	if conflicted(errors.New("boom")) || cancellation(errors.New("boom")) != nil || reasonCode(nil, 3) != "" {
		t.Error("a plain error is read as a cancellation")
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := listCursor{CreatedKey: createdKey(time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), "abc"), ID: "abc"}
	got, err := decodeCursor(encodeCursor(c))
	if err != nil || got != c {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "!!", encodeCursor(listCursor{CreatedKey: "x#abc", ID: "other"}), encodeCursor(listCursor{CreatedKey: "x#a#b", ID: "a#b"})} {
		if _, err := decodeCursor(bad); !errors.Is(err, service.ErrInvalidCursor) {
			t.Errorf("decodeCursor(%q) = %v, want ErrInvalidCursor", bad, err)
		}
	}
}

func TestCreatedKeySorts(t *testing.T) {
	// RFC 3339 with trimmed zeros would sort .5 after .25; the fixed layout
	// must not.
	a := createdKey(time.Date(2025, 1, 1, 0, 0, 0, 250_000_000, time.UTC), "x")
	b := createdKey(time.Date(2025, 1, 1, 0, 0, 0, 500_000_000, time.UTC), "x")
	c := createdKey(time.Date(2025, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600)), "x") // 00:00 UTC
	if !(c < a && a < b) {
		t.Errorf("keys do not sort by time: %s %s %s", c, a, b)
	}
}

func TestIdempotencyKeysAreUnambiguous(t *testing.T) {
	if idempotencyKey("a#b", "c") == idempotencyKey("a", "b#c") {
		t.Error("two user and key pairs share an idempotency item")
	}
}

func TestItemRoundTrip(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)
	g := generation.New("id-1", "u", generation.Premium, generation.Request{Prompt: "p", Style: "s", Title: "t", Model: "V5", CustomMode: true, Instrumental: true, NegativeTags: "n"}, now, time.Hour)
	g.Tracks = []generation.Track{{ID: "t", AudioURL: "a", StreamAudioURL: "s", ImageURL: "i", Title: "T", Duration: 1.5}}
	g.LeaseUntil = now.Add(time.Minute)
	g.Version = 3
	av, err := marshalGeneration(g)
	if err != nil {
		t.Fatal(err)
	}
	back, err := unmarshalGeneration(av)
	if err != nil {
		t.Fatal(err)
	}
	if back.Request != g.Request || back.Tracks[0] != g.Tracks[0] || !back.LeaseUntil.Equal(g.LeaseUntil) || !back.Deadline.Equal(g.Deadline) || back.Version != 3 {
		t.Errorf("round trip changed the generation:\n got %+v\nwant %+v", back, g)
	}
	if _, ok := av[AttrOpenShard]; !ok {
		t.Error("an open generation is not in the deadline index")
	}
	g.Status = generation.Completed
	av, _ = marshalGeneration(g)
	if _, ok := av[AttrOpenShard]; !ok {
		t.Error("a completed generation whose copies are due again is not in the deadline index")
	}
	for name, end := range map[string]func(*generation.Generation){
		"archived":      func(g *generation.Generation) { g.Archived = true },
		"no copies due": func(g *generation.Generation) { g.Deadline = time.Time{} },
		"failed":        func(g *generation.Generation) { g.Status = generation.Failed },
	} {
		g := g
		end(&g)
		if g.Status == generation.Failed {
			g.Archived = false
		}
		av, _ = marshalGeneration(g)
		if _, ok := av[AttrOpenShard]; ok {
			t.Errorf("a finished generation (%s) stays in the deadline index", name)
		}
	}
	if n := ItemSize(map[string]types.AttributeValue{"ab": &types.AttributeValueMemberS{Value: "xyz"}, "n": &types.AttributeValueMemberN{Value: "123"}}); n != 2+3+1+3 {
		t.Errorf("ItemSize = %d, want 9", n)
	}
}
