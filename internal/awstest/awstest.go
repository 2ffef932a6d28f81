// Package awstest gives tests an AWS emulator: the endpoint in
// AWS_ENDPOINT_URL when it is set (make test starts one moto server and
// exports it, so every package shares it), otherwise one moto server per
// test binary started from the project's .venv on a free loopback port and
// stopped when the binary ends. Without moto the tests skip, saying how to
// install it; in CI (CI=true) they fail instead.
package awstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/sqsqueue"
)

// InstallHint tells a developer how to get the emulator.
const InstallHint = "install it with `scripts/moto.sh install` (a .venv with moto[server]), or point AWS_ENDPOINT_URL at a running emulator"

// The moto server of this test binary, started on first use.
var (
	sharedOnce sync.Once
	sharedSrv  *server
	sharedErr  error
)

func shared() (*server, error) {
	sharedOnce.Do(func() { sharedSrv, sharedErr = startServer() })
	return sharedSrv, sharedErr
}

// Main runs a package's tests and then stops the emulator they started, if
// any. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Endpoint returns the emulator's endpoint, starting moto once per test
// binary when AWS_ENDPOINT_URL is not set. It skips the test when no
// emulator can be had, or fails it when CI=true.
//
// Before the first test uses it, the emulator passes SelfTest: a test run
// on an emulator that breaks DynamoDB's conditional writes would fail in
// ways that look like the service's bugs, so it fails at once, saying why.
func Endpoint(t testing.TB) string {
	t.Helper()
	endpoint := os.Getenv(awsinfra.EndpointEnv)
	if endpoint == "" {
		srv, err := shared()
		if err != nil {
			unavailable(t, err)
		}
		endpoint = srv.url
	}
	if err := SelfTest(endpoint); err != nil {
		t.Fatal(err)
	}
	return endpoint
}

// NewEmulator starts a moto server of the test's own, stopped when the
// test ends: a second emulator beside the shared one, for a test in which
// two AWS services live at two endpoints.
func NewEmulator(t testing.TB) string {
	t.Helper()
	srv, err := startServer()
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(srv.stop)
	if err := SelfTest(srv.url); err != nil {
		t.Fatal(err)
	}
	return srv.url
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("AWS emulator required in CI: %v", err)
	}
	t.Skipf("no AWS emulator: %v; %s", err, InstallHint)
}

// Config returns an AWS configuration for the emulator.
func Config(t testing.TB) aws.Config {
	t.Helper()
	cfg, err := awsinfra.EmulatorConfig(context.Background(), Endpoint(t))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// UniqueNames returns table and queue names no other test uses.
func UniqueNames(t testing.TB) awsinfra.Names {
	return awsinfra.DefaultNames("t" + randomSuffix())
}

func randomSuffix() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Setup creates a fresh set of tables and queues with s for one test on
// clients built from cfg, and deletes them when the test ends.
func Setup(t testing.TB, cfg aws.Config, s sqsqueue.Settings) (awsinfra.Clients, awsinfra.Resources) {
	t.Helper()
	c := awsinfra.NewClients(cfg)
	res := setup(t, c, func(ctx context.Context, n awsinfra.Names) (awsinfra.Resources, error) {
		return awsinfra.Ensure(ctx, c, n, s)
	})
	return c, res
}

// SetupTables is Setup for the tables alone.
func SetupTables(t testing.TB, cfg aws.Config) (awsinfra.Clients, awsinfra.Names) {
	t.Helper()
	c := awsinfra.NewClients(cfg)
	res := setup(t, awsinfra.Clients{DynamoDB: c.DynamoDB}, func(ctx context.Context, n awsinfra.Names) (awsinfra.Resources, error) {
		return awsinfra.Resources{Names: n}, awsinfra.EnsureTables(ctx, c.DynamoDB, n)
	})
	return c, res.Names
}

// SetupQueues is Setup for the queues alone.
func SetupQueues(t testing.TB, cfg aws.Config, s sqsqueue.Settings) (awsinfra.Clients, awsinfra.Resources) {
	t.Helper()
	c := awsinfra.NewClients(cfg)
	res := setup(t, awsinfra.Clients{SQS: c.SQS}, func(ctx context.Context, n awsinfra.Names) (awsinfra.Resources, error) {
		q, err := awsinfra.EnsureQueues(ctx, c.SQS, n, s)
		return awsinfra.Resources{Names: awsinfra.Names{Prefix: n.Prefix}, Queues: q}, err
	})
	return c, res
}

func setup(t testing.TB, c awsinfra.Clients, ensure func(context.Context, awsinfra.Names) (awsinfra.Resources, error)) awsinfra.Resources {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := ensure(ctx, UniqueNames(t))
	if err != nil {
		t.Fatalf("create test resources: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := awsinfra.Teardown(ctx, c, res); err != nil {
			t.Logf("teardown: %v", err)
		}
	})
	return res
}

// RepoRoot is the directory of the module's go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// FreePort is a loopback port free at the moment of asking.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// server is a moto server this process started.
type server struct {
	url  string
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

func startServer() (*server, error) { return startMoto(true) }

// startMoto starts the project's moto (serialised DynamoDB), or with
// serialised false the stock moto_server, which the self-test must refuse.
func startMoto(serialised bool) (*server, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	python := filepath.Join(root, ".venv", "bin", "python")
	if _, err := os.Stat(filepath.Join(root, ".venv", "bin", "moto_server")); err != nil {
		return nil, fmt.Errorf("moto is not installed in %s", filepath.Join(root, ".venv"))
	}
	args := []string{filepath.Join(root, "scripts", "moto_server.py")}
	if !serialised {
		python, args = filepath.Join(root, ".venv", "bin", "moto_server"), nil
	}
	var lastErr error
	for range 3 { // the free port can be taken between the check and the start
		port, err := FreePort()
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		srv, err := launch(python, args, port)
		if err != nil {
			lastErr = err
			continue
		}
		if lastErr = srv.waitReady(30 * time.Second); lastErr == nil {
			return srv, nil
		}
		srv.stop()
	}
	return nil, lastErr
}

// launch starts moto through scripts/moto_server.py, which serialises
// DynamoDB requests (see there why).
func launch(python string, args []string, port int) (*server, error) {
	f, err := os.CreateTemp("", "moto-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(python, append(args, "-H", "127.0.0.1", "-p", strconv.Itoa(port))...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("start moto: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	return &server{url: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, done: done, log: f}, nil
}

func (s *server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("moto_server exited at start: %s", s.tail())
		default:
		}
		if res, err := client.Get(s.url + "/moto-api/"); err == nil {
			res.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("moto_server did not answer on %s within %s: %s", s.url, timeout, s.tail())
}

func (s *server) tail() string {
	b, _ := os.ReadFile(s.log.Name())
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
	os.Remove(s.log.Name())
}

// Stop ends the shared moto server, if this process started one. Call it
// once the tests are done.
func Stop() {
	if sharedSrv != nil {
		sharedSrv.stop()
	}
}
