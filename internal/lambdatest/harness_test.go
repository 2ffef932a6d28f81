// Package lambdatest runs the functions of functions/ as the Lambda service
// runs them: each binary, built like build.mk builds it for sam build (but
// for this machine's architecture), is started under the AWS Lambda Runtime
// Interface Emulator and invoked with the events/ samples over the
// emulator's Invoke API, against moto. The tests check the answers API
// Gateway, SQS and the WebSocket authorizer would get; the benchmark
// measures binary sizes and cold starts beside a hello-world function. It
// is a package of tests only: what it tests is the built binaries, not a
// Go package, and its harness (this file) serves nothing else.
package lambdatest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RIEVersion is the emulator version built from the Go module proxy; build.mk
// builds the same (RIE_VERSION), and a test checks that they agree.
const RIEVersion = "v0.0.0-20261030222936-bef5c4ba774d"

// RIEModule is the emulator's main package.
const RIEModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// Functions maps each function directory under functions/ to its logical
// ID in template.yaml, whose build-<LogicalId> target builds it.
var Functions = map[string]string{
	"api":          "ApiFunction",
	"callback":     "CallbackFunction",
	"websocket":    "WebSocketFunction",
	"wsauthorizer": "WsAuthorizerFunction",
	"worker":       "WorkerFunction",
	"sweeper":      "SweeperFunction",
	"publisher":    "PublisherFunction",
}

// HelloPackage is the baseline function of the benchmark.
const HelloPackage = "./internal/lambdatest/hello"

// BuildFlags are build.mk's flags for a function (LAMBDA_GO_FLAGS), with
// CGO_ENABLED=0.
var BuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"}

// goTool is the go command that runs the tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// Build compiles the main packages pkgs (such as ./functions/api) of the
// module at root for linux/goarch into dir, in one go build so they
// compile in parallel and share the build cache. It returns each binary's
// path by the package's last path element.
func Build(ctx context.Context, root, dir, goarch string, pkgs ...string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	args := append([]string{"build"}, BuildFlags...)
	args = append(args, "-o", dir+string(filepath.Separator))
	args = append(args, pkgs...)
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	bins := make(map[string]string, len(pkgs))
	for _, p := range pkgs {
		name := filepath.Base(p)
		bins[name] = filepath.Join(dir, name)
		if _, err := os.Stat(bins[name]); err != nil {
			return nil, fmt.Errorf("binary of %s: %w", p, err)
		}
	}
	return bins, nil
}

// RIE returns the emulator: $LAMBDA_RIE when it names a file (make passes
// the one it built), else .tools/rie-<version>/aws-lambda-rie under root,
// which it builds with go install from the module proxy when it is missing.
func RIE(ctx context.Context, root string) (string, error) {
	if p := os.Getenv("LAMBDA_RIE"); p != "" && p != "build" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("LAMBDA_RIE=%s: %w", p, err)
		}
		return p, nil
	}
	dir := filepath.Join(root, ".tools", "rie-"+RIEVersion)
	bin := filepath.Join(dir, "aws-lambda-rie")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, goTool(), "install", RIEModule+"@"+RIEVersion)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOBIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the Runtime Interface Emulator: %v\n%s", err, out)
	}
	return bin, nil
}

// Function is one function binary running under its own emulator.
type Function struct {
	Name string
	URL  string // the emulator's Invoke endpoint

	cmd  *exec.Cmd
	done chan struct{}
	logs *syncBuffer
	mu   sync.Mutex // the emulator serves one invocation at a time, like one Lambda instance
}

// BaseEnv is the environment every function gets, as Lambda sets it: a
// region, credentials (moto accepts any), name, memory and timeout.
func BaseEnv(name string) map[string]string {
	return map[string]string{
		"PATH":                            os.Getenv("PATH"),
		"AWS_REGION":                      "us-east-1",
		"AWS_DEFAULT_REGION":              "us-east-1",
		"AWS_ACCESS_KEY_ID":               "test",
		"AWS_SECRET_ACCESS_KEY":           "test",
		"AWS_LAMBDA_FUNCTION_NAME":        name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     "30",
	}
}

// Start runs bootstrap under the emulator rie on free loopback ports, with
// exactly env (BaseEnv plus the function's own variables) as the
// function's environment, and waits until the emulator accepts requests.
// The function itself starts on the first invocation, as in Lambda: that
// invocation is the cold start.
func Start(rie, bootstrap, name string, env map[string]string) (*Function, error) {
	var lastErr error
	for range 3 { // a free port may be taken between the check and the start
		f, err := start(rie, bootstrap, name, env)
		if err == nil {
			return f, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func start(rie, bootstrap, name string, env map[string]string) (*Function, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[1]),
		bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	sort.Strings(cmd.Env)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", rie, err)
	}
	f := &Function{Name: name, URL: "http://" + addr + "/2015-03-31/functions/function/invocations", cmd: cmd, done: make(chan struct{}), logs: logs}
	go func() { _ = cmd.Wait(); close(f.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-f.done:
			return nil, fmt.Errorf("the emulator for %s exited at start:\n%s", name, logs.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return f, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.Stop()
	return nil, fmt.Errorf("the emulator for %s did not listen on %s:\n%s", name, addr, logs.String())
}

// Invoke sends payload as Lambda's Invoke API does and returns the
// emulator's status and body: 200 with the function's answer, or with
// {"errorMessage","errorType"} when the handler returned an error; 502
// when the function could not start (Runtime.ExitError).
func (f *Function) Invoke(ctx context.Context, payload []byte) (int, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("invoke %s: %w", f.Name, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, body, err
}

// Logs is what the emulator and the function printed so far.
func (f *Function) Logs() string { return f.logs.String() }

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// InitDuration is the init phase of the last cold start as the emulator
// reports it: from the start of the function's process until it asked for
// its first event (Lambda's "Init Duration").
func (f *Function) InitDuration() (time.Duration, bool) {
	// The emulator writes the report after it answers the invocation; on
	// a loaded machine the line reaches the buffer a little later.
	var m [][]string
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m = initReport.FindAllStringSubmatch(f.logs.String(), -1); len(m) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(m) == 0 {
		return 0, false
	}
	ms, err := strconv.ParseFloat(m[len(m)-1][1], 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(ms * float64(time.Millisecond)), true
}

// Stop ends the emulator and the function it runs (one process group).
func (f *Function) Stop() {
	if f == nil || f.cmd.Process == nil {
		return
	}
	pid := f.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-f.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-f.done
	}
}

// freePorts returns n free loopback ports, none of them handed out
// before in this test process. Functions start concurrently, and the
// kernel may hand a port that one emulator is about to listen on to
// another check: the second emulator then fails to listen, while the
// first answers on its address, so the check that it listens passes and
// its invocations reach another function (seen: hello answering with the
// sweeper's report).
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	handedOut.mu.Lock()
	defer handedOut.mu.Unlock()
	var ports []int
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l) // held until all n are found: no repeats
		p := l.Addr().(*net.TCPAddr).Port
		if handedOut.ports[p] {
			continue
		}
		handedOut.ports[p] = true
		ports = append(ports, p)
	}
	return ports, nil
}

// handedOut are the ports freePorts has returned in this test process.
var handedOut = struct {
	mu    sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// syncBuffer is a bytes.Buffer safe for the two writers of a process.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
