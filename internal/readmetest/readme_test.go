// Package readmetest runs README.md's shell examples, in order, against a
// fresh local stack, so that README cannot drift from what the stack does.
package readmetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A block is one ```sh block of README.md and what its markers say.
//
// Markers are HTML comments (invisible on a rendered page) on the lines
// right above a block:
//
//	<!-- readme-test: skip: why the test leaves it out -->
//	<!-- readme-test: expect TEXT -->   (the block's output holds TEXT)
//
// Every ```sh block without a skip marker runs, so a new example is
// tested unless someone writes down why it cannot be.
type block struct {
	line   int // of the opening fence
	text   string
	skip   string
	expect []string
}

var markerRE = regexp.MustCompile(`^<!-- readme-test: (skip: (.+?)|expect (.+?)) -->$`)

// parseReadme returns the ```sh blocks of md in order.
func parseReadme(md string) ([]block, error) {
	var out []block
	var pending *block
	var cur *block
	var body strings.Builder
	for i, line := range strings.Split(md, "\n") {
		n := i + 1
		if cur != nil {
			if strings.TrimSpace(line) == "```" {
				cur.text = body.String()
				out = append(out, *cur)
				cur = nil
				body.Reset()
				continue
			}
			body.WriteString(line)
			body.WriteByte('\n')
			continue
		}
		if m := markerRE.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			if pending == nil {
				pending = &block{}
			}
			if m[2] != "" {
				pending.skip = m[2]
			} else {
				pending.expect = append(pending.expect, m[3])
			}
			continue
		}
		if strings.Contains(line, "readme-test:") {
			return nil, fmt.Errorf("README.md:%d: a readme-test marker this test does not read: %q", n, line)
		}
		if strings.HasPrefix(line, "```") {
			if strings.TrimSpace(line) == "```sh" {
				cur = &block{line: n}
				if pending != nil {
					cur.skip, cur.expect = pending.skip, pending.expect
				}
			} else if pending != nil {
				return nil, fmt.Errorf("README.md:%d: readme-test markers above a block that is not ```sh", n)
			} else {
				// Another language's block (jsx, yaml, json, a plain
				// fence): skip to its end.
				cur = &block{line: -n}
			}
			pending = nil
			continue
		}
		if pending != nil && strings.TrimSpace(line) != "" {
			return nil, fmt.Errorf("README.md:%d: readme-test markers must be right above their block", n)
		}
	}
	if cur != nil {
		return nil, errors.New("README.md ends inside a code block")
	}
	sh := out[:0]
	for _, b := range out {
		if b.line > 0 {
			sh = append(sh, b)
		}
	}
	return sh, nil
}

// makeDevRE is a line that starts the stack: make dev, with variables.
var makeDevRE = regexp.MustCompile(`^((?:[A-Z][A-Z0-9_]*=\S*\s+)*)make dev(\s+#.*)?$`)

// TestReadmeShellBlocks runs every ```sh block of README.md that is not
// marked skip, in order, as someone pasting them into a terminal beside a
// fresh `make dev` would:
//   - A line `make dev` (with variables before it, as VAR=x make dev) is
//     not run by bash: it (re)starts the stack, the binary `make dev`
//     builds (cmd/devstack) with those variables, on the memory backend.
//     The stack listens on a free port rather than 3001 (README's
//     localhost:3001 and 127.0.0.1:3001 are rewritten to it), and keeps
//     its songs' copies in a directory of the test's.
//   - The other lines of a block run in one bash with errexit and
//     pipefail; every curl fails on an HTTP error (--fail-with-body), so
//     a block succeeds only if every request in it did. Variables carry
//     from one block to the next, as in one terminal. The blocks run in
//     an empty directory holding src/, as a Vite app's (the React
//     example copies the client module there).
//   - Each block must exit 0 within blockTimeout, and its output must
//     hold every `expect` of its markers.
func TestReadmeShellBlocks(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed: README's examples use it (.ci/run installs jq)", tool)
			}
			t.Skipf("%s is not installed: README's examples use it", tool)
		}
	}
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseReadme(string(md))
	if err != nil {
		t.Fatal(err)
	}
	run := 0
	for _, b := range blocks {
		if b.skip != "" {
			t.Logf("README.md:%d skipped: %s", b.line, b.skip)
		} else {
			run++
		}
	}
	if run < 5 {
		t.Fatalf("only %d of README's %d sh blocks would run: the markers or the parser are wrong", run, len(blocks))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "devstack")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/devstack")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/devstack: %v\n%s", err, out)
	}
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(filepath.Join(work, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	st := &stack{t: t, bin: bin, dir: dir, port: freePort(t)}
	defer st.stop()
	state := filepath.Join(dir, "shell-state")
	if err := os.WriteFile(state, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, b := range blocks {
		if b.skip != "" {
			continue
		}
		var script strings.Builder
		for _, line := range strings.Split(b.text, "\n") {
			if m := makeDevRE.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
				st.start(ctx, strings.Fields(m[1]))
				continue
			}
			script.WriteString(line)
			script.WriteByte('\n')
		}
		if strings.TrimSpace(script.String()) == "" {
			continue
		}
		if st.cmd == nil {
			t.Fatalf("README.md:%d runs before any block started make dev", b.line)
		}
		started := time.Now()
		out, err := st.bash(ctx, work, state, st.rewrite(script.String()))
		t.Logf("README.md:%d ran in %s", b.line, time.Since(started).Round(100*time.Millisecond))
		if err != nil {
			t.Fatalf("README.md:%d failed: %v\n--- block\n%s--- output\n%s\n--- stack log (tail)\n%s", b.line, err, b.text, out, st.logTail())
		}
		for _, want := range b.expect {
			if !strings.Contains(out, want) {
				t.Fatalf("README.md:%d: the output does not hold %s\n--- block\n%s--- output\n%s", b.line, want, b.text, out)
			}
		}
	}
}

// blockTimeout bounds one block; the slowest waits on a song for about 20 s.
const blockTimeout = 90 * time.Second

// stack is the local stack as make dev runs it.
type stack struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	log  *os.File
	done chan error
	runs int
}

