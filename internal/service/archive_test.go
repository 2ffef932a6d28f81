package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/media"
	"github.com/songqueue/songqueue/internal/memory"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
)

// countingFetcher records what it is asked to fetch, and fetches nothing.
type countingFetcher struct{ urls []string }

func (f *countingFetcher) Fetch(_ context.Context, url string, _ media.Kind) (*media.File, error) {
	f.urls = append(f.urls, url)
	return nil, &media.Error{URL: url, Reason: "test fetcher", Permanent: true}
}

// TestArchiveFetchesOnlyFromMediaHosts: whatever a stored generation says
// its tracks are, the copy asks no host outside SUNO_MEDIA_HOSTS; the song
// completes with what it has, marked as not archived.
func TestArchiveFetchesOnlyFromMediaHosts(t *testing.T) {
	ctx := context.Background()
	store := memory.NewStore()
	queues := memory.NewQueues(memory.QueueConfig{})
	dir, err := media.OpenDir(t.TempDir(), "http://stack/media")
	if err != nil {
		t.Fatal(err)
	}
	fetcher := &countingFetcher{}
	svc := service.MustAssemble(service.Ports{
		Store: store, Connections: store, Controls: store, Queue: queues, DeadLetters: queues, Notifier: memory.NewHub(),
		Account: memory.NewLimiter(ratelimit.Policy{Rate: 100}, nil), Media: dir, Fetcher: fetcher,
	}, service.Config{MediaHosts: []string{"cdn.suno.test"}, ArchiveAttempts: 1, Archive: true})

	now := time.Now()
	g := generation.New("g-1", "u", generation.Pro, generation.Request{Prompt: "p"}, now, time.Hour)
	g, _, _ = store.Create(ctx, g, "", service.Quota{})
	next := g
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(next.Claim(1, now, time.Minute))
	must(next.Submitted("task-1", now, time.Hour))
	tracks := []generation.Track{{ID: "t", AudioURL: "http://169.254.169.254/latest/meta-data", ImageURL: "https://cdn.suno.test/c.png"}}
	must(next.Saving(tracks, now))
	if g, err = store.Save(ctx, next, generation.Pending); err != nil {
		t.Fatal(err)
	}
	err = svc.Worker.HandleJob(ctx, service.Job{Kind: service.JobArchive, GenerationID: g.ID, Tier: g.Tier, UserID: g.UserID, Attempt: 1, TaskID: "task-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(fetcher.urls) != 0 {
		t.Errorf("fetched %v; a host outside the media hosts must not be asked", fetcher.urls)
	}
	got, _ := store.Get(ctx, g.ID)
	if got.Status != generation.Completed || got.Archived || got.Tracks[0].AudioURL != tracks[0].AudioURL {
		t.Errorf("after the refused copy: %+v; want completed with the URLs it had, not archived", got)
	}
}
