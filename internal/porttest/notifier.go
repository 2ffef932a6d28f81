package porttest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/songqueue/songqueue/internal/service"
)

// NotifierHarness is a notifier with a way to open and close the
// connections it posts to and to see what arrived.
type NotifierHarness interface {
	Notifier() service.Notifier
	// Open returns the id of a new open connection.
	Open(t *testing.T) string
	// Close makes a connection gone, as when its client went away.
	Close(t *testing.T, id string)
	// Received returns what was posted to a connection, in order.
	Received(t *testing.T, id string) [][]byte
}

// Notifier runs the contract of service.Notifier.
func Notifier(t *testing.T, newHarness func(t *testing.T) NotifierHarness) {
	ctx := context.Background()

	t.Run("PostDelivers", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		id := h.Open(t)
		msgs := [][]byte{[]byte(`{"event":"generation:progress","data":{"progress":10}}`), []byte(`{"event":"pong"}`)}
		for _, m := range msgs {
			if err := h.Notifier().Post(ctx, id, m); err != nil {
				t.Fatalf("Post to an open connection: %v", err)
			}
		}
		got := h.Received(t, id)
		if len(got) != len(msgs) {
			t.Fatalf("connection received %d messages, want %d", len(got), len(msgs))
		}
		for i := range msgs {
			if !bytes.Equal(got[i], msgs[i]) {
				t.Errorf("message %d = %q, want %q", i, got[i], msgs[i])
			}
		}
	})

	t.Run("UnknownConnectionIsGone", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		if err := h.Notifier().Post(ctx, "never-connected", []byte("{}")); !errors.Is(err, service.ErrGone) {
			t.Fatalf("Post to an unknown connection = %v, want ErrGone", err)
		}
	})

	t.Run("GoneIsPerConnection", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		gone, live := h.Open(t), h.Open(t)
		h.Close(t, gone)
		if err := h.Notifier().Post(ctx, gone, []byte("{}")); !errors.Is(err, service.ErrGone) {
			t.Fatalf("Post to a closed connection = %v, want ErrGone", err)
		}
		if err := h.Notifier().Post(ctx, live, []byte(`{"ok":true}`)); err != nil {
			t.Fatalf("Post to the connection left open = %v", err)
		}
		if got := h.Received(t, live); len(got) != 1 {
			t.Fatalf("open connection received %d messages, want 1", len(got))
		}
	})
}
