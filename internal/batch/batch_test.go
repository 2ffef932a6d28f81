package batch

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"
)

var quiet = slog.New(slog.DiscardHandler)

func records(ids ...string) []Record {
	out := make([]Record, len(ids))
	for i, id := range ids {
		out[i] = Record{ID: id, Body: []byte(id)}
	}
	return out
}

// TestProcessReportsEachFailureAlone: an error or a panic fails its own
// record, and the records after it still run.
func TestProcessReportsEachFailureAlone(t *testing.T) {
	var ran []string
	failed, err := Process(context.Background(), records("ok-1", "bad", "boom", "ok-2"), func(_ context.Context, r Record) error {
		ran = append(ran, r.ID)
		switch r.ID {
		case "bad":
			return errors.New("store unavailable")
		case "boom":
			panic("nil map")
		}
		return nil
	}, quiet)
	if err != nil {
		t.Fatalf("a partly failed batch is no function error: %v", err)
	}
	if !slices.Equal(failed, []string{"bad", "boom"}) || !slices.Equal(ran, []string{"ok-1", "bad", "boom", "ok-2"}) {
		t.Fatalf("failed %v after running %v", failed, ran)
	}
}

// TestProcessFailsTheInvocationWhenNothingSucceeds: as Powertools does, so
// the function's error alarm sees a worker that fails everything.
func TestProcessFailsTheInvocationWhenNothingSucceeds(t *testing.T) {
	failed, err := Process(context.Background(), records("a", "b"), func(context.Context, Record) error {
		return errors.New("no")
	}, quiet)
	if !errors.Is(err, ErrAllFailed) || len(failed) != 2 {
		t.Fatalf("failed %v, err %v; want every record and ErrAllFailed", failed, err)
	}
	if failed, err := Process(context.Background(), nil, nil, quiet); err != nil || len(failed) != 0 {
		t.Fatalf("empty batch: %v %v", failed, err)
	}
}

// TestProcessStartsNothingNearTheDeadline: a record that runs into the
// margin keeps the rest from starting; they come back untouched.
func TestProcessStartsNothingNearTheDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var ran []string
	failed, err := Process(ctx, records("slow", "next", "last"), func(ctx context.Context, r Record) error {
		ran = append(ran, r.ID)
		<-ctx.Done() // holds on until the processor's own, earlier deadline
		return nil
	}, quiet)
	if ctx.Err() != nil {
		t.Fatal("the processor ran into the invocation's deadline")
	}
	if err != nil || !slices.Equal(ran, []string{"slow"}) || !slices.Equal(failed, []string{"next", "last"}) {
		t.Fatalf("ran %v, failed %v, err %v", ran, failed, err)
	}
}
