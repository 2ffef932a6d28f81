// Command flood measures how many generation creates a second a stack
// accepts: it reads the stack's demo users (GET /api/dev/users), then posts
// creates from many clients at once, each client with one user's token,
// for a while, and prints the creates accepted a second. It serves `make
// flood`, which runs it against the local stack and the seed's route
// (scripts/seedroute) in turn.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	clients := flag.Int("clients", 64, "clients posting at once")
	duration := flag.Duration("duration", 15*time.Second, "how long to post")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: flood [-clients n] [-duration d] http://host:port")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || *clients < 1 || *duration <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	r, err := run(context.Background(), flag.Arg(0), *clients, *duration)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
	fmt.Printf("%.0f creates/s accepted (%d in %s by %d clients), %d refused or failed\n",
		float64(r.accepted)/duration.Seconds(), r.accepted, *duration, *clients, r.failed)
}

type result struct{ accepted, failed int64 }

func run(ctx context.Context, base string, clients int, d time.Duration) (result, error) {
	tokens, err := demoTokens(ctx, base)
	if err != nil {
		return result{}, err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 10 * time.Second}
	body := []byte(`{"prompt":"a flood song"}`)
	var accepted, failed atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for c := range clients {
		token := tokens[c%len(tokens)]
		wg.Go(func() {
			for time.Now().Before(stop) {
				if post(ctx, client, base, token, body) {
					accepted.Add(1)
				} else {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return result{accepted.Load(), failed.Load()}, nil
}

// post creates one generation; it reports whether the stack accepted it.
func post(ctx context.Context, client *http.Client, base, token string, body []byte) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/generation/create", bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, res.Body) // so the connection is reused
	res.Body.Close()
	return res.StatusCode == http.StatusAccepted
}

// demoTokens reads the stack's demo users' tokens.
func demoTokens(ctx context.Context, base string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/dev/users", nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read the demo users: %w", err)
	}
	defer res.Body.Close()
	var users struct {
		Users []struct {
			Token string `json:"token"`
		} `json:"users"`
	}
	if err := json.NewDecoder(res.Body).Decode(&users); err != nil {
		return nil, fmt.Errorf("read the demo users: %w", err)
	}
	var tokens []string
	for _, u := range users.Users {
		if u.Token != "" {
			tokens = append(tokens, u.Token)
		}
	}
	if len(tokens) == 0 {
		return nil, errors.New("the stack has no demo users with tokens")
	}
	return tokens, nil
}
