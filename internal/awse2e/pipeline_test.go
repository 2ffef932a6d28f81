package awse2e

import (
	"context"
	"fmt"
	"sync"

	"github.com/songqueue/songqueue/internal/generation"
)

// stubSuno is Suno as far as the request count is concerned: it never
// touches AWS, so a scripted stand-in measures the same.
type stubSuno struct {
	mu      sync.Mutex
	tasks   int
	records map[string][]generation.TaskStage // what successive polls report
	script  []generation.TaskStage
}

func newStubSuno(pollScript ...generation.TaskStage) *stubSuno {
	return &stubSuno{records: map[string][]generation.TaskStage{}, script: pollScript}
}

func (s *stubSuno) Submit(context.Context, generation.Request, string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tasks++
	id := fmt.Sprintf("task-%d", s.tasks)
	s.records[id] = append([]generation.TaskStage(nil), s.script...)
	return id, nil
}

func (s *stubSuno) Credits(context.Context) (int, error) { return 1000, nil }

func (s *stubSuno) Task(_ context.Context, taskID string) (generation.TaskReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := generation.TaskDone
	if q := s.records[taskID]; len(q) > 0 {
		st, s.records[taskID] = q[0], q[1:]
	}
	t := generation.TaskReport{TaskID: taskID, Stage: st}
	if st == generation.TaskFirstReady || st == generation.TaskDone {
		t.Tracks = tracks(taskID, st == generation.TaskDone)
	}
	return t, nil
}

// tracks are two tracks with URLs of the length sunoapi.org returns.
func tracks(taskID string, done bool) []generation.Track {
	out := make([]generation.Track, 2)
	for i := range out {
		id := fmt.Sprintf("%s-%08d-4c3b-9a1e-5f7d2c8b%04d", taskID, i, i)[:36]
		out[i] = generation.Track{
			ID:             id,
			StreamAudioURL: "https://musicfile.api.box/" + id + ".mp3?stream=1",
			ImageURL:       "https://musicfile.api.box/" + id + ".jpeg",
			Title:          "Calm Waters",
		}
		if done {
			out[i].AudioURL = "https://musicfile.api.box/" + id + ".mp3"
			out[i].Duration = 187.36
		}
	}
	return out
}

// request is a typical create: a 200-character description, non-custom.
var request = generation.Request{
	Prompt: "A calm piano piece with soft strings that slowly builds to a hopeful, warm climax, " +
		"evoking a quiet morning by a lake; gentle rhythm, no vocals, cinematic and reflective mood.",
	Instrumental: true,
	Model:        "V4_5",
}
