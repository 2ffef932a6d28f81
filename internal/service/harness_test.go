package service_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/media"
	"github.com/songqueue/songqueue/internal/memory"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
)

// The flow tests run every role on the memory adapters, a scripted Suno and
// a test clock that only moves when a test moves it: no HTTP, no sleeping.

// Their tuning: small waits, so that a test's clock moves little.
const (
	testLease      = 30 * time.Second
	testVisibility = 10 * time.Second
	testBackoff    = time.Second
	testPoll       = time.Second
	testDeadline   = 5 * time.Minute
	// tick is how far the clock moves before each delivery, and the step
	// it moves by while waiting for a delayed message: more than the rate
	// limiter's interval at 100 a second, so a token is always free.
	tick = 50 * time.Millisecond
	// mediaHost is where the scripted Suno's tracks live.
	mediaHost = "cdn.suno.test"
	// testCallbackKey signs the callback URLs.
	testCallbackKey = "callback signing key of the tests"
)

// testClock is a clock the test moves; it is safe for concurrent use.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// workerDeath is what a worker that dies mid-job panics with (the scripted
// Suno, a store hook); the harness recovers it and leaves the message
// undeleted, as a Lambda invocation that ended would.
type workerDeath struct{}

// submitAnswer scripts one Submit: hook runs inside the call, while the
// worker waits for Suno; then the worker dies (die), or Suno refuses
// (err), or it accepts with a new task id.
type submitAnswer struct {
	hook func()
	die  bool
	err  error
}

// submission is a Submit that reached Suno.
type submission struct {
	Request     generation.Request
	CallbackURL string
	TaskID      string
}

// scriptedSuno is a service.Suno whose answers the test scripts: Submit
// takes the next scripted answer (none left: accepted), Task says what
// setTask last said of the task (running until then).
type scriptedSuno struct {
	mu        sync.Mutex
	answers   []submitAnswer
	submitted []submission
	refused   int
	tasks     map[string]generation.TaskReport
	taskCalls []string
	// taskErr, when set, is Task's answer (Suno's record-info failing).
	taskErr error
}

func newScriptedSuno() *scriptedSuno {
	return &scriptedSuno{tasks: map[string]generation.TaskReport{}}
}

// script queues answers for the next Submits.
func (s *scriptedSuno) script(a ...submitAnswer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers = append(s.answers, a...)
}

func (s *scriptedSuno) Submit(_ context.Context, req generation.Request, callbackURL string) (string, error) {
	s.mu.Lock()
	var a submitAnswer
	if len(s.answers) > 0 {
		a, s.answers = s.answers[0], s.answers[1:]
	}
	s.mu.Unlock()
	if a.hook != nil {
		a.hook()
	}
	if a.die {
		panic(workerDeath{})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.err != nil {
		s.refused++
		return "", a.err
	}
	id := fmt.Sprintf("task-%d", len(s.submitted)+1)
	s.submitted = append(s.submitted, submission{Request: req, CallbackURL: callbackURL, TaskID: id})
	s.tasks[id] = generation.TaskReport{TaskID: id, Stage: generation.TaskRunning}
	return id, nil
}

func (s *scriptedSuno) Task(_ context.Context, taskID string) (generation.TaskReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.taskCalls = append(s.taskCalls, taskID)
	if s.taskErr != nil {
		return generation.TaskReport{}, s.taskErr
	}
	r, ok := s.tasks[taskID]
	if !ok {
		return generation.TaskReport{}, generation.ErrUnknownTask
	}
	r.Tracks = append([]generation.Track(nil), r.Tracks...)
	return r, nil
}

// Credits says the account has plenty left (the Suno health breaker's
// probe).
func (s *scriptedSuno) Credits(context.Context) (int, error) { return 1000, nil }

// setTask makes Suno report stage for taskID from now on, with its tracks
// from the first track on.
func (s *scriptedSuno) setTask(taskID string, stage generation.TaskStage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := generation.TaskReport{TaskID: taskID, Stage: stage}
	switch stage {
	case generation.TaskFirstReady:
		r.Tracks = sunoTracks(taskID)[:1]
	case generation.TaskDone:
		r.Tracks = sunoTracks(taskID)
	}
	s.tasks[taskID] = r
}

// failTasks makes every Task answer err from now on (nil: answer again).
func (s *scriptedSuno) failTasks(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.taskErr = err
}

// submissions returns every Submit that reached Suno.
func (s *scriptedSuno) submissions() []submission {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]submission(nil), s.submitted...)
}

