package sys_test

import (
	"errors"
	"fmt"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	"go.starlark.net/syntax"

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
assert.eq(sorted(dir(sys)), ["argv", "env", "exit"])
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
