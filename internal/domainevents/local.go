package domainevents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Log is the local stack's Sink: one log line per event. It never fails.
type Log struct{ Log *slog.Logger }

// Send implements Sink.
func (l Log) Send(ctx context.Context, events []Event) ([]int, error) {
	for _, ev := range events {
		l.Log.InfoContext(ctx, "event", "eventId", ev.ID, "detailType", ev.DetailType,
			"generationId", ev.Detail.GenerationID, "userId", ev.Detail.UserID, "tier", ev.Detail.Tier,
			"status", ev.Detail.Status, "version", ev.Detail.Version)
	}
	return nil, nil
}

// Webhook posts each event, in EventBridge's envelope (Event.Envelope), to
// URL as JSON, one request per event as EventBridge invokes a target; any
// 2xx answer is a delivery. A failed post is tried again, up to Attempts
// in all.
type Webhook struct {
	URL    string
	Client *http.Client
	// Attempts is the most posts per event (default 3); Backoff the wait
	// before the second (default 200 ms), doubling.
	Attempts int
	Backoff  time.Duration
}

// Send implements Sink. It stops at the first event it cannot deliver:
// that one and the rest are reported failed.
func (w Webhook) Send(ctx context.Context, events []Event) ([]int, error) {
	for i, ev := range events {
		if err := w.post(ctx, ev); err != nil {
			failed := make([]int, 0, len(events)-i)
			for j := i; j < len(events); j++ {
				failed = append(failed, j)
			}
			return failed, err
		}
	}
	return nil, nil
}

func (w Webhook) post(ctx context.Context, ev Event) error {
	env, err := ev.Envelope()
	if err != nil {
		return err
	}
	body, err := json.Marshal(env)
	if err != nil {
		return err
	}
	client, attempts, wait := w.Client, w.Attempts, w.Backoff
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if attempts <= 0 {
		attempts = 3
	}
	if wait <= 0 {
		wait = 200 * time.Millisecond
	}
	var lastErr error
	for n := range attempts {
		if n > 0 {
			if err := sleep(ctx, backoff(wait, 5*time.Second, n-1)); err != nil {
				return errors.Join(lastErr, err)
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("EVENTS_WEBHOOK_URL: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			lastErr = fmt.Errorf("post event %s: %w", ev.ID, err)
			continue
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
		if res.StatusCode/100 == 2 {
			return nil
		}
		lastErr = fmt.Errorf("post event %s: the webhook answered %s", ev.ID, res.Status)
	}
	return lastErr
}

// Tee delivers every event to each sink in turn: an event is delivered
// when every sink delivered it.
type Tee []Sink

// Send implements Sink.
func (t Tee) Send(ctx context.Context, events []Event) ([]int, error) {
	seen := map[int]bool{}
	var failed []int
	var errs []error
	for _, s := range t {
		f, err := s.Send(ctx, events)
		for _, i := range f {
			if !seen[i] {
				seen[i] = true
				failed = append(failed, i)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return failed, errors.Join(errs...)
}