// refusals counts the Submits Suno refused.
func (s *scriptedSuno) refusals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

func (s *scriptedSuno) taskLookups() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.taskCalls)
}

// sunoTracks are the two tracks Suno makes for a task, on its media host.
func sunoTracks(taskID string) []generation.Track {
	var out []generation.Track
	for i := range 2 {
		base := fmt.Sprintf("https://%s/%s/%d", mediaHost, taskID, i)
		out = append(out, generation.Track{
			ID: fmt.Sprintf("%s-%d", taskID, i), Title: "Song", Duration: 120,
			AudioURL: base + ".mp3", StreamAudioURL: base + "/stream", ImageURL: base + ".png",
		})
	}
	return out
}

// scriptedFetcher is a service.Fetcher that fails its first failures
// fetches (every one, if failures is negative) with a transient error and
// then serves a small file per URL.
type scriptedFetcher struct {
	mu       sync.Mutex
	dir      string
	failures int
	calls    []string
	// onFetch, if set, runs first in each fetch (n counts them from 1);
	// an error it returns is the fetch's.
	onFetch func(n int, url string) error
}

func (f *scriptedFetcher) Fetch(_ context.Context, u string, kind media.Kind) (*media.File, error) {
	f.mu.Lock()
	hook, n := f.onFetch, len(f.calls)+1
	f.mu.Unlock()
	if hook != nil {
		if err := hook(n, u); err != nil {
			f.mu.Lock()
			f.calls = append(f.calls, u)
			f.mu.Unlock()
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, u)
	if f.failures != 0 {
		f.failures--
		return nil, &media.Error{URL: u, Reason: "connection reset by peer", Permanent: false}
	}
	body := []byte("bytes of " + u)
	tmp, err := os.CreateTemp(f.dir, "fetched-*")
	if err != nil {
		return nil, err
	}
	if _, err := tmp.Write(body); err != nil {
		return nil, errors.Join(err, tmp.Close())
	}
	if _, err := tmp.Seek(0, 0); err != nil {
		return nil, errors.Join(err, tmp.Close())
	}
	ct := "audio/mpeg"
	if kind == media.Image {
		ct = "image/png"
	}
	sum := sha256.Sum256(body)
	return &media.File{File: tmp, Size: int64(len(body)), ContentType: ct, SHA256: hex.EncodeToString(sum[:])}, nil
}

func (f *scriptedFetcher) fetches() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// hookedStore is the memory store with a hook on every save: a hook that
// panics with workerDeath kills the worker at that write.
type hookedStore struct {
	*memory.Store
	mu     sync.Mutex
	onSave func(next generation.Generation, from generation.Status)
}

func (s *hookedStore) Save(ctx context.Context, g generation.Generation, from generation.Status) (generation.Generation, error) {
	s.mu.Lock()
	hook := s.onSave
	s.mu.Unlock()
	if hook != nil {
		hook(g, from)
	}
	return s.Store.Save(ctx, g, from)
}

func (s *hookedStore) setOnSave(hook func(next generation.Generation, from generation.Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onSave = hook
}

// sentJob is a job some role queued.
type sentJob struct {
	Job   service.Job
	Delay time.Duration
	At    time.Time
}

// recordingQueue is the memory queues, remembering what was sent.
type recordingQueue struct {
	*memory.Queues
	clock *testClock
	mu    sync.Mutex
	sent  []sentJob
}

func (q *recordingQueue) Send(ctx context.Context, job service.Job, delay time.Duration) error {
	q.mu.Lock()
	q.sent = append(q.sent, sentJob{Job: job, Delay: delay, At: q.clock.Now()})
	q.mu.Unlock()
	return q.Queues.Send(ctx, job, delay)
}

// sentSince returns the jobs sent since the first n.
func (q *recordingQueue) sentSince(n int) []sentJob {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]sentJob(nil), q.sent[n:]...)
}

func (q *recordingQueue) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.sent)
}

type harness struct {
	t       *testing.T
	ctx     context.Context
	clock   *testClock
	store   *hookedStore
	queues  *memory.Queues
	queue   *recordingQueue
	suno    *scriptedSuno
	fetcher *scriptedFetcher
	// media is where the copies go when archiving (withArchive).
	media    *media.Dir
	mediaDir string
	cfg      service.Config
	roles    *service.Roles
	hub      *memory.Hub
	// rate is the Suno account's limit (100 a second unless an option
	// says otherwise).
	rate ratelimit.Policy
}

