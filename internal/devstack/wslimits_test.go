package devstack_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
)

// scenarioWebSocketLimits: a user's connections are capped (the next one is
// refused with 429 before the upgrade), a connection's messages are
// rate-limited with a rate_limited error, and a connection whose token has
// expired is closed.
func scenarioWebSocketLimits(t *testing.T, b backend) {
	s := startStack(t, b, func(c *devstack.Config) { c.Pipeline.MaxConnectionsPerUser = 3 }, devstack.Options{})
	u := user(t, s, "many-tabs", generation.Pro)
	var open []*socket
	for range 3 {
		open = append(open, u.dial())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, res, err := websocket.Dial(ctx, s.WSURL+"?token="+u.token, nil)
	if err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth connection: %v %+v; want 429 with Retry-After", err, res)
	}
	// Closing one makes room.
	open[0].conn.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, _, err := websocket.Dial(ctx, s.WSURL+"?token="+u.token, nil)
		if err == nil {
			c.Close(websocket.StatusNormalClosure, "")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no room after a close: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A flood of messages: the burst is answered, the rest refused.
	ws := open[1]
	before := len(ws.events(""))
	began := time.Now()
	for range 60 {
		ws.send(t, `{"action":"ping"}`)
	}
	ws.wait(t, "answers to the flood", func(event) bool { return len(ws.events("")) >= before+60 }, 10*time.Second)
	pongs, limited := 0, 0
	for _, e := range ws.events("")[before:] {
		switch {
		case e.Event == "pong":
			pongs++
		case e.Event == "error" && e.Data["code"] == "rate_limited":
			limited++
		}
	}
	// The bucket refills at 5 a second while the flood is answered: on a
	// loaded emulator that takes seconds, and each one lets 5 more in.
	took := time.Since(began)
	most := 20 + int(5*took.Seconds()) + 1
	if pongs < 15 || pongs > most || limited == 0 || pongs+limited != 60 {
		t.Fatalf("60 pings at once, answered in %s: %d pongs, %d rate_limited; want the burst of 20 answered (the dial used one) and at most %d, the rest refused", took.Round(time.Millisecond), pongs, limited, most)
	}

	// A token that expires ends its connection.
	short, err := s.Tokens.Mint("brief", generation.Free, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := websocket.Dial(ctx, s.WSURL+"?token="+short, nil)
	if err != nil {
		t.Fatal(err)
	}
	readCtx, cancelRead := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelRead()
	for {
		if _, _, err := c.Read(readCtx); err != nil {
			if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
				t.Fatalf("the expired token's connection ended with %v, want closed for policy", err)
			}
			break
		}
	}
}
