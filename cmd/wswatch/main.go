// Command wswatch connects to the WebSocket API and prints every event, for
// watching generations from a terminal:
//
//	go run ./cmd/wswatch -url ws://localhost:3001/ws -token "$TOKEN"
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"time"

	"github.com/coder/websocket"
)

func main() {
	addr := flag.String("url", "ws://localhost:3001/ws", "WebSocket URL")
	token := flag.String("token", os.Getenv("TOKEN"), "JWT (default $TOKEN)")
	flag.Parse()
	if err := run(*addr, *token); err != nil {
		fmt.Fprintln(os.Stderr, "wswatch:", err)
		os.Exit(1)
	}
}

func run(addr, token string) error {
	u, err := url.Parse(addr)
	if err != nil {
		return fmt.Errorf("bad -url: %w", err)
	}
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dialCtx, u.String(), nil)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.CloseNow()
	// Ask for the current state first, as a reconnecting client should.
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"action":"sync"}`)); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read: %w", err)
		}
		fmt.Printf("%s %s\n", time.Now().Format("15:04:05.000"), data)
	}
}
