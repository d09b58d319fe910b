package sys_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/stdlib/sys"
)

var env = map[string]string{"VICI_URI": "unix:///tmp/charon.vici", "EMPTY": ""}

// run executes src with sys, exit, assert and a builtin call(f) that calls f
// the way a host callback does (vici.listen calling an event handler).
func run(t *testing.T, src string) error {
	t.Helper()
	assert, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	thread := &starlark.Thread{Name: "test"}
	starlarktest.SetReporter(thread, t)
	call := starlark.NewBuiltin("call", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var fn starlark.Callable
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &fn); err != nil {
			return nil, err
		}
		if _, err := starlark.Call(thread, fn, nil, nil); err != nil {
			return nil, fmt.Errorf("%s: callback failed: %w", b.Name(), err)
		}
		return starlark.None, nil
	})
	predeclared := starlark.StringDict{
		"sys":    sys.NewModule([]string{"failover.star", "primary", "backup"}, func(k string) string { return env[k] }),
		"exit":   starlark.NewBuiltin("exit", sys.Exit),
		"call":   call,
		"assert": assert["assert"],
	}
	// The file options vicish runs scripts with.
	opts := &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}
	_, err = starlark.ExecFileOptions(opts, thread, "test.star", src, predeclared)
	return err
}

func TestModule(t *testing.T) {
	src := `
assert.eq(sorted(dir(sys)), ["argv", "env", "exit", "guard"])
assert.eq(sys.argv, ["failover.star", "primary", "backup"])
assert.fails(lambda: sys.argv.append("x"), "frozen list")
assert.eq(sys.env("VICI_URI"), "unix:///tmp/charon.vici")
assert.eq(sys.env("MISSING"), None)
assert.eq(sys.env("MISSING", "fallback"), "fallback")
assert.eq(sys.env("EMPTY", default="fallback"), "fallback")
assert.fails(lambda: sys.env(), "sys.env: missing argument for name")
assert.fails(lambda: sys.exit(256), "sys.exit: exit code 256 out of range 0-255")
assert.fails(lambda: exit(-1), "exit: exit code -1 out of range 0-255")
assert.fails(lambda: sys.exit([]), "sys.exit: got list, want an exit code")
assert.fails(lambda: sys.exit(""), "sys.exit: empty message")
`
	if err := run(t, src); err != nil {
		t.Fatal(err)
	}
}

// TestExit checks that the runner can find the exit code with errors.As
// wherever the script calls exit: top level, nested functions, callbacks.
func TestExit(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      sys.ExitError
	}{
		{"default", `sys.exit()`, sys.ExitError{Code: 0}},
		{"none", `sys.exit(None)`, sys.ExitError{Code: 0}},
		{"code", `sys.exit(3)`, sys.ExitError{Code: 3}},
		{"keyword", `sys.exit(code=4)`, sys.ExitError{Code: 4}},
		{"message", `sys.exit("backup CHILD_SA did not come up")`, sys.ExitError{Code: 1, Message: "backup CHILD_SA did not come up"}},
		{"predeclared", `exit(2)`, sys.ExitError{Code: 2}},
		{"nested", "def f():\n  g()\ndef g():\n  exit(5)\nf()", sys.ExitError{Code: 5}},
		{"callback", "def on_event():\n  sys.exit(6)\ncall(on_event)", sys.ExitError{Code: 6}},
		{"after output", "x = [1]\nif x:\n  sys.exit(7)\nfail('not reached')", sys.ExitError{Code: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(t, tc.src)
			var ee *sys.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("errors.As(%v, *ExitError) = false", err)
			}
			if *ee != tc.want {
				t.Errorf("got %+v, want %+v", *ee, tc.want)
			}
		})
	}
}

func TestExitErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		err  sys.ExitError
		want string
	}{
		{sys.ExitError{Code: 3}, "exit(3)"},
		{sys.ExitError{Code: 1, Message: "no backup"}, "no backup"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%+v.Error() = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// sys.guard runs cleanup when fn fails or the host stops the script, even
// though the script was stopped: on a context the host's cancellation
// does not end, bounded by grace, known to the host's Cleanups.
func TestGuard(t *testing.T) {
	assert, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, src, err string }{
		{"returns", `
assert.eq(sys.guard(lambda: 42, undo), 42)
assert.eq(log, [])`, ""},
		{"fails", `
def boom():
    log.append("boom")
    fail("step broke")
def check():
    assert.fails(lambda: sys.guard(boom, undo), "step broke")
    assert.eq(log, ["boom", "undo"])
check()`, ""},
		{"exit is no failure", `
def check():
    sys.guard(lambda: exit(3), undo)
check()`, "exit(3)"},
		{"the cleanup fails too", `
def broken():
    fail("cleanup broke")
assert.fails(lambda: sys.guard(lambda: fail("step broke"), broken), "step broke\nsys.guard: the cleanup broken failed too: .*cleanup broke")`, ""},
		{"bad grace", `assert.fails(lambda: sys.guard(print, print, grace=0), "sys.guard: grace must be more than 0 seconds")`, ""},
		{"a cleanup that cannot be called", `
def step():
    log.append("step")
def undo_gw(gw):
    pass
assert.fails(lambda: sys.guard(step, undo_gw), "sys.guard: the cleanup undo_gw\\(gw\\) takes 1 argument, but it is called as cleanup\\(\\), with reason= if it has a parameter named reason")
assert.fails(lambda: sys.guard(step, lambda reason, *, why: 1), "sys.guard: the cleanup lambda has the keyword-only parameter why")
assert.eq(log, [])                              # refused before the step ran
def fine(reason, more = 1, *args, **kwargs):
    pass
sys.guard(step, fine)
assert.eq(log, ["step"])`, ""},
		{"stopped", `
def step():
    log.append("step")
    stop()              # the host cancels, as on SIGTERM
    for i in range(100000000):
        pass
def rollback():
    assert.true(host_done(), "the host's context has ended")
    assert.eq(cleanup_until(), True)   # the host knows a cleanup runs
    for i in range(1000):              # Starlark code runs again
        pass
    sleep()                            # and blocking builtins
    log.append("rolled back")
sys.guard(step, rollback)
`, "stopped by the host"},
		{"the reason", `
reasons = []
def why(reason):
    reasons.append(reason)
assert.fails(lambda: sys.guard(lambda: fail("step broke"), why), "step broke")
assert.eq(len(reasons), 1)
assert.true("step broke" in reasons[0], reasons)
def step():
    stop()
    while True:
        pass
def rollback(reason, more=1):
    assert.eq(reason, "stopped by the host")
    log.append("rolled back")
sys.guard(step, rollback)
`, "stopped by the host"},
		{"a signal during the cleanup waits for it", `
def rollback():
    stop()
    for i in range(1000):
        pass
    sleep()
    log.append("rolled back")
sys.guard(lambda: fail("step broke"), rollback)
`, "step broke"},
		{"grace runs out", `
def forever():
    log.append("rollback")
    while True:
        pass
def step():
    stop()
    while True:
        pass
sys.guard(step, forever, grace=0.2)
`, "the cleanup's grace ran out after 200ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			thread := &starlark.Thread{Name: "test"}
			starlarktest.SetReporter(thread, t)
			cleanups := &starctx.Cleanups{}
			ctx, cancel := context.WithCancelCause(starctx.WithCleanups(context.Background(), cleanups))
			defer cancel(nil)
			release := starctx.Attach(thread, ctx)
			defer release()
			log := starlark.NewList(nil)
			builtin := func(name string, fn func(thread *starlark.Thread) starlark.Value) *starlark.Builtin {
				return starlark.NewBuiltin(name, func(thread *starlark.Thread, _ *starlark.Builtin, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
					return fn(thread), nil
				})
			}
			predeclared := starlark.StringDict{
				"sys":    sys.NewModule(nil, nil),
				"exit":   starlark.NewBuiltin("exit", sys.Exit),
				"assert": assert["assert"],
				"log":    log,
				"undo": builtin("undo", func(*starlark.Thread) starlark.Value {
					_ = log.Append(starlark.String("undo"))
					return starlark.None
				}),
				"stop": builtin("stop", func(*starlark.Thread) starlark.Value {
					cancel(errors.New("stopped by the host"))
					return starlark.None
				}),
				"host_done": builtin("host_done", func(*starlark.Thread) starlark.Value { return starlark.Bool(ctx.Err() != nil) }),
				"cleanup_until": builtin("cleanup_until", func(*starlark.Thread) starlark.Value {
					_, ok := cleanups.Until()
					return starlark.Bool(ok)
				}),
				"sleep": builtin("sleep", func(thread *starlark.Thread) starlark.Value {
					if err := starctx.Sleep(starctx.From(thread), 10*time.Millisecond); err != nil {
						return starlark.String(err.Error())
					}
					return starlark.None
				}),
			}
			opts := &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}
			_, err := starlark.ExecFileOptions(opts, thread, "guard.star", tc.src, predeclared)
			switch {
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("got %v, want an error with %q", err, tc.err)
			}
			if _, ok := cleanups.Until(); ok {
				t.Error("a cleanup is still counted as running")
			}
			if tc.name == "stopped" || tc.name == "a signal during the cleanup waits for it" || tc.name == "the reason" {
				if got := log.String(); !strings.Contains(got, `"rolled back"`) {
					t.Errorf("log %s: the rollback did not finish", got)
				}
			}
		})
	}
}
