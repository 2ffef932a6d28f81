// Command redrive shows the dead-letter queues and moves their messages back
// to their tier queues, once whatever made the jobs fail has been fixed:
//
//	go run ./cmd/redrive            # how many messages each tier's DLQ holds
//	go run ./cmd/redrive -show      # and the jobs they carry (up to 10 a tier)
//	go run ./cmd/redrive -tier FREE # move FREE's dead letters back
//	go run ./cmd/redrive -tier all  # every tier
//
// It is a thin client of the same operator controls as the API's
// /api/admin/deadletters routes (service.ListDeadLetters, service.Redrive),
// acting as an operator with the AWS credentials of the environment, or
// AWS_ENDPOINT_URL (LocalStack, moto); RESOURCE_PREFIX names the queues
// (default songqueue), or QUEUE_URL_<TIER> and DLQ_URL_<TIER> give them.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "redrive:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	tierFlag := fs.String("tier", "", "tier whose dead letters to move back (ENTERPRISE, PREMIUM, PRO, FREE or all); empty only lists")
	prefix := fs.String("prefix", getenv("RESOURCE_PREFIX"), "resource prefix of the queues")
	show := fs.Bool("show", false, "list the jobs in the dead-letter queues too")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tiers, err := parseTiers(*tierFlag)
	if err != nil {
		return err
	}
	cfg, err := app.FromEnv(getenv)
	if err != nil {
		return err
	}
	cfg.Backend = app.AWS
	if *prefix != "" {
		cfg.Names = awsinfra.DefaultNames(*prefix)
	}
	env, err := app.NewEnv(ctx, cfg, app.Options{Logger: logging.New(os.Stderr, logging.Text, slog.LevelWarn)})
	if err != nil {
		return err
	}
	a, err := app.API(ctx, env)
	if err != nil {
		return err
	}
	ops := a.Operators
	operator := identity.Caller{UserID: "cli:" + getenv("USER"), Groups: []string{ops.AdminGroup()}}
	if len(tiers) > 0 {
		moved, err := ops.Redrive(ctx, operator, tiers)
		for _, t := range tiers {
			if n, ok := moved[t]; ok {
				fmt.Fprintf(out, "%-10s moved %d message(s) back to its queue\n", t, n)
			}
		}
		if err != nil {
			return err
		}
	}
	queues, err := ops.QueueControls(ctx, operator)
	if err != nil {
		return err
	}
	for _, t := range generation.Tiers {
		fmt.Fprintf(out, "%-10s dead letters: %d\n", t, queues[t].DeadLetters)
	}
	if *show {
		dead, err := ops.ListDeadLetters(ctx, operator, generation.Tiers[:], 10)
		if err != nil {
			return err
		}
		for _, d := range dead {
			if d.Job != nil {
				fmt.Fprintf(out, "%-10s %s  %s generation %s attempt %d, received %d times\n", d.Tier, d.MessageID, d.Job.Kind, d.Job.GenerationID, d.Job.Attempt, d.ReceiveCount)
			} else {
				fmt.Fprintf(out, "%-10s %s  not a job: %q\n", d.Tier, d.MessageID, d.Body)
			}
		}
	}
	return nil
}

func parseTiers(s string) ([]generation.Tier, error) {
	switch strings.ToLower(s) {
	case "":
		return nil, nil
	case "all":
		return generation.Tiers[:], nil
	}
	t := generation.Tier(strings.ToUpper(s))
	if !t.Valid() {
		return nil, fmt.Errorf("-tier %q: want ENTERPRISE, PREMIUM, PRO, FREE or all", s)
	}
	return []generation.Tier{t}, nil
}
