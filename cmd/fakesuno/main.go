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
//	-keys              FAKE_SUNO_KEYS              (empty: API keys accepted besides -api-key, comma-separated)
//	-credits           FAKE_SUNO_CREDITS           (-1: unlimited; N >= 0: each key's starting balance)
//	-credit-cost       FAKE_SUNO_CREDIT_COST       (1: credits one accepted submission costs)
//	-rate-limit        FAKE_SUNO_RATE_LIMIT        (0: no limit; N: submissions per key per -rate-window, 430 beyond)
//	-rate-window       FAKE_SUNO_RATE_WINDOW       (10s)
//	-trouble           FAKE_SUNO_TROUBLE           (empty: none; mode[:duration], e.g. maintenance:2m)
//	-slow-delay        FAKE_SUNO_SLOW_DELAY        (30s: how long the "slow" trouble holds a call)
//
// The trouble modes are ok, slow, credits, maintenance, key_refused,
// http_503 and drop (see package sunofake). While it runs, the fake is
// steered from this machine through its control routes, for example:
//
//	curl -s -X POST 127.0.0.1:3002/_fake/trouble -d '{"mode":"http_503","for":"1m"}'
//	curl -s -X POST 127.0.0.1:3002/_fake/credits -d '{"key":"k1","credits":1000}'
//	curl -s 127.0.0.1:3002/_fake/state
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
	"strings"
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

// options is what the command line and the environment ask for.
type options struct {
	addr       string
	cfg        sunofake.Config
	trouble    sunofake.Mode // "" for none
	troubleFor time.Duration
}

