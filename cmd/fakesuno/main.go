// Command fakesuno runs the fake sunoapi.org server (package sunofake) as a
// program of its own, for a local stack or for tests driven over HTTP.
//
// Configuration comes from flags, whose defaults come from the environment:
//
//	-addr              FAKE_SUNO_ADDR              (127.0.0.1:3002)
//	-api-key           SUNO_API_KEY                (empty: no key check)
//	-text-delay        FAKE_SUNO_TEXT_DELAY        (2s)
//	-first-delay       FAKE_SUNO_FIRST_DELAY       (5s)
//	-complete-delay    FAKE_SUNO_COMPLETE_DELAY    (10s)
//	-fail-rate         FAKE_SUNO_FAIL_RATE         (0)
//	-callback-timeout  FAKE_SUNO_CALLBACK_TIMEOUT  (15s)
//
// Point the project at it with SUNO_BASE_URL=http://127.0.0.1:3002.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/songqueue/songqueue/internal/sunofake"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log, os.Args[1:]); err != nil {
		log.Error("fakesuno", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, args []string) error {
	def := sunofake.DefaultConfig()
	fs := flag.NewFlagSet("fakesuno", flag.ContinueOnError)
	var (
		addr            = fs.String("addr", envString("FAKE_SUNO_ADDR", "127.0.0.1:3002"), "listen address (env FAKE_SUNO_ADDR)")
		apiKey          = fs.String("api-key", os.Getenv("SUNO_API_KEY"), "API key clients must send as a Bearer token; empty disables the check (env SUNO_API_KEY)")
		textDelay       = fs.Duration("text-delay", def.TextDelay, "time to TEXT_SUCCESS (env FAKE_SUNO_TEXT_DELAY)")
		firstDelay      = fs.Duration("first-delay", def.FirstDelay, "time to FIRST_SUCCESS (env FAKE_SUNO_FIRST_DELAY)")
		completeDelay   = fs.Duration("complete-delay", def.CompleteDelay, "time to SUCCESS (env FAKE_SUNO_COMPLETE_DELAY)")
		failRate        = fs.Float64("fail-rate", 0, "probability of a random transient failure on submit (env FAKE_SUNO_FAIL_RATE)")
		callbackTimeout = fs.Duration("callback-timeout", def.CallbackTimeout, "timeout of one callback POST (env FAKE_SUNO_CALLBACK_TIMEOUT)")
	)
	// Environment values become flag defaults, so an explicit flag wins.
	for _, e := range []struct{ flag, env, want string }{
		{"text-delay", "FAKE_SUNO_TEXT_DELAY", "a Go duration such as 2s"},
		{"first-delay", "FAKE_SUNO_FIRST_DELAY", "a Go duration such as 5s"},
		{"complete-delay", "FAKE_SUNO_COMPLETE_DELAY", "a Go duration such as 10s"},
		{"fail-rate", "FAKE_SUNO_FAIL_RATE", "a number between 0 and 1"},
		{"callback-timeout", "FAKE_SUNO_CALLBACK_TIMEOUT", "a Go duration such as 15s"},
	} {
		if v := os.Getenv(e.env); v != "" {
			if err := fs.Set(e.flag, v); err != nil {
				return fmt.Errorf("%s=%q is not %s: %w", e.env, v, e.want, err)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *failRate < 0 || *failRate > 1 {
		return fmt.Errorf("fail rate %s is not between 0 and 1", strconv.FormatFloat(*failRate, 'g', -1, 64))
	}

	fake := sunofake.New(sunofake.Config{
		APIKey:          *apiKey,
		TextDelay:       *textDelay,
		FirstDelay:      *firstDelay,
		CompleteDelay:   *completeDelay,
		FailRate:        *failRate,
		CallbackTimeout: *callbackTimeout,
		Logger:          log,
	})
	defer fake.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	srv := &http.Server{
		Handler:           fake,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("fake Suno listening", "addr", ln.Addr().String(), "key_required", *apiKey != "",
		"text_delay", *textDelay, "first_delay", *firstDelay, "complete_delay", *completeDelay, "fail_rate", *failRate)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	// fake.Close (deferred) then cancels pending callbacks and waits for them.
	return nil
}

func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
