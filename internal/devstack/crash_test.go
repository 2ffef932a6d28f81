package devstack_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/auth"
	"github.com/songqueue/songqueue/internal/awstest"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/sunofake"
)

// TestKilledStackRecovers kills the local stack's process (kill -9, twice,
// with generations in every stage) and restarts it on the same emulator:
// every accepted generation reaches a terminal state, and no attempt is
// submitted to Suno twice. The fake Suno lives in the test, so it outlives
// the kills and counts every submission.
func TestKilledStackRecovers(t *testing.T) {
	endpoint := awstest.Endpoint(t)
	root, err := awstest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "devstack")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "cmd", "devstack")).CombinedOutput(); err != nil {
		t.Fatalf("build devstack: %v\n%s", err, out)
	}

	fake := sunofake.New(sunofake.Config{TextDelay: 20 * time.Millisecond, FirstDelay: 150 * time.Millisecond, CompleteDelay: 400 * time.Millisecond})
	fakeSrv := httptest.NewServer(fake)
	t.Cleanup(func() { fake.Close(); fakeSrv.Close() })

	port, err := awstest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	const secret = "crash-test-jwt-secret"
	env := append(os.Environ(),
		"BACKEND=aws", "AWS_ENDPOINT_URL="+endpoint, "RESOURCE_PREFIX="+awstest.UniqueNames(t).Prefix,
		"PORT="+strconv.Itoa(port), "JWT_SECRET="+secret, "SUNO_BASE_URL="+fakeSrv.URL,
		"GENERATION_BACKOFF_BASE=50ms", "GENERATION_POLL_INTERVAL=300ms", "GENERATION_DEADLINE=30s",
		"GENERATION_RATE_LIMIT=1000", "GENERATION_CONCURRENCY=3",
		"CLAIM_LEASE=3s", "WORKER_TIMEOUT=2500ms", "QUEUE_VISIBILITY_TIMEOUT=4s", "SWEEP_INTERVAL=500ms",
		// A kill between the saving write and the copy job's send leaves
		// the song to the sweeper after this.
		"ARCHIVE_DEADLINE=5s",
		// Each kill spends the attempts in flight, and on a loaded machine
		// a claim moto applied after its 2.5 s timeout lapses and spends
		// one more: the test is about the kills, not the attempt limit.
		"GENERATION_MAX_ATTEMPTS=6",
		"API_RATE_PER_USER=0", "API_RATE_PER_IP=0", // 48 creates and their polls from one address
		// Eight songs a user, some held up by the kills: quotas would
		// refuse the creates the test makes.
		"QUOTA_OPEN_FREE=0", "QUOTA_OPEN_PRO=0", "QUOTA_OPEN_PREMIUM=0", "QUOTA_OPEN_ENTERPRISE=0",
	)
	var stack *exec.Cmd
	var logs lockedBuffer
	start := func() {
		stack = exec.Command(bin)
		stack.Env = env
		stack.Stdout, stack.Stderr = &logs, &logs
		if err := stack.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; {
			if res, err := http.Get(base + "/healthz"); err == nil {
				res.Body.Close()
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the stack did not come up:\n%s", logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	kill := func() {
		_ = stack.Process.Signal(syscall.SIGKILL)
		_ = stack.Wait()
	}
	t.Cleanup(func() {
		if stack != nil && stack.ProcessState == nil {
			kill()
		}
		if t.Failed() {
			t.Logf("stack logs:\n%s", logs.String())
		}
	})
	start()

	tokens := auth.HS256{Secret: []byte(secret)}
	prompts := []string{"", " [fake:fail=1]", " [fake:nocallback]", " [fake:slow=1500ms]"}
	const n = 48
	type made struct{ id, prompt, token string }
	gens := make([]made, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var createErr error
	for i := range n {
		wg.Go(func() {
			tier := generation.Tiers[i%len(generation.Tiers)]
			tok, _ := tokens.Mint(fmt.Sprintf("crash-user-%d", i%6), tier, time.Hour)
			prompt := fmt.Sprintf("crash song %d%s", i, prompts[i%len(prompts)])
			// A frontend retries a create that got no answer, with the
			// same key, across the stack's death.
			key := fmt.Sprintf("crash-%d", i)
			for deadline := time.Now().Add(time.Minute); ; {
				id, err := createWithKey(base, tok, prompt, key)
				if err == nil {
					gens[i] = made{id, prompt, tok}
					return
				}
				if time.Now().After(deadline) {
					mu.Lock()
					createErr = err
					mu.Unlock()
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
		if i == n/2 {
			time.Sleep(300 * time.Millisecond)
			kill() // mid-creation, with the first half in flight
			start()
		}
	}
	wg.Wait()
	if createErr != nil {
		t.Fatal(createErr)
	}
	time.Sleep(700 * time.Millisecond)
	kill() // again, with every stage under way
	restarted := time.Now()
	start()

	deadline := time.Now().Add(2 * time.Minute)
	var last time.Time
	for _, g := range gens {
		for {
			st, err := statusOf(base, g.token, g.id)
			if err == nil && (st.Status == "completed" || st.Status == "failed" || st.Status == "cancelled") {
				last = time.Now()
				if subs := fake.SubmissionsFor(g.prompt); subs > st.Attempts {
					t.Errorf("%s (%q): %d Suno submissions for %d attempts", g.id, g.prompt, subs, st.Attempts)
				}
				if st.Status != "completed" {
					t.Errorf("%s (%q) ended %s: %s", g.id, g.prompt, st.Status, st.Error)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s (%q) still %+v %v two minutes after the restart", g.id, g.prompt, st, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("all %d generations finished %s after the last restart", n, last.Sub(restarted).Round(10*time.Millisecond))
}

type crashStatus struct {
	Status   string `json:"status"`
	Attempts int    `json:"attempts"`
	Error    string `json:"error"`
}

func createWithKey(base, token, prompt, key string) (string, error) {
	body, _ := json.Marshal(map[string]string{"prompt": prompt})
	req, _ := http.NewRequest("POST", base+"/api/generation/create", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out struct {
		GenerationID string `json:"generationId"`
	}
	if res.StatusCode != http.StatusAccepted || json.Unmarshal(raw, &out) != nil {
		return "", fmt.Errorf("create: %d %s", res.StatusCode, raw)
	}
	return out.GenerationID, nil
}

func statusOf(base, token, id string) (crashStatus, error) {
	req, _ := http.NewRequest("GET", base+"/api/generation/status/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return crashStatus{}, err
	}
	defer res.Body.Close()
	var st crashStatus
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		return st, err
	}
	return st, nil
}

// lockedBuffer collects a process's output for the test to read meanwhile.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
