package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// process is vicish running a script, its output read as it comes.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout strings.Builder
	lines  chan string
	stderr strings.Builder
	exited chan struct{}
	code   int
}

func startScript(t *testing.T, src string) *process {
	t.Helper()
	p := &process{t: t, cmd: vicishCmd(t, nil, "-c", src), lines: make(chan string, 100), exited: make(chan struct{})}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			p.lines <- sc.Text()
		}
		err := p.cmd.Wait()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			p.code = exitErr.ExitCode()
		}
		close(p.exited)
	}()
	return p
}

// await waits for a line of output.
func (p *process) await(line string) {
	p.t.Helper()
	for {
		select {
		case got := <-p.lines:
			if got == line {
				return
			}
		case <-p.exited:
			p.t.Fatalf("vicish exited (%d) before printing %q; stderr:\n%s", p.code, line, p.stderr.String())
		case <-time.After(time.Minute):
			p.t.Fatalf("vicish did not print %q within a minute", line)
		}
	}
}

// busy waits until the process has spent d of CPU time since the call:
// computing, not between two steps of the interpreter.
func (p *process) busy(d time.Duration) {
	p.t.Helper()
	start := p.cpu()
	for p.cpu()-start < d {
		select {
		case <-p.exited:
			p.t.Fatalf("vicish exited (%d) while it should compute; stderr:\n%s", p.code, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// cpu is the CPU time the process has used (/proc/PID/stat).
func (p *process) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		p.t.Fatal(err)
	}
	// utime and stime, in clock ticks (100 a second), are the 12th and
	// 13th fields after the command name in parentheses
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func (p *process) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// wait waits for the exit and checks the code; guard bounds the wait.
func (p *process) wait(code int, guard time.Duration) (stdout, stderr string) {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(guard):
		p.t.Fatalf("vicish still ran %v after the signal", guard)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.code != code {
		p.t.Errorf("exit code %d, want %d; stderr:\n%s", p.code, code, p.stderr.String())
	}
	return p.stdout.String(), p.stderr.String()
}

// waitAny waits for the exit and returns its code; guard bounds the wait.
func (p *process) waitAny(guard time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(guard):
		p.t.Fatalf("vicish still ran %v after the signal", guard)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.code
}

// deepStr builds a dict nested 300,000 levels deep and prints its str():
// go.starlark.net's str is quadratic in the depth, and the interpreter
// sees a cancellation only when it returns (107 s after SIGINT, issue 16).
const deepStr = `
d = {}
for i in range(300000):
    d = {"a": d}
print("ready")
print(len(str(d)))
`

// A signal wins over long work (issue 16): SIGTERM cancels the script at
// once; if the interpreter has not stopped within 2 s the process exits
// 143 anyway, and a second signal exits at once. A cleanup registered with
// sys.guard gets its own grace, and a second signal ends it too.
func TestSignalsWin(t *testing.T) {
	t.Run("SIGTERM while str() of a deep dict runs", func(t *testing.T) {
		t.Parallel()
		p := startScript(t, deepStr)
		p.await("ready")
		p.busy(500 * time.Millisecond) // inside str()
		p.signal(syscall.SIGTERM)
		_, stderr := p.wait(143, time.Minute)
		if !strings.Contains(stderr, "vicish: terminated, and the script did not stop within 2s: exiting anyway") {
			t.Errorf("stderr:\n%s", stderr)
		}
	})
	t.Run("a second signal exits at once", func(t *testing.T) {
		t.Parallel()
		p := startScript(t, deepStr)
		p.await("ready")
		p.busy(500 * time.Millisecond)
		// Sent back to back, the two signals may reach vicish in either
		// order (two threads can take them, and either may hand its
		// signal over first): whichever comes second names the exit.
		p.signal(syscall.SIGINT)
		p.signal(syscall.SIGTERM)
		code := p.waitAny(time.Minute)
		stderr := p.stderr.String()
		want := map[int]string{
			143: "vicish: terminated again while the script was stopping: exiting at once",
			130: "vicish: interrupted again while the script was stopping: exiting at once",
		}[code]
		if want == "" || !strings.Contains(stderr, want) {
			t.Errorf("exit code %d, want 143 or 130 with the second signal named; stderr:\n%s", code, stderr)
		}
	})
	const guarded = `
def step():
    print("ready")
    time.sleep(60)
def rollback():
    print("rolling back")
    time.sleep(%d)
    print("rolled back")
sys.guard(step, rollback, grace=%d)
`
	t.Run("a cleanup runs for its grace", func(t *testing.T) {
		t.Parallel()
		p := startScript(t, fmt.Sprintf(guarded, 3, 20))
		p.await("ready")
		p.signal(syscall.SIGTERM)
		p.await("rolling back")
		stdout, stderr := p.wait(143, time.Minute)
		if !strings.Contains(stdout, "rolled back") || !strings.Contains(stderr, "vicish: terminated") {
			t.Errorf("a 3 s cleanup did not finish:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
		}
	})
	t.Run("a second signal ends a cleanup", func(t *testing.T) {
		t.Parallel()
		p := startScript(t, fmt.Sprintf(guarded, 30, 30))
		p.await("ready")
		p.signal(syscall.SIGTERM)
		p.await("rolling back")
		p.signal(syscall.SIGTERM)
		stdout, stderr := p.wait(143, 20*time.Second)
		if strings.Contains(stdout, "rolled back") || !strings.Contains(stderr, "terminated again while the script was stopping") {
			t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
		}
	})
	t.Run("a cleanup past its grace", func(t *testing.T) {
		t.Parallel()
		p := startScript(t, fmt.Sprintf(guarded, 30, 1))
		p.await("ready")
		p.signal(syscall.SIGINT)
		p.await("rolling back")
		stdout, stderr := p.wait(130, 20*time.Second)
		if strings.Contains(stdout, "rolled back") || !strings.Contains(stderr, "vicish: interrupted\nvicish: the cleanup rollback did not finish: ") ||
			!strings.Contains(stderr, "the cleanup's grace ran out after 1s") {
			t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
		}
	})
}
