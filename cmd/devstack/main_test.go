package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMakeDevStopsCleanlyOnCtrlC: Ctrl-C in the terminal of `make dev`
// (SIGINT to its whole process group) stops the stack after its jobs in
// flight, with no make error line. make itself ends as GNU make always
// does on SIGINT, by the signal (the shell's 130, what Ctrl-C of any
// program gives), never with an error status of its own.
func TestMakeDevStopsCleanlyOnCtrlC(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is needed: make dev is what README's first line runs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-C", "../..", "dev")
	cmd.Env = append(cmd.Environ(), "PORT=0") // any free port
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out syncBuffer
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		once := sync.Once{}
		for sc.Scan() {
			out.Write(append(sc.Bytes(), '\n'))
			if strings.Contains(sc.Text(), "Ctrl-C stops") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-ctx.Done():
		t.Fatalf("make dev never said it was running:\n%s", out.String())
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
			t.Fatalf("make dev after Ctrl-C: %v; want exit 0 or the interrupt itself\n%s", err, out.String())
		}
	} else if err != nil {
		t.Fatal(err)
	}
	if s := out.String(); strings.Contains(s, "make: ***") || !strings.Contains(s, "shutting down") {
		t.Errorf("make dev after Ctrl-C printed:\n%s\nwant the stack's shutdown and no make error", s)
	}
}

// syncBuffer is a bytes.Buffer safe for the two writers of the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
