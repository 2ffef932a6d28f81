package sunofake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/songqueue/songqueue/internal/suno"
)

func writeError(w http.ResponseWriter, httpStatus, code int, msg string) {
	writeJSON(w, httpStatus, code, msg, nil)
}

func writeJSON(w http.ResponseWriter, httpStatus, code int, msg string, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "msg": msg, "data": data})
}

func (t *task) errorInfo(status suno.TaskStatus) (code int, msg string) {
	switch status {
	case suno.StatusSensitiveWordError:
		return suno.CodeInvalidParams, "The prompt contains sensitive words (injected by [fake:sensitive])"
	case suno.StatusGenerateAudioFailed:
		return suno.CodeAudioFailed, "Audio generation failed (injected by [fake:audio-failed])"
	}
	return 0, ""
}

// fakeTrack is a track at some stage, before it is written in the record-info
// (camelCase) or callback (snake_case) spelling.
type fakeTrack struct {
	id, audio, stream, image string
	duration                 *float64
}

func (t *task) tracks(status suno.TaskStatus) []fakeTrack {
	if status == suno.StatusPending || status.Failed() {
		return nil
	}
	out := make([]fakeTrack, tracksPerTask)
	for i := range out {
		id := fmt.Sprintf("%s-%d", t.id, i+1)
		ft := fakeTrack{id: id}
		if status.FirstReady() {
			ft.stream = t.base + "/fake-audio/stream/" + id
			ft.image = t.base + "/fake-image/" + id + ".png"
		}
		if status.Done() {
			ft.audio = t.base + "/fake-audio/" + id + ".mp3"
			d := float64(audioSeconds)
			ft.duration = &d
		}
		out[i] = ft
	}
	return out
}

// recordInfo builds the data GET /api/v1/generate/record-info answers for
// the task at status.
func (t *task) recordInfo(status suno.TaskStatus) map[string]any {
	type sunoData struct {
		ID             string   `json:"id"`
		AudioURL       string   `json:"audioUrl"`
		StreamAudioURL string   `json:"streamAudioUrl"`
		ImageURL       string   `json:"imageUrl"`
		Prompt         string   `json:"prompt"`
		ModelName      string   `json:"modelName"`
		Title          string   `json:"title"`
		Tags           string   `json:"tags"`
		CreateTime     string   `json:"createTime"`
		Duration       *float64 `json:"duration"`
	}
	data := []sunoData{}
	for _, ft := range t.tracks(status) {
		data = append(data, sunoData{
			ID: ft.id, AudioURL: ft.audio, StreamAudioURL: ft.stream, ImageURL: ft.image,
			Prompt: t.req.Prompt, ModelName: modelName(t.req.Model), Title: t.title, Tags: t.req.Style,
			CreateTime: t.created.UTC().Format(time.DateTime), Duration: ft.duration,
		})
	}
	param, _ := json.Marshal(t.req)
	info := map[string]any{
		"taskId":        t.id,
		"parentMusicId": "",
		"param":         string(param),
		"response":      map[string]any{"taskId": t.id, "sunoData": data},
		"status":        status,
		"type":          "GENERATE",
		"errorCode":     nil,
		"errorMessage":  nil,
	}
	if code, msg := t.errorInfo(status); code != 0 {
		info["errorCode"], info["errorMessage"] = code, msg
	}
	return info
}

// callbackBody builds the body sunoapi.org posts for a stage (see
// https://docs.sunoapi.org/suno-api/generate-music-callbacks).
func (t *task) callbackBody(status suno.TaskStatus) map[string]any {
	type trackData struct {
		ID             string   `json:"id"`
		AudioURL       string   `json:"audio_url"`
		StreamAudioURL string   `json:"stream_audio_url"`
		ImageURL       string   `json:"image_url"`
		Prompt         string   `json:"prompt"`
		ModelName      string   `json:"model_name"`
		Title          string   `json:"title"`
		Tags           string   `json:"tags"`
		CreateTime     string   `json:"createTime"`
		Duration       *float64 `json:"duration"`
	}
	if code, msg := t.errorInfo(status); code != 0 {
		return map[string]any{
			"code": code,
			"msg":  msg,
			"data": map[string]any{"callbackType": suno.CallbackError, "task_id": t.id, "data": nil},
		}
	}
	var typ, msg string
	switch status {
	case suno.StatusTextSuccess:
		typ, msg = suno.CallbackText, "Text generation completed successfully."
	case suno.StatusFirstSuccess:
		typ, msg = suno.CallbackFirst, "First audio generated successfully."
	default:
		typ, msg = suno.CallbackComplete, "All generated successfully."
	}
	data := []trackData{}
	for _, ft := range t.tracks(status) {
		data = append(data, trackData{
			ID: ft.id, AudioURL: ft.audio, StreamAudioURL: ft.stream, ImageURL: ft.image,
			Prompt: t.req.Prompt, ModelName: modelName(t.req.Model), Title: t.title, Tags: t.req.Style,
			CreateTime: t.created.UTC().Format(time.DateTime), Duration: ft.duration,
		})
	}
	return map[string]any{
		"code": suno.CodeOK,
		"msg":  msg,
		"data": map[string]any{"callbackType": typ, "task_id": t.id, "data": data},
	}
}

func modelName(model string) string { return "fake-" + strings.ToLower(model) }
