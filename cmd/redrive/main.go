// Command redrive shows the dead-letter queues and moves their messages back
// to their tier queues, once whatever made the jobs fail has been fixed:
//
//	go run ./cmd/redrive            # how many messages each tier's DLQ holds
//	go run ./cmd/redrive -tier FREE # move FREE's dead letters back
//	go run ./cmd/redrive -tier all  # every tier
//
// It uses the AWS credentials of the environment, or AWS_ENDPOINT_URL
// (LocalStack, moto); RESOURCE_PREFIX names the queues (default songqueue).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/sqsqueue"
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	tiers, err := parseTiers(*tierFlag)
	if err != nil {
		return err
	}
	cfg, err := awsinfra.LoadAWSConfig(ctx)
	if err != nil {
		return err
	}
	client := awsinfra.NewClients(cfg).SQS
	urls, err := sqsqueue.Resolve(ctx, client, awsinfra.DefaultNames(*prefix).Prefix)
	if err != nil {
		return err
	}
	queues := sqsqueue.New(client, urls)
	for _, t := range tiers {
		n, err := queues.Redrive(ctx, t)
		if err != nil {
			return fmt.Errorf("redrive %s: %w", t, err)
		}
		fmt.Fprintf(out, "%-10s moved %d message(s) back to its queue\n", t, n)
	}
	depth, err := queues.Depth(ctx)
	if err != nil {
		return err
	}
	for _, t := range generation.Tiers {
		fmt.Fprintf(out, "%-10s dead letters: %d\n", t, depth[t].Dead)
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