// env is what the stack and the blocks see of the environment: nothing
// of the test's own (make test exports AWS_ENDPOINT_URL for moto, which
// would put the stack on the AWS backend), as on a fresh terminal.
func (s *stack) env(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.dir, "TMPDIR=" + s.dir, "LANG=C.UTF-8"}
	return append(env, extra...)
}

func (s *stack) start(ctx context.Context, vars []string) {
	s.t.Helper()
	s.stop()
	s.runs++
	log, err := os.Create(filepath.Join(s.dir, fmt.Sprintf("devstack-%d.log", s.runs)))
	if err != nil {
		s.t.Fatal(err)
	}
	s.log = log
	cmd := exec.CommandContext(ctx, s.bin)
	cmd.Env = s.env(append([]string{"PORT=" + strconv.Itoa(s.port), "MEDIA_DIR=" + filepath.Join(s.dir, "media")}, vars...)...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd, s.done = cmd, make(chan error, 1)
	go func() { s.done <- cmd.Wait() }()
	with := "its defaults"
	if len(vars) > 0 {
		with = strings.Join(vars, " ")
	}
	s.t.Logf("make dev started (%s) on port %d", with, s.port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", s.port))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-s.done:
			s.cmd = nil
			s.t.Fatalf("make dev exited at start: %v\n%s", err, s.logTail())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("make dev did not answer /healthz in 30 s\n%s", s.logTail())
		}
	}
}

// stop ends the stack as Ctrl-C does, and waits for it.
func (s *stack) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Errorf("make dev did not stop cleanly on Ctrl-C: %v\n%s", err, s.logTail())
		}
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		s.t.Errorf("make dev did not stop within 30 s of Ctrl-C\n%s", s.logTail())
	}
	s.cmd = nil
	s.log.Close()
}

func (s *stack) logTail() string {
	if s.log == nil {
		return ""
	}
	b, _ := os.ReadFile(s.log.Name())
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// rewrite points README's address of make dev at the test's stack.
func (s *stack) rewrite(script string) string {
	p := ":" + strconv.Itoa(s.port)
	return strings.NewReplacer("localhost:3001", "localhost"+p, "127.0.0.1:3001", "127.0.0.1"+p).Replace(script)
}

// bash runs script as the next block pasted into one terminal: the
// variables of the blocks before it are read from state, and its own
// written back.
func (s *stack) bash(ctx context.Context, work, state, script string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, blockTimeout)
	defer cancel()
	full := `set -eo pipefail
set -a
. "$README_STATE"
curl() { command curl --fail-with-body "$@"; }
` + script + `
export -p > "$README_STATE"
`
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-c", full)
	cmd.Dir = work
	cmd.Env = s.env("README_STATE=" + state)
	// Its own process group, so that a timeout ends its curl and sleep too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("still running after %s: %w", blockTimeout, err)
	}
	return out.String(), err
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestParseReadme: the markers and fences are read as documented.
func TestParseReadme(t *testing.T) {
	md := "text\n<!-- readme-test: skip: needs AWS -->\n```sh\naws s3 ls\n```\n\n```jsx\nx\n```\n" +
		"<!-- readme-test: expect \"a\":1 -->\n<!-- readme-test: expect b -->\n```sh\necho '{\"a\":1}' b\n```\n```sh\nmake dev   # here\n```\n"
	blocks, err := parseReadme(md)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 3 || blocks[0].skip != "needs AWS" || blocks[1].skip != "" ||
		len(blocks[1].expect) != 2 || blocks[1].expect[0] != `"a":1` || blocks[2].text != "make dev   # here\n" {
		t.Fatalf("blocks: %+v", blocks)
	}
	for _, bad := range []string{
		"<!-- readme-test: skip: x -->\n```jsx\nx\n```\n",
		"<!-- readme-test: skip: x -->\ntext\n```sh\nx\n```\n",
		"<!-- readme-test: skipp x -->\n```sh\nx\n```\n",
		"```sh\nx\n",
	} {
		if _, err := parseReadme(bad); err == nil {
			t.Errorf("parseReadme(%q) gave no error", bad)
		}
	}
	for line, want := range map[string]string{
		"make dev": "", "make dev    # in one terminal": "",
		"QUEUE_VISIBILITY_TIMEOUT=8s CLAIM_LEASE=6s make dev": "QUEUE_VISIBILITY_TIMEOUT=8s CLAIM_LEASE=6s ",
	} {
		if m := makeDevRE.FindStringSubmatch(line); m == nil || m[1] != want {
			t.Errorf("makeDevRE on %q: %q", line, m)
		}
	}
	for _, line := range []string{"make devx", "EVENTS make dev", "echo make dev"} {
		if makeDevRE.MatchString(line) {
			t.Errorf("makeDevRE matches %q", line)
		}
	}
}
