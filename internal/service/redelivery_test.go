package service_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/batch"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/media"
	"github.com/songqueue/songqueue/internal/memory"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
)

// TestRedeliveredPollSendsALostArchiveJob: a worker moved a song to saving
// (90 %) and died before it sent the archive job. When the poll job's
// message comes back, it sends the archive job, so the song is not left
// to the sweeper; a poll that is not a redelivery sends nothing.
func TestRedeliveredPollSendsALostArchiveJob(t *testing.T) {
	ctx := context.Background()
	store := memory.NewStore()
	queues := memory.NewQueues(memory.QueueConfig{})
	dir, err := media.OpenDir(t.TempDir(), "http://stack/media")
	if err != nil {
		t.Fatal(err)
	}
	roles := service.MustAssemble(service.Ports{
		Store: store, Connections: store, Controls: store, Queue: queues, DeadLetters: queues, Notifier: memory.NewHub(),
		Account: memory.NewLimiter(ratelimit.Policy{Rate: 100}, nil), Suno: newScriptedSuno(), Media: dir, Fetcher: &countingFetcher{},
	}, service.Config{MediaHosts: []string{"cdn.suno.test"}, Archive: true})

	now := time.Now()
	g := generation.New("g-saving", "u", generation.Pro, generation.Request{Prompt: "p"}, now, time.Hour)
	g, _, _ = store.Create(ctx, g, "", service.Quota{})
	next := g
	for _, step := range []func() error{
		func() error { return next.Claim(1, now, time.Minute) },
		func() error { return next.Submitted("task-1", now, time.Hour) },
		func() error {
			return next.Saving([]generation.Track{{ID: "t", AudioURL: "https://cdn.suno.test/a.mp3"}}, now)
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Save(ctx, next, generation.Pending); err != nil {
		t.Fatal(err)
	}
	poll, _ := json.Marshal(service.Job{Kind: service.JobPoll, GenerationID: g.ID, Tier: g.Tier, UserID: g.UserID, Attempt: 1, TaskID: "task-1"})

	if err := roles.Worker.Handle(ctx, batch.Record{ID: "m1", Body: poll, ReceiveCount: 1}); err != nil {
		t.Fatal(err)
	}
	if d, err := queues.Depth(ctx); err != nil || d[generation.Pro].Waiting != 0 {
		t.Fatalf("a first delivery queued %+v; a poll that finds the song saving has nothing to do", d)
	}
	if err := roles.Worker.Handle(ctx, batch.Record{ID: "m1", Body: poll, ReceiveCount: 2}); err != nil {
		t.Fatal(err)
	}
	msgs, err := queues.Receive(ctx, generation.Pro, 10, 0)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("after the redelivery: %d messages (%v); want the archive job", len(msgs), err)
	}
	var job service.Job
	if err := json.Unmarshal(msgs[0].Body, &job); err != nil || job.Kind != service.JobArchive || job.TaskID != "task-1" {
		t.Fatalf("sent %+v (%v); want the archive job of task-1", job, err)
	}
}