// configure reads the flags, whose defaults come from the environment.
func configure(args []string) (options, error) {
	def := sunofake.DefaultConfig()
	fs := flag.NewFlagSet("fakesuno", flag.ContinueOnError)
	var (
		addr            = fs.String("addr", envString("FAKE_SUNO_ADDR", "127.0.0.1:3002"), "listen address (env FAKE_SUNO_ADDR)")
		apiKey          = fs.String("api-key", os.Getenv("SUNO_API_KEY"), "API key clients must send as a Bearer token; empty (and no -keys) disables the check (env SUNO_API_KEY)")
		textDelay       = fs.Duration("text-delay", def.TextDelay, "time to TEXT_SUCCESS (env FAKE_SUNO_TEXT_DELAY)")
		firstDelay      = fs.Duration("first-delay", def.FirstDelay, "time to FIRST_SUCCESS (env FAKE_SUNO_FIRST_DELAY)")
		completeDelay   = fs.Duration("complete-delay", def.CompleteDelay, "time to SUCCESS (env FAKE_SUNO_COMPLETE_DELAY)")
		failRate        = fs.Float64("fail-rate", 0, "probability of a random transient failure on submit (env FAKE_SUNO_FAIL_RATE)")
		callbackTimeout = fs.Duration("callback-timeout", def.CallbackTimeout, "timeout of one callback POST (env FAKE_SUNO_CALLBACK_TIMEOUT)")
		keys            = fs.String("keys", "", "more API keys the fake accepts, comma-separated; each is an account with its own credits and rate window (env FAKE_SUNO_KEYS)")
		credits         = fs.Int("credits", sunofake.Unlimited, "credits each key starts with; -1 means unlimited (env FAKE_SUNO_CREDITS)")
		creditCost      = fs.Int("credit-cost", sunofake.DefaultCreditsPerSubmission, "credits one accepted submission costs (env FAKE_SUNO_CREDIT_COST)")
		rateLimit       = fs.Int("rate-limit", 0, "most submissions per key in any -rate-window, code 430 beyond; 0 means no limit (sunoapi.org: 20 per 10s) (env FAKE_SUNO_RATE_LIMIT)")
		rateWindow      = fs.Duration("rate-window", sunofake.DefaultRateWindow, "the window -rate-limit counts in (env FAKE_SUNO_RATE_WINDOW)")
		trouble         = fs.String("trouble", "", "start in trouble: mode[:duration], mode one of ok, slow, credits, maintenance, key_refused, http_503, drop (env FAKE_SUNO_TROUBLE)")
		slowDelay       = fs.Duration("slow-delay", sunofake.DefaultSlowDelay, "how long the slow trouble holds each call (env FAKE_SUNO_SLOW_DELAY)")
	)
	// Environment values become flag defaults, so an explicit flag wins.
	for _, e := range []struct{ flag, env, want string }{
		{"text-delay", "FAKE_SUNO_TEXT_DELAY", "a Go duration such as 2s"},
		{"first-delay", "FAKE_SUNO_FIRST_DELAY", "a Go duration such as 5s"},
		{"complete-delay", "FAKE_SUNO_COMPLETE_DELAY", "a Go duration such as 10s"},
		{"fail-rate", "FAKE_SUNO_FAIL_RATE", "a number between 0 and 1"},
		{"callback-timeout", "FAKE_SUNO_CALLBACK_TIMEOUT", "a Go duration such as 15s"},
		{"keys", "FAKE_SUNO_KEYS", "a comma-separated list of keys"},
		{"credits", "FAKE_SUNO_CREDITS", "a whole number such as 1000, or -1"},
		{"credit-cost", "FAKE_SUNO_CREDIT_COST", "a whole number such as 1"},
		{"rate-limit", "FAKE_SUNO_RATE_LIMIT", "a whole number such as 20"},
		{"rate-window", "FAKE_SUNO_RATE_WINDOW", "a Go duration such as 10s"},
		{"trouble", "FAKE_SUNO_TROUBLE", "mode[:duration]"},
		{"slow-delay", "FAKE_SUNO_SLOW_DELAY", "a Go duration such as 30s"},
	} {
		if v := os.Getenv(e.env); v != "" {
			if err := fs.Set(e.flag, v); err != nil {
				return options{}, fmt.Errorf("%s=%q is not %s: %w", e.env, v, e.want, err)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if *failRate < 0 || *failRate > 1 {
		return options{}, fmt.Errorf("fail rate %s is not between 0 and 1", strconv.FormatFloat(*failRate, 'g', -1, 64))
	}
	if *credits < sunofake.Unlimited {
		return options{}, fmt.Errorf("credits %d: want a balance of 0 or more, or -1 for unlimited", *credits)
	}
	if *creditCost < 1 || *rateLimit < 0 || *rateWindow <= 0 || *slowDelay <= 0 {
		return options{}, errors.New("credit-cost must be at least 1, rate-limit at least 0, rate-window and slow-delay positive")
	}
	o := options{
		addr: *addr,
		cfg: sunofake.Config{
			APIKey:               *apiKey,
			TextDelay:            *textDelay,
			FirstDelay:           *firstDelay,
			CompleteDelay:        *completeDelay,
			FailRate:             *failRate,
			CallbackTimeout:      *callbackTimeout,
			Credits:              *credits,
			LimitCredits:         *credits >= 0,
			CreditsPerSubmission: *creditCost,
			RateLimit:            *rateLimit,
			RateWindow:           *rateWindow,
			SlowDelay:            *slowDelay,
		},
	}
	for _, k := range strings.Split(*keys, ",") {
		if k = strings.TrimSpace(k); k != "" {
			o.cfg.APIKeys = append(o.cfg.APIKeys, k)
		}
	}
	if *trouble != "" {
		m, d, err := sunofake.ParseTrouble(*trouble)
		if err != nil {
			return options{}, fmt.Errorf("trouble: %w", err)
		}
		o.trouble, o.troubleFor = m, d
	}
	return o, nil
}

func run(log *slog.Logger, args []string) error {
	o, err := configure(args)
	if err != nil {
		return err
	}
	cfg := o.cfg
	cfg.Logger = log
	fake := sunofake.New(cfg)
	defer fake.Close()
	if o.trouble != "" {
		if err := fake.SetTrouble("", o.trouble, o.troubleFor); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
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
	credits := "unlimited"
	if cfg.Credits >= 0 {
		credits = strconv.Itoa(cfg.Credits)
	}
	log.Info("fake Suno listening", "addr", ln.Addr().String(), "keys", len(cfg.APIKeys)+min(len(cfg.APIKey), 1),
		"text_delay", cfg.TextDelay, "first_delay", cfg.FirstDelay, "complete_delay", cfg.CompleteDelay, "fail_rate", cfg.FailRate,
		"credits", credits, "rate_limit", cfg.RateLimit, "rate_window", cfg.RateWindow, "trouble", o.trouble, "trouble_for", o.troubleFor,
		"control", "http://"+ln.Addr().String()+"/_fake/state")

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
