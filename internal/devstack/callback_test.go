package devstack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
)

// scenarioForgedCallbackChangesNothing: someone who knows a song's callback
// URL (so the signature is right) posts a "complete" with their own audio.
// Suno's record-info says the task is still running, so nothing a user sees
// changes; when Suno really finishes, the song's tracks are Suno's.
func scenarioForgedCallbackChangesNothing(t *testing.T, b backend) {
	s := startStack(t, b, nil, devstack.Options{})
	u := user(t, s, "victim", generation.Pro)
	ws := u.dial()
	id := u.create("a song someone wants to hijack [fake:slow=2s]")
	ws.wait(t, "the submission", func(e event) bool { return e.id() == id && e.progress() >= generation.ProgressSubmitted }, 10*time.Second)

	g, err := s.Generations.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Roles.Callbacks.Signature(context.Background(), id, g.Attempts)
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"g": {id}, "sig": {sig}}
	forged := `{"code":200,"msg":"All generated successfully.","data":{"callbackType":"complete","task_id":"` + g.TaskID + `",
		"data":[{"id":"x","audio_url":"https://evil.example/x.mp3","stream_audio_url":"https://evil.example/x","image_url":"https://evil.example/x.png","title":"Owned","duration":1}]}}`
	res, err := http.Post(s.URL+"/api/suno/callback?"+q.Encode(), "application/json", strings.NewReader(forged))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("forged callback answered %d; Suno must always get its 200", res.StatusCode)
	}
	if st := u.status(id); st["status"] != "processing" || strings.Contains(stString(st), "evil.example") {
		t.Fatalf("after a forged callback: %v", st)
	}
	final := ws.waitFinal(t, id, 20*time.Second)
	st := u.status(id)
	if final.Event != "generation:complete" || strings.Contains(stString(st), "evil.example") || strings.Contains(stString(final.Data), "evil.example") {
		t.Fatalf("the song ended %s with %v", final, st)
	}
	for _, e := range ws.events(id) {
		if strings.Contains(stString(e.Data), "evil.example") || strings.Contains(stString(e.Data), "Owned") {
			t.Fatalf("the owner was shown the forgery: %v", e)
		}
	}
}

func stString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
