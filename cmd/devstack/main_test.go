package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
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
	// One pipe for both streams, read by one goroutine: out is read only
	// once it has seen the end (every process of the group gone).
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var out bytes.Buffer
	ready, done := make(chan struct{}), make(chan struct{})
	go func(ready chan struct{}) {
		defer close(done)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			out.Write(append(sc.Bytes(), '\n'))
			if ready != nil && strings.Contains(sc.Text(), "Ctrl-C stops") {
				close(ready)
				ready = nil
			}
		}
	}(ready)
	select {
	case <-ready:
	case <-ctx.Done():
		<-done // the context's end killed make
		t.Fatalf("make dev never said it was running:\n%s", out.String())
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	<-done
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