type harnessOption func(*harness)

// withArchive keeps copies of the songs' files: fetches fail failures
// times first (always, if negative), and a copy is tried attempts times.
func withArchive(failures, attempts int) harnessOption {
	return func(h *harness) {
		h.cfg.Archive = true
		h.cfg.ArchiveAttempts = attempts
		h.fetcher.failures = failures
	}
}

// newHarness assembles every role on fresh memory adapters, the scripted
// Suno and a test clock.
func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	clk := &testClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	store := memory.NewStore(memory.WithClock(clk.Now))
	queues := memory.NewQueues(memory.QueueConfig{Now: clk.Now, VisibilityTimeout: testVisibility})
	h := &harness{
		t: t, ctx: context.Background(), clock: clk, hub: memory.NewHub(), rate: ratelimit.Policy{Rate: 100},
		store:   &hookedStore{Store: store},
		queues:  queues,
		queue:   &recordingQueue{Queues: queues, clock: clk},
		suno:    newScriptedSuno(),
		fetcher: &scriptedFetcher{dir: t.TempDir()},
		cfg: service.Config{
			Retry:           generation.RetryPolicy{MaxAttempts: 3, BackoffBase: testBackoff, MaxBackoff: 10 * time.Second},
			ClaimLease:      testLease,
			PollInterval:    testPoll,
			MaxInlineWait:   time.Nanosecond, // never wait for a token in place: the clock would not move
			Deadline:        testDeadline,
			MediaHosts:      []string{mediaHost},
			PauseRecheck:    time.Second,
			ArchiveRetry:    time.Hour,
			ArchiveDeadline: time.Minute,
			Now:             clk.Now,
			Logger:          slog.New(slog.DiscardHandler),
		},
	}
	for _, o := range opts {
		o(h)
	}
	ports := service.Ports{
		Store: h.store, Connections: store, Controls: store, Notifier: h.hub,
		Queue: h.queue, DeadLetters: queues,
		Account: memory.NewLimiter(h.rate, clk.Now),
		Suno:    h.suno,
		Callbacks: service.CallbackSigner{
			Key:     service.StaticKey([]byte(testCallbackKey)),
			BaseURL: "https://songqueue.test",
		},
	}
	if h.cfg.Archive {
		h.mediaDir = t.TempDir()
		dir, err := media.OpenDir(h.mediaDir, "https://media.songqueue.test")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = dir.Close() })
		h.media = dir
		ports.Media, ports.Fetcher = dir, h.fetcher
	}
	roles, err := service.Assemble(ports, h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.roles = roles
	return h
}

func callerOf(tier generation.Tier) identity.Caller {
	return identity.Caller{UserID: "user-" + string(tier), Tier: tier}
}

// create makes a generation as its owner would, through the API.
func (h *harness) create(tier generation.Tier, prompt string) generation.Generation {
	h.t.Helper()
	res, err := h.roles.API.Create(h.ctx, callerOf(tier), generation.Request{Prompt: prompt}, "")
	if err != nil {
		h.t.Fatalf("create: %v", err)
	}
	return res.Generation
}

// saving creates a PRO song and takes it to where Suno is done and its
// files are being copied (90 %): the archive job is queued.
func (h *harness) saving(prompt string) generation.Generation {
	h.t.Helper()
	g := h.create(generation.Pro, prompt)
	h.mustRunNext(generation.Pro, service.JobGenerate)
	h.suno.setTask(h.get(g.ID).TaskID, generation.TaskDone)
	h.mustRunNext(generation.Pro, service.JobPoll)
	g = h.get(g.ID)
	mustBe(h.t, g, generation.Processing, generation.ProgressSaving)
	return g
}

// get reads a generation from the store.
func (h *harness) get(id string) generation.Generation {
	h.t.Helper()
	g, err := h.store.Get(h.ctx, id)
	if err != nil {
		h.t.Fatalf("get %s: %v", id, err)
	}
	return g
}

// cancel cancels g as its owner would.
func (h *harness) cancel(g generation.Generation) (generation.Generation, error) {
	return h.roles.API.Cancel(h.ctx, callerOf(g.Tier), g.ID)
}

// errDied is runNext's answer when the worker died handling the job.
var errDied = errors.New("the worker died")

