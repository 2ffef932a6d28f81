package memory

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// TestChangeLogRecordsEveryWriteInOrder: the outbox has every stored
// change with both images, in the order of the writes, and nothing of a
// write that did not happen.
func TestChangeLogRecordsEveryWriteInOrder(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	s := NewStore(WithChanges())
	g := generation.New("g1", "u", generation.Pro, generation.Request{Prompt: "p"}, now, time.Hour)
	stored, _, err := s.Create(ctx, g, "key", service.Quota{})
	if err != nil {
		t.Fatal(err)
	}
	if _, created, _ := s.Create(ctx, g, "key", service.Quota{}); created {
		t.Fatal("replay created")
	}
	claimed := stored
	_ = claimed.Claim(1, now, time.Minute)
	if claimed, err = s.Save(ctx, claimed, generation.Pending); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(ctx, stored, generation.Pending); !errors.Is(err, service.ErrConflict) {
		t.Fatalf("stale save: %v", err)
	}
	done := claimed
	_ = done.Cancel(now)
	if done, err = s.Save(ctx, done, generation.Processing); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, done); err != nil {
		t.Fatal(err)
	}

	changes, err := s.Changes().Read(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		old, new generation.Status // "" for none
		version  int64
	}
	want := []step{{"", generation.Pending, 1}, {generation.Pending, generation.Processing, 2}, {generation.Processing, generation.Cancelled, 3}, {generation.Cancelled, "", 3}}
	if len(changes) != len(want) {
		t.Fatalf("%d changes, want %d: %+v", len(changes), len(want), changes)
	}
	for i, c := range changes {
		var got step
		if c.Old != nil {
			got.old, got.version = c.Old.Status, c.Old.Version
		}
		if c.New != nil {
			got.new, got.version = c.New.Status, c.New.Version
		}
		if got != want[i] || c.Seq != int64(i+1) {
			t.Errorf("change %d = %+v (seq %d), want %+v", i, got, c.Seq, want[i])
		}
	}

	// Read gives the same until Ack drops them, then waits for the next.
	if again, _ := s.Changes().Read(ctx, 2); len(again) != 2 || again[0].Seq != 1 {
		t.Fatalf("second read = %+v", again)
	}
	s.Changes().Ack(changes[3].Seq)
	if n := s.Changes().Len(); n != 0 {
		t.Fatalf("%d left after Ack", n)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := s.Changes().Read(short, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read of nothing = %v", err)
	}
	got := make(chan []Change, 1)
	go func() {
		c, _ := s.Changes().Read(ctx, 10)
		got <- c
	}()
	time.Sleep(10 * time.Millisecond)
	g2 := generation.New("g2", "u", generation.Pro, generation.Request{Prompt: "p"}, now, time.Hour)
	if _, _, err := s.Create(ctx, g2, "", service.Quota{}); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		if len(c) != 1 || c[0].New.ID != "g2" || c[0].Seq != 5 {
			t.Fatalf("woke with %+v", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not wake on a write")
	}
	// A store made without it keeps none.
	if NewStore().Changes() != nil {
		t.Fatal("a change log without WithChanges")
	}
}
