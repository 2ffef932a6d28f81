// Package awse2e drives whole generations through the service on the AWS
// adapters (DynamoDB, SQS and the API Gateway management API on emulators)
// and counts the AWS requests each one costs; its tests and benchmark are
// the source of docs/aws-requests.md.
package awse2e

import (
	"context"
	"fmt"
	"sync"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/suno"
)

// stubSuno is Suno as far as the request count is concerned: it never
// touches AWS, so a scripted stand-in measures the same.
type stubSuno struct {
	mu      sync.Mutex
	tasks   int
	records map[string][]suno.TaskStatus // what successive polls report
	script  []suno.TaskStatus
}

func newStubSuno(pollScript ...suno.TaskStatus) *stubSuno {
	return &stubSuno{records: map[string][]suno.TaskStatus{}, script: pollScript}
}

func (s *stubSuno) Submit(_ context.Context, req suno.GenerateRequest) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tasks++
	id := fmt.Sprintf("task-%d", s.tasks)
	s.records[id] = append([]suno.TaskStatus(nil), s.script...)
	return id, nil
}

func (s *stubSuno) Record(_ context.Context, taskID string) (suno.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := suno.StatusSuccess
	if q := s.records[taskID]; len(q) > 0 {
		st, s.records[taskID] = q[0], q[1:]
	}
	t := suno.Task{ID: taskID, Status: st}
	if st.FirstReady() {
		t.Tracks = tracks(taskID, st.Done())
	}
	return t, nil
}

// tracks are two tracks with URLs of the length sunoapi.org returns.
func tracks(taskID string, done bool) []suno.Track {
	out := make([]suno.Track, 2)
	for i := range out {
		id := fmt.Sprintf("%s-%08d-4c3b-9a1e-5f7d2c8b%04d", taskID, i, i)[:36]
		out[i] = suno.Track{
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
