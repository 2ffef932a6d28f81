package suno

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/songqueue/songqueue/internal/generation"
)

// DefaultTimeout bounds one API call when NewClient is given no HTTP client.
// Submit and record-info answer at once (the work is asynchronous), so a
// call that takes longer is better retried.
const DefaultTimeout = 15 * time.Second

// maxBody caps how much of an answer is read; real answers are a few KB.
const maxBody = 1 << 20

// DefaultBaseURL is sunoapi.org's API.
const DefaultBaseURL = "https://api.sunoapi.org"

// Client calls the sunoapi.org v1 API. It is safe for concurrent use.
type Client struct {
	base string
	key  func(context.Context) (string, error)
	hc   *http.Client
}

// NewClient returns a client for the API at baseURL (for example
// DefaultBaseURL, or the fake's URL) authenticating with apiKey.
// A nil hc means an http.Client with DefaultTimeout.
func NewClient(baseURL, apiKey string, hc *http.Client) *Client {
	return NewClientWithKey(baseURL, func(context.Context) (string, error) { return apiKey, nil }, hc)
}

// NewClientWithKey is NewClient with the key read by key when a call
// needs it, so that a key kept in a secret store is fetched on first use
// rather than at start.
func NewClientWithKey(baseURL string, key func(context.Context) (string, error), hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), key: key, hc: hc}
}

// Submit starts a generation of req and returns Suno's task id; Suno
// reports on the task to callbackURL, if not empty. An empty Model is sent
// as generation.DefaultModel. Errors from the API are *APIError; failing
// to reach Suno at all (network, timeout) is *UnreachableError, Suno being
// unavailable; the caller's own cancellation is returned as is; others
// (an unreadable success answer) are wrapped and, being unclassified, count
// as transient.
func (c *Client) Submit(ctx context.Context, r generation.Request, callbackURL string) (string, error) {
	req := GenerateRequest{
		Prompt: r.Prompt, Style: r.Style, Title: r.Title,
		CustomMode: r.CustomMode, Instrumental: r.Instrumental, Model: r.Model,
		NegativeTags: r.NegativeTags, CallBackURL: callbackURL,
	}
	if req.Model == "" {
		req.Model = generation.DefaultModel
	}
	body, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("suno: submit: encode request: %w", err)
	}
	var data struct {
		TaskID string `json:"taskId"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/generate", bytes.NewReader(body), &data); err != nil {
		return "", fmt.Errorf("suno: submit: %w", err)
	}
	if data.TaskID == "" {
		return "", errors.New("suno: submit: answer has no data.taskId")
	}
	return data.TaskID, nil
}

// recordInfo is data of GET /api/v1/generate/record-info.
type recordInfo struct {
	TaskID   string `json:"taskId"`
	Status   string `json:"status"`
	Response *struct {
		TaskID   string      `json:"taskId"`
		SunoData []wireTrack `json:"sunoData"`
		// Data is the snake_case variant shown on some doc pages.
		Data []wireTrack `json:"data"`
	} `json:"response"`
	// ErrorCode is documented as null; its type when set is not, so it is
	// kept raw and only shown in the message.
	ErrorCode    json.RawMessage `json:"errorCode"`
	ErrorMessage *string         `json:"errorMessage"`
}

// Task reads a task's status and tracks (record-info): the service's TaskReader.
func (c *Client) Task(ctx context.Context, taskID string) (generation.TaskReport, error) {
	if taskID == "" {
		return generation.TaskReport{}, errors.New("suno: record-info: empty task id")
	}
	var data *recordInfo
	path := "/api/v1/generate/record-info?taskId=" + url.QueryEscape(taskID)
	if err := c.do(ctx, http.MethodGet, path, nil, &data); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && (ae.Code == CodeInvalidParams || ae.Code == CodeNotFound) {
			// record-info takes nothing but the task id: a refusal of it
			// means Suno does not know the task.
			return generation.TaskReport{}, fmt.Errorf("suno: record-info %s: %w (%v)", taskID, generation.ErrUnknownTask, ae)
		}
		return generation.TaskReport{}, fmt.Errorf("suno: record-info %s: %w", taskID, err)
	}
	if data == nil {
		return generation.TaskReport{}, fmt.Errorf("suno: record-info %s: answer has no data", taskID)
	}
	id := data.TaskID
	if id == "" {
		id = taskID
	}
	var tracks []generation.Track
	if data.Response != nil {
		ws := data.Response.SunoData
		if len(ws) == 0 {
			ws = data.Response.Data
		}
		tracks = tracksOf(ws)
	}
	var msg string
	if data.ErrorMessage != nil {
		msg = *data.ErrorMessage
	}
	if ec := strings.TrimSpace(string(data.ErrorCode)); msg == "" && ec != "" && ec != "null" {
		msg = "error code " + strings.Trim(ec, `"`)
	}
	return report(id, TaskStatus(data.Status), tracks, msg), nil
}

// Credits returns the credits left on the account (GET
// /api/v1/generate/credit, answering {"code":200,"msg":"success","data":n}).
// Errors are those of Submit: *APIError (an outage for 401/403, 429 credits,
// 455, 500 and HTTP 5xx), *UnreachableError, or an unclassified error for an
// unreadable answer.
func (c *Client) Credits(ctx context.Context) (int, error) {
	var data *float64
	if err := c.do(ctx, http.MethodGet, "/api/v1/generate/credit", nil, &data); err != nil {
		return 0, fmt.Errorf("suno: credit: %w", err)
	}
	if data == nil {
		return 0, errors.New("suno: credit: answer has no data")
	}
	if math.IsNaN(*data) || math.IsInf(*data, 0) || *data < math.MinInt32 || *data > math.MaxInt32 {
		return 0, fmt.Errorf("suno: credit: data %v is not a credit balance", *data)
	}
	// Documented as an integer; a fraction, should one come, is cut off.
	return int(math.Floor(*data)), nil
}

// do sends one request and decodes the envelope's data into out. It checks
// the body's code whatever the HTTP status, since sunoapi.org reports most
// errors as HTTP 200 with code != 200.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	key, err := c.key(ctx)
	if err != nil {
		return fmt.Errorf("API key: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return transportError(ctx, err) // err already names the method and URL
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return transportError(ctx, fmt.Errorf("read answer (HTTP %d): %w", resp.StatusCode, err))
	}

	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil || env.Code == nil {
		if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
			// A success status with a body that is not Suno's: unclassified,
			// so transient.
			return fmt.Errorf("HTTP %d with an unreadable answer: %s", resp.StatusCode, snippet(raw))
		}
		return &APIError{HTTPStatus: resp.StatusCode, Msg: snippet(raw)}
	}
	code := *env.Code
	if code != CodeOK || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &APIError{HTTPStatus: resp.StatusCode, Code: code, Msg: env.Msg}
	}
	if out != nil && len(env.Data) > 0 {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return fmt.Errorf("decode data: %w", err)
		}
	}
	return nil
}

// transportError is err, an error talking to Suno, as an *UnreachableError:
// whether the connection was refused, reset or closed early, a name did not
// resolve, TLS failed or a timeout or deadline passed, Suno could not be
// reached. The caller's own cancellation is returned as is: it says nothing
// about Suno.
func transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled)) {
		return err
	}
	return &UnreachableError{Err: err}
}

// snippet returns the start of a body for an error message.
func snippet(b []byte) string {
	const n = 200
	s := strings.TrimSpace(string(b))
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
