package service_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
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
		Account: memory.NewLimiter(ratelimit.Policy{Rate: 100}, nil), Suno: newScriptedSuno(), Media: dir, Fetcher: fetcher,
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

// TestArchiveOfADeletedSongLeavesNoCopies: a song cancelled and deleted
// while its archive job copies its files (the delete removes what it
// finds, then the job writes more) keeps no copies: the job finds the song
// gone after writing and removes what it wrote, whether the copy then
// completes or fails and comes back for another try.
func TestArchiveOfADeletedSongLeavesNoCopies(t *testing.T) {
	for _, tc := range []struct {
		name string
		// deleteAt is the fetch during which the owner deletes the song,
		// before anything was written; failAt, if set, is a fetch that
		// fails, so the job is tried again.
		deleteAt, failAt int
	}{
		{"CopyCompletes", 1, 0},
		{"CopyFailsAndIsRetried", 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, withArchive(0, 3))
			g := h.saving("delete me while you copy")
			h.fetcher.onFetch = func(n int, _ string) error {
				switch n {
				case tc.deleteAt:
					h.mustCancel(g)
					if err := h.roles.API.Delete(h.ctx, callerOf(g.Tier), g.ID); err != nil {
						t.Errorf("delete while copying: %v", err)
					}
				case tc.failAt:
					return &media.Error{URL: "x", Reason: "connection reset by peer"}
				}
				return nil
			}
			// Every job to the end, as the queue would deliver them: one
			// that fails comes back after its visibility timeout.
			var failed []error
			for i := 0; h.depth(generation.Pro) > 0; i++ {
				if i == 10 {
					t.Fatal("jobs still queued after 10 runs")
				}
				if job, err := h.runNext(generation.Pro); err != nil {
					failed = append(failed, fmt.Errorf("%s job: %w", job.Kind, err))
				}
			}
			if _, err := h.store.Get(h.ctx, g.ID); !errors.Is(err, service.ErrNotFound) {
				t.Fatalf("the song is back: %v", err)
			}
			if got := h.fetcher.fetches(); len(got) < tc.deleteAt {
				t.Fatalf("%d fetches; the delete never ran", len(got))
			}
			var left []string
			_ = filepath.WalkDir(h.mediaDir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					left = append(left, p)
				}
				return nil
			})
			if len(left) != 0 {
				t.Fatalf("copies of the deleted song left in storage: %v", left)
			}
			if len(failed) != 0 {
				t.Fatalf("jobs failed: %v", failed)
			}
		})
	}
}