// receive takes the next message of tier's queue, moving the clock a tick
// first and then on, a tick at a time, until one is visible (a delay, a
// visibility timeout). It fails the test when none comes within a day.
func (h *harness) receive(tier generation.Tier) memory.Message {
	h.t.Helper()
	for waited := time.Duration(0); waited < 24*time.Hour; waited += tick {
		h.clock.Advance(tick)
		msgs, err := h.queues.Receive(h.ctx, tier, 1, 0)
		if err != nil {
			h.t.Fatalf("receive: %v", err)
		}
		if len(msgs) == 1 {
			return msgs[0]
		}
		if h.depth(tier) == 0 {
			break
		}
	}
	h.t.Fatalf("no message for %s", tier)
	return memory.Message{}
}

// runNext receives tier's next message, runs it through the worker and
// deletes it when the worker succeeds, as the queue's event source does.
// It returns the job and the worker's answer (errDied when it died).
func (h *harness) runNext(tier generation.Tier) (service.Job, error) {
	h.t.Helper()
	m := h.receive(tier)
	var job service.Job
	if err := json.Unmarshal(m.Body, &job); err != nil {
		h.t.Fatalf("message %s: %v", m.ID, err)
	}
	if err := h.handle(m); err != nil {
		return job, err
	}
	if err := h.queues.Delete(h.ctx, tier, []string{m.ReceiptHandle}); err != nil {
		h.t.Fatalf("delete %s: %v", m.ID, err)
	}
	return job, nil
}

// mustRunNext is runNext for a job that must succeed, and be of kind.
func (h *harness) mustRunNext(tier generation.Tier, kind service.JobKind) service.Job {
	h.t.Helper()
	job, err := h.runNext(tier)
	if err != nil {
		h.t.Fatalf("%s job for %s: %v", job.Kind, job.GenerationID, err)
	}
	if job.Kind != kind {
		h.t.Fatalf("ran a %s job (%+v), want a %s job", job.Kind, job, kind)
	}
	return job
}

func (h *harness) handle(m memory.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(workerDeath); !ok {
				panic(r)
			}
			err = errDied
		}
	}()
	return h.roles.Worker.Handle(h.ctx, m)
}

// drain runs every job left in tier's queue, delayed ones included, each of
// which must succeed, and returns them; it fails after limit jobs.
func (h *harness) drain(tier generation.Tier, limit int) []service.Job {
	h.t.Helper()
	var jobs []service.Job
	for h.depth(tier) > 0 {
		if len(jobs) == limit {
			h.t.Fatalf("still jobs in the queue after %d: %+v", limit, jobs)
		}
		job, err := h.runNext(tier)
		if err != nil {
			h.t.Fatalf("%s job for %s: %v", job.Kind, job.GenerationID, err)
		}
		jobs = append(jobs, job)
	}
	return jobs
}

// depth is how many messages tier's queue holds, visible or not.
func (h *harness) depth(tier generation.Tier) int64 {
	h.t.Helper()
	d, err := h.queues.Depth(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return d[tier].Waiting + d[tier].InFlight + d[tier].Delayed
}

// callback calls the callback URL the worker gave Suno for taskID, with
// report, as Suno would.
func (h *harness) callback(taskID string, report generation.TaskReport) error {
	h.t.Helper()
	for _, s := range h.suno.submissions() {
		if s.TaskID != taskID {
			continue
		}
		u, err := url.Parse(s.CallbackURL)
		if err != nil || s.CallbackURL == "" {
			h.t.Fatalf("callback URL %q of %s: %v", s.CallbackURL, taskID, err)
		}
		q := u.Query()
		return h.roles.Callbacks.Handle(h.ctx, service.CallbackAuth{GenerationID: q.Get("g"), Signature: q.Get("sig")}, report)
	}
	h.t.Fatalf("Suno has no task %s", taskID)
	return nil
}

// doneReport is Suno's callback for a finished task.
func doneReport(taskID string) generation.TaskReport {
	return generation.TaskReport{TaskID: taskID, Stage: generation.TaskDone, Tracks: sunoTracks(taskID)}
}

// mustBe fails the test unless g is in status st at progress.
func mustBe(t *testing.T, g generation.Generation, st generation.Status, progress int) {
	t.Helper()
	if g.Status != st || g.Progress != progress {
		t.Fatalf("generation is %s at %d%% (%q, attempts %d, task %q, error %q); want %s at %d%%",
			g.Status, g.Progress, g.Message, g.Attempts, g.TaskID, g.Error, st, progress)
	}
}
