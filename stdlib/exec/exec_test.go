package exec_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/stdlib/exec"
)

// run executes src with exec (allowed or not) and assert predeclared, on a
// thread carrying ctx.
func run(t *testing.T, ctx context.Context, allowed bool, src string) error {
	t.Helper()
	assert, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	thread := &starlark.Thread{Name: "test"}
	starlarktest.SetReporter(thread, t)
	defer starctx.Attach(thread, ctx)()
	predeclared := starlark.StringDict{
		"exec":   exec.NewModule(gate(allowed)),
		"assert": assert["assert"],
		"tmp":    starlark.String(t.TempDir()),
	}
	_, err = starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "test.star", src, predeclared)
	return err
}

func TestDisabled(t *testing.T) {
	err := run(t, context.Background(), false, `exec.run(["true"])`)
	if !errors.Is(err, capability.ErrDenied) {
		t.Fatalf("got %v, want capability.ErrDenied", err)
	}
	if want := "exec.run runs local programs, which needs the exec capability"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

func TestRun(t *testing.T) {
	t.Setenv("VICISH_INHERITED", "yes")
	src := `
assert.eq(dir(exec), ["run", "start"])
r = exec.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
assert.eq(r.code, 3)
assert.eq(r.stdout, "out\n")
assert.eq(r.stderr, "err\n")
assert.eq(str(r), 'exec.result(code = 3, stderr = "err\\n", stdout = "out\\n")')

assert.eq(exec.run(("true",)).code, 0)
assert.eq(exec.run(["cat"], stdin="hello\n").stdout, "hello\n")
assert.eq(exec.run(["cat"], stdin=b"\x00\x01").stdout, "\x00\x01")
assert.eq(exec.run(["cat"], stdin=None).stdout, "")
assert.eq(exec.run(["printf", "%s|%s", "a b", "c"]).stdout, "a b|c")

r2 = exec.run(["sh", "-c", "echo $VICISH_SET $VICISH_INHERITED"], env={"VICISH_SET": "set"})
assert.eq(r2.stdout, "set yes\n")
r3 = exec.run(["sh", "-c", "echo $VICISH_INHERITED"], env={"VICISH_INHERITED": "replaced"})
assert.eq(r3.stdout, "replaced\n")

assert.eq(exec.run(["sh", "-c", "kill -TERM $$"]).code, 128 + 15)
assert.eq(exec.run(["sh", "-c", "exit 0"], timeout=60).code, 0)
assert.eq(exec.run(["true"], timeout="1m").code, 0)

assert.fails(lambda: exec.run("ip xfrm state"), r'exec.run: argv: got string, want a list of strings such as \["ip", "xfrm", "state"\]')
assert.fails(lambda: exec.run([]), "exec.run: argv: empty list")
assert.fails(lambda: exec.run(["echo", 1]), "exec.run: argv: element 1 is int, want string")
assert.fails(lambda: exec.run(["vicish-no-such-program"]), 'exec.run: exec: "vicish-no-such-program": executable file not found')
assert.fails(lambda: exec.run(["cat"], stdin=1), "exec.run: stdin: got int, want string or bytes")
assert.fails(lambda: exec.run(["true"], env={"A": 1}), "exec.run: env: got string: int entry, want string: string")
assert.fails(lambda: exec.run(["true"], timeout=-1), "exec.run: .*duration -1 seconds is negative")
assert.fails(lambda: exec.run(["yes"]), "exec.run: yes: stdout exceeded 16 MiB; the program was stopped")
`
	if err := run(t, context.Background(), true, src); err != nil {
		t.Fatal(err)
	}
}

// TestTimeout checks that a timeout kills the program and everything it
// started, and that run reports it.
func TestTimeout(t *testing.T) {
	for _, tc := range []struct{ name, script string }{
		{"program still running", "sleep 3600 & echo $! > PIDFILE; wait"},
		// the program exits at once, its background child keeps the output
		// open past the timeout
		{"program exited", "sleep 3600 & echo $! > PIDFILE"},
	} {
		t.Run(tc.name, func(t *testing.T) { timeoutKillsChild(t, tc.script) })
	}
}

// timeoutKillsChild runs script with a timeout of 1 s (time enough for sh
// to start the child and write its pid on a loaded machine) and checks that
// run reports the timeout and that the background child whose pid script
// writes to PIDFILE is gone.
func timeoutKillsChild(t *testing.T, script string) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "pid")
	src := `exec.run(["sh", "-c", "` + strings.ReplaceAll(script, "PIDFILE", pidfile) + `"], timeout=1)`
	err := run(t, context.Background(), true, src)
	if err == nil || !strings.Contains(err.Error(), "exec.run: sh: timed out after 1s; the program was killed") {
		t.Fatalf("got %v, want a timeout error", err)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The background sleep got SIGKILL with its group; wait for it to be
	// gone (or a zombie awaiting its new parent).
	for deadline := time.Now().Add(10 * time.Second); ; {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background child %d still running after the timeout: %s", pid, stat)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCancelled(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cancel func(context.CancelCauseFunc, string)
	}{
		// once the program runs: cancelled before exec.run is called,
		// the interpreter itself would stop the script
		{"during", func(cancel context.CancelCauseFunc, ready string) {
			go func() {
				for {
					if _, err := os.Stat(ready); err == nil {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				cancel(errors.New("SIGTERM"))
			}()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			ready := filepath.Join(t.TempDir(), "ready")
			tc.cancel(cancel, ready)
			err := run(t, ctx, true, `exec.run(["sh", "-c", "touch `+ready+`; exec sleep 3600"])`)
			if !errors.Is(err, starctx.ErrInterrupted) {
				t.Fatalf("got %v, want an error wrapping ErrInterrupted", err)
			}
			if !strings.Contains(err.Error(), "exec.run: sh: interrupted: SIGTERM") {
				t.Errorf("error %q does not say what was interrupted and why", err)
			}
		})
	}
}

// gate grants capability.Exec when allowed.
func gate(allowed bool) *capability.Gate {
	if allowed {
		return capability.NewGate(nil, capability.Exec)
	}
	return capability.NewGate(nil)
}

// exec.start runs programs in the background: the script goes on, polls
// or waits for the result (a non-zero code, a timeout, a kill are results,
// not errors), and several run at once.
func TestStart(t *testing.T) {
	src := `
p = exec.start(["sh", "-c", "read line; echo got $line; echo err >&2; exit 4"], stdin="x\n")
assert.eq(type(p), "exec.process")
assert.true(p.pid > 0)
r = p.wait(timeout=60)
assert.eq((r.code, r.stdout, r.stderr), (4, "got x\n", "err\n"))
assert.eq(p.poll(), r)                        # ended: poll gives the same result

# two at once: the slow one still runs while the quick one has ended
slow = exec.start(["sh", "-c", "read line; echo $X"], env={"X": "late"}, stdin="")
quick = exec.start(["true"])
assert.eq(quick.wait(timeout=60).code, 0)
assert.eq(slow.wait(timeout=60).stdout, "late\n")

# a program that does not end in time is killed with what it started
hung = exec.start(["sh", "-c", "sleep 60 & echo $! > " + tmp + "/child; wait"], timeout=0.5)
assert.eq(hung.wait(timeout=60).code, 128 + 9)
gone = exec.run(["sh", "-c", "pid=$(cat " + tmp + "/child); for i in $(seq 100); do kill -0 $pid 2>/dev/null || exit 0; sleep 0.1; done; exit 1"])
assert.eq(gone.code, 0)  # the background child of a program killed by its timeout is gone too
busy = exec.start(["sleep", "60"])
assert.eq(busy.poll(), None)
assert.eq(busy.wait(timeout=0.05), None)
busy.kill()
assert.eq(busy.wait(timeout=60).code, 128 + 9)

assert.fails(lambda: exec.start([]), "exec.start: argv: empty list")
assert.fails(lambda: exec.start(["vicish-no-such-program"]), 'exec.start: exec: "vicish-no-such-program": executable file not found')
assert.fails(lambda: exec.start(["cat"], stdin=1), "exec.start: stdin: got int, want string or bytes")
`
	if err := run(t, context.Background(), true, src); err != nil {
		t.Fatal(err)
	}
}
