// Command devstack runs the whole system on one machine: make dev.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/songqueue/songqueue/internal/localstack"
	"github.com/songqueue/songqueue/web"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(log); err != nil {
		log.Error("devstack failed", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	cfg, err := localstack.EnvOrDefault()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	stack, err := localstack.Start(ctx, cfg, localstack.Options{Logger: log, Page: web.Handler()})
	if err != nil {
		return err
	}
	users, err := stack.DemoUsers()
	if err != nil {
		return err
	}
	fmt.Printf("\nsongqueue is running (%s backend)\n\n", cfg.Backend)
	fmt.Printf("  page       %s/\n  HTTP API   %s/api\n  WebSocket  %s?token=<JWT>\n", stack.URL, stack.URL, stack.WSURL)
	if stack.Fake != nil {
		fmt.Printf("  fake Suno  %s/suno\n", stack.URL)
	}
	fmt.Printf("\nDemo users (tokens valid 30 days, signed with JWT_SECRET):\n")
	for _, u := range users {
		fmt.Printf("  %-11s %s\n  %s\n", u.Tier, u.UserID, u.Token)
	}
	fmt.Printf("\nTry:\n  curl -s -X POST %s/api/generation/create -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -d '{\"prompt\":\"a calm piano song\"}'\n\nCtrl-C stops, after the jobs in flight finish.\n\n", stack.URL)

	<-ctx.Done()
	log.Info("shutting down: finishing jobs in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return stack.Shutdown(shutdownCtx)
}
