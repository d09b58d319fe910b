// Package scripts_test runs the ready-made scripts in scripts/ (status,
// failover, hooks/ike-updown) against real charon daemons started by
// internal/lab, and checks what they did to the daemons with a separate
// VICI client.
package scripts_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vicish/vicish/script"
	"github.com/vicish/vicish/stdlib/sys"
	"github.com/vicish/vicish/vici"
)

// result is what one script run gave.
type result struct {
	code   int
	stdout string
	stderr string // including the exit message or the formatted error
}

// runScript runs scripts/<name> in-process the way vicish does, against the
// daemon at uri, with args as sys.argv[1:].
func runScript(t *testing.T, ctx context.Context, uri, name string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	rt := script.New(script.Options{
		URI:    uri,
		Argv:   append([]string{name}, args...),
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(string) string { return "" },
	})
	defer rt.Close()
	_, err := rt.ExecFile(ctx, name, nil)
	code := script.ExitCode(ctx, err)
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit):
		stderr.WriteString(exit.Message)
	case err != nil:
		stderr.WriteString(rt.FormatError(err))
	}
	r := result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	t.Logf("%s %s: exit %d\n--- stdout\n%s--- stderr\n%s", name, strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

// ikeSA is what the tests look at in an IKE_SA of list-sas.
type ikeSA struct {
	conn     string
	state    string
	remoteID string
	children map[string]string // CHILD_SA name → state
	nchild   int               // how many CHILD_SAs it has
}

// listSAs asks the daemon at uri for its SAs with a client of its own.
func listSAs(t *testing.T, ctx context.Context, uri string) []ikeSA {
	t.Helper()
	c, err := vici.Dial(ctx, uri)
	if err != nil {
		t.Fatalf("dial %s: %v", uri, err)
	}
	defer c.Close()
	var out []ikeSA
	_, err = c.CallStream(ctx, "list-sas", "list-sa", vici.NewMessage(), func(m *vici.Message) error {
		for _, conn := range m.Keys() {
			sa := m.Section(conn)
			ike := ikeSA{conn: conn, state: sa.Get("state"), remoteID: sa.Get("remote-id"), children: map[string]string{}}
			if cs := sa.Section("child-sas"); cs != nil {
				for _, k := range cs.Keys() {
					ch := cs.Section(k)
					ike.children[ch.Get("name")] = ch.Get("state")
					ike.nchild++
				}
			}
			out = append(out, ike)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list-sas on %s: %v", uri, err)
	}
	return out
}

// sasOf returns the IKE_SAs of connection conn.
func sasOf(sas []ikeSA, conn string) []ikeSA {
	var out []ikeSA
	for _, sa := range sas {
		if sa.conn == conn {
			out = append(out, sa)
		}
	}
	return out
}

// requireInstalled fails unless conn has exactly one ESTABLISHED IKE_SA whose
// CHILD_SA child is INSTALLED.
func requireInstalled(t *testing.T, gw string, sas []ikeSA, conn, child string) {
	t.Helper()
	got := sasOf(sas, conn)
	if len(got) != 1 || got[0].state != "ESTABLISHED" || got[0].children[child] != "INSTALLED" || got[0].nchild != 1 {
		t.Fatalf("gateway %s: want one ESTABLISHED IKE_SA %q with one CHILD_SA, %q INSTALLED, have %+v", gw, conn, child, sas)
	}
}

// call runs one command with a client of the test's own.
func call(t *testing.T, ctx context.Context, uri, command string, req *vici.Message) {
	t.Helper()
	c, err := vici.Dial(ctx, uri)
	if err != nil {
		t.Fatalf("dial %s: %v", uri, err)
	}
	defer c.Close()
	if _, err := c.Call(ctx, command, req); err != nil {
		t.Fatalf("%s on %s: %v", command, uri, err)
	}
}

func initiate(t *testing.T, ctx context.Context, uri, ike, child string) {
	t.Helper()
	call(t, ctx, uri, "initiate", vici.NewMessage().Set("ike", ike).Set("child", child).Set("timeout", "10000"))
}

func terminate(t *testing.T, ctx context.Context, uri, ike string) {
	t.Helper()
	call(t, ctx, uri, "terminate", vici.NewMessage().Set("ike", ike).Set("timeout", "10000"))
}

// buildVicish builds the vicish program into a temporary directory.
func buildVicish(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vicish")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/vicish")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ../cmd/vicish: %v\n%s", err, out)
	}
	return bin
}

// process is a vicish process whose output a test reads line by line.
type process struct {
	cmd       *exec.Cmd
	out, errs *lineReader // standard output and standard error
	w         []*io.PipeWriter
}

// startVicish starts bin with args (and env added to the environment);
// the process is killed at the end of t if still running.
func startVicish(t *testing.T, ctx context.Context, bin string, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stdoutR, stdoutW := io.Pipe()
	stderrR, stderrW := io.Pipe()
	cmd.Stdout, cmd.Stderr = stdoutW, stderrW
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return &process{cmd: cmd, out: newLineReader(stdoutR), errs: newLineReader(stderrR), w: []*io.PipeWriter{stdoutW, stderrW}}
}

// stop sends sig, waits for the process and returns its exit code (-1
// when a signal ended it).
func (p *process) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	err := p.cmd.Wait()
	for _, w := range p.w {
		w.Close()
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatal(err)
	}
	return p.cmd.ProcessState.ExitCode()
}

// lineReader hands out the lines a process writes, one at a time.
type lineReader struct {
	lines chan string
	done  chan struct{} // closed when r is exhausted
	mu    sync.Mutex
	all   []string
}

func newLineReader(r io.Reader) *lineReader {
	lr := &lineReader{lines: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		defer close(lr.done)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lr.mu.Lock()
			lr.all = append(lr.all, sc.Text())
			lr.mu.Unlock()
			lr.lines <- sc.Text()
		}
		close(lr.lines)
	}()
	return lr
}

// next returns the next line. The limit only keeps a broken run from hanging
// the test; nothing is measured with it.
func (lr *lineReader) next(t *testing.T, what string) string {
	t.Helper()
	select {
	case l, ok := <-lr.lines:
		if !ok {
			t.Fatalf("waiting for %s: the output ended (lines so far: %q)", what, lr.text())
		}
		return l
	case <-time.After(60 * time.Second):
		t.Fatalf("waiting for %s: no line after 60s (lines so far: %q)", what, lr.text())
	}
	return ""
}

// rest waits for the end of the output and returns every line it had.
func (lr *lineReader) rest() []string {
	<-lr.done
	return lr.text()
}

func (lr *lineReader) text() []string {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return append([]string(nil), lr.all...)
}

// testContext is a context ending with the test (or after 5 minutes).
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
