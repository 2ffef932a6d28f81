package service

import (
	"strings"
	"testing"

	"github.com/songqueue/songqueue/internal/generation"
)

func TestTrackDataIsCheckedBeforeItIsStored(t *testing.T) {
	hosts := []string{"musicfile.api.box", ".suno.ai", "127.0.0.1:3001"}
	ok := generation.Track{ID: "a", Title: "Calm", Duration: 180,
		AudioURL: "https://musicfile.api.box/a.mp3", StreamAudioURL: "https://cdn1.suno.ai/a", ImageURL: "http://127.0.0.1:3001/fake-image/a.png"}
	if err := checkTracks([]generation.Track{ok, ok}, hosts); err != nil {
		t.Fatalf("good tracks refused: %v", err)
	}
	for name, mutate := range map[string]func(*generation.Track){
		"another host":           func(tr *generation.Track) { tr.AudioURL = "https://evil.example/a.mp3" },
		"a host ending like one": func(tr *generation.Track) { tr.AudioURL = "https://evilmusicfile.api.box/a.mp3" },
		"a suffix without a dot": func(tr *generation.Track) { tr.ImageURL = "https://notsuno.ai/a.png" },
		"another port":           func(tr *generation.Track) { tr.ImageURL = "http://127.0.0.1:9999/a.png" },
		"javascript":             func(tr *generation.Track) { tr.StreamAudioURL = "javascript:alert(1)" },
		"a file":                 func(tr *generation.Track) { tr.AudioURL = "file:///etc/passwd" },
		"credentials":            func(tr *generation.Track) { tr.AudioURL = "https://u:p@musicfile.api.box/a.mp3" },
		"a huge URL":             func(tr *generation.Track) { tr.AudioURL = "https://musicfile.api.box/" + strings.Repeat("a", 3000) },
		"a huge title":           func(tr *generation.Track) { tr.Title = strings.Repeat("t", 301) },
		"a negative duration":    func(tr *generation.Track) { tr.Duration = -1 },
	} {
		bad := ok
		mutate(&bad)
		if err := checkTracks([]generation.Track{ok, bad}, hosts); err == nil {
			t.Errorf("%s: accepted %+v", name, bad)
		}
	}
	if err := checkTracks(make([]generation.Track, 5), hosts); err == nil {
		t.Error("five tracks accepted")
	}
}
