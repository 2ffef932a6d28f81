// Command devstack runs the whole system on one machine: make dev.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/logging"
	"github.com/songqueue/songqueue/web"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := devstack.EnvOrDefault()
	if err != nil {
		return err
	}
	// Text for people by default; LOG_FORMAT=json prints what the Lambda
	// functions print, EMF metrics included.
	format := cfg.LogFormat
	if format == "" {
		format = logging.Text
	}
	log, rec := app.Telemetry(os.Stderr, format, cfg.LogLevel, cfg.MetricsNamespace, nil)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	stack, err := devstack.Start(ctx, cfg, devstack.Options{Options: app.Options{Logger: log, Metrics: rec}, Page: web.Handler()})
	if err != nil {
		return err
	}
	users, err := stack.DemoUsers()
	if err != nil {
		return err
	}
	// People type localhost; the stack listens on 127.0.0.1 (HOST).
	base := strings.Replace(stack.URL, "//127.0.0.1:", "//localhost:", 1)
	ws := strings.Replace(stack.WSURL, "//127.0.0.1:", "//localhost:", 1)
	fmt.Printf("\nsongqueue is running (%s backend)\n\n", cfg.Backend)
	fmt.Printf("  page       %s/\n  HTTP API   %s/api\n  WebSocket  %s?token=<JWT>\n", base, base, ws)
	if stack.Fake != nil {
		fmt.Printf("  fake Suno  %s/suno\n", base)
	}
	if stack.Config.Media.BaseURL != "" {
		where := "bucket " + stack.Config.Media.Bucket
		if cfg.Backend == app.Memory {
			where = stack.Config.Media.Dir
		}
		fmt.Printf("  songs      %s/media/ (kept in %s)\n", base, where)
	}
	fmt.Printf("  client     %s/songqueue-client.js (an ES module for frontends on other origins)\n", base)
	fmt.Printf("  origins    %s may call the API (add a frontend's with CORS_ALLOW_ORIGINS=http://localhost:5173)\n", strings.Join(stack.AllowedOrigins, ", "))
	fmt.Printf("\nDemo users (tokens valid 30 days, signed with JWT_SECRET):\n")
	for _, u := range users {
		role := string(u.Tier)
		if len(u.Groups) > 0 {
			role += " " + strings.Join(u.Groups, ",")
		}
		fmt.Printf("  %-17s %s\n  %s\n", role, u.UserID, u.Token)
	}
	fmt.Printf("\nTry:\n  TOKEN=$(curl -s %s/api/dev/token?tier=PRO)\n"+
		"  curl -s -X POST %s/api/generation/create -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -d '{\"prompt\":\"a calm piano song\"}'\n"+
		"\nLogs below (LOG_FORMAT=json for the functions' JSON lines and metrics). Ctrl-C stops, after the jobs in flight finish.\n\n", base, base)

	<-ctx.Done()
	log.Info("shutting down: finishing jobs in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return stack.Shutdown(shutdownCtx)
}
