// Package lambdaapp adapts Lambda's events (API Gateway HTTP and
// WebSocket, SQS, the schedule) to the roles that package app assembles.
// Each function's main reads its environment with Load, assembles its role
// (app.Worker, app.API, ...), picks its handler here and starts it.
package lambdaapp

import (
	"context"
	"log/slog"
	"os"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/logging"
)

// Load reads a function's environment, as template.yaml sets it, and
// makes its Env; the function's main then assembles its role with the
// app constructor of that role. It runs once per cold start, in the init
// phase. The functions always run on the AWS backend.
func Load(ctx context.Context, opt app.Options) (*app.Env, error) {
	cfg, err := app.FromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	cfg.Backend = app.AWS
	return app.NewEnv(ctx, cfg, opt)
}

// Must returns v, or ends the process when err is set: Lambda reports the
// failed init and tries a fresh one on the next invocation.
func Must[T any](v T, err error) T {
	if err != nil {
		logging.New(os.Stderr, logging.JSON, slog.LevelError).Error("function init failed", "err", err)
		os.Exit(1)
	}
	return v
}
