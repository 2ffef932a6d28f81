package devstack_test

import (
	"context"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// gatedSuno holds every submission until released.
type gatedSuno struct {
	service.Suno
	entered chan struct{}
	release chan struct{}
}

func (g *gatedSuno) Submit(ctx context.Context, req generation.Request, callbackURL string) (string, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.Suno.Submit(ctx, req, callbackURL)
}

func scenarioShutdownFinishesTheJobInFlight(t *testing.T, b backend) {
	gate := &gatedSuno{entered: make(chan struct{}, 1), release: make(chan struct{})}
	cfg, opt := b.config(t, devstack.Options{
		Options:       app.Options{WrapSuno: func(next service.Suno) service.Suno { gate.Suno = next; return gate }},
		NoEventStream: true,
	})
	s, err := devstack.Start(context.Background(), cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	u := user(t, s, "jules", generation.Pro)
	id := u.create("in flight at shutdown")
	select {
	case <-gate.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the job never reached Suno")
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	select {
	case err := <-done:
		t.Fatalf("shutdown returned (%v) while a job was still being submitted", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(gate.release)
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	g, err := s.Generations.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	// The handler ran to its end: the task is recorded (and Suno's callbacks,
	// still accepted while draining, may even have completed it).
	if g.TaskID == "" || (g.Status != generation.Processing && g.Status != generation.Completed) {
		t.Errorf("after shutdown the job in flight is %s with task %q: it was abandoned midway", g.Status, g.TaskID)
	}
}
