// Package lambdaapp adapts Lambda's events (API Gateway HTTP and
// WebSocket, SQS, the schedule) to the application that package app
// assembles. Each function's main reads its configuration with Load, picks
// its handler here and starts it.
package lambdaapp

import (
	"context"
	"log/slog"
	"os"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/logging"
)

// Load assembles the application of a function from the environment
// template.yaml sets. It runs once per cold start, in the init phase. The
// functions always run on the AWS backend.
func Load(ctx context.Context, role app.Role, opt app.Options) (*app.Application, error) {
	cfg, err := app.FromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	cfg.Backend = app.AWS
	return app.New(ctx, role, cfg, opt)
}

// Must returns a, or ends the process when err is set: Lambda reports the
// failed init and tries a fresh one on the next invocation.
func Must(a *app.Application, err error) *app.Application {
	if err != nil {
		logging.New(os.Stderr, logging.JSON, slog.LevelError).Error("function init failed", "err", err)
		os.Exit(1)
	}
	return a
}
