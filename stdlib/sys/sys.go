// Package sys provides the Starlark "sys" module: the script's arguments,
// read-only access to the environment, and exit.
//
//	sys.argv                  → list of strings (frozen); argv[0] is the script
//	sys.env(name, default=None) → string, or default when unset or empty
//	sys.exit(code=0)          → stops the script with that exit code
//	sys.exit("message")       → stops the script with exit code 1 and a message
//	sys.guard(fn, cleanup, grace=30) → fn(); when it fails or the script is
//	                            stopped, cleanup() runs first (for at most
//	                            grace seconds, even after Ctrl-C or SIGTERM;
//	                            reason= too if it declares that parameter)
//
// Exit is the function of sys.exit and of the predeclared builtin exit(code=0).
//
// Starlark has no way to catch an error, so exit works by returning an
// *ExitError: it travels up through every Starlark frame, and the host finds
// it with errors.As and turns it into the process exit code.
package sys

import (
	"context"
	"errors"
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/internal/starcall"
	"github.com/vicish/vicish/starctx"
)

// ExitError is the error returned by sys.exit and exit. Hosts find it with
// errors.As (the *starlark.EvalError that wraps it supports Unwrap) and exit
// with Code. A non-empty Message is meant for the user: print it to stderr.
type ExitError struct {
	Code    int    // exit code requested by the script
	Message string // set by sys.exit("message"); empty otherwise
}

// Error returns the message given to exit, or says which code was requested.
func (e *ExitError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("exit(%d)", e.Code)
}

// NewModule returns a "sys" module whose argv is a frozen copy of argv and
// whose env function reads variables through getenv (os.Getenv in vicish).
// A variable that getenv reports as "" counts as unset.
func NewModule(argv []string, getenv func(string) string) *starlarkstruct.Module {
	return Spec(argv, getenv).Build(nil)
}

// Guard implements sys.guard(fn, cleanup, grace=30): Starlark cannot catch
// an error, so this is how a script undoes a step that failed or was
// interrupted half-way (a rollout's rollback). The cleanup runs with
// starctx.RunCleanup: after the host has cancelled the script too, for at
// most grace, and the host waits for it (starctx.Cleanups).
func Guard(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var fn, cleanup starlark.Callable
	var grace starctx.Duration
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "fn", &fn, "cleanup", &cleanup, "grace?", &grace); err != nil {
		return nil, err
	}
	switch {
	case !grace.Set:
		grace.D = starctx.DefaultCleanupGrace
	case grace.D <= 0:
		return nil, fmt.Errorf("%s: grace must be more than 0 seconds, got %v", b.Name(), grace.D)
	}
	// A cleanup that cannot be called would fail when it is needed, after
	// the step failed or the script was stopped: refuse it now.
	if err := starcall.Check(cleanup, 0, "reason", "cleanup(), with reason= if it has a parameter named reason"); err != nil {
		return nil, fmt.Errorf("%s: the cleanup %w", b.Name(), err)
	}
	v, err := starlark.Call(thread, fn, nil, nil)
	var exit *ExitError
	if err == nil || errors.As(err, &exit) {
		return v, err
	}
	var why []starlark.Tuple
	if declares(cleanup, "reason") {
		reason := err.Error()
		if ctx := starctx.From(thread); ctx.Err() != nil {
			reason = context.Cause(ctx).Error() // "interrupted", "terminated"
		}
		why = []starlark.Tuple{{starlark.String("reason"), starlark.String(reason)}}
	}
	cerr := starctx.RunCleanup(thread, grace.D, func() error {
		_, err := starlark.Call(thread, cleanup, nil, why)
		return err
	})
	if cerr != nil {
		return nil, &CleanupError{Err: err, Cleanup: cleanup.Name(), CleanupErr: cerr}
	}
	return nil, err
}

// declares reports whether fn is a Starlark function with a parameter
// of that name.
func declares(fn starlark.Callable, name string) bool {
	f, ok := fn.(*starlark.Function)
	if !ok {
		return false
	}
	for i := range f.NumParams() {
		if n, _ := f.Param(i); n == name {
			return true
		}
	}
	return false
}

// CleanupError is the error of a sys.guard whose cleanup failed too. It
// wraps the error that made the cleanup run, so a host maps it to the
// same exit code; the cleanup's own error is CleanupErr.
type CleanupError struct {
	Err        error  // why fn failed: its error, or the host's cancellation
	Cleanup    string // the cleanup's name
	CleanupErr error
}

func (e *CleanupError) Error() string {
	return fmt.Sprintf("%v\nsys.guard: the cleanup %s failed too: %v", e.Err, e.Cleanup, e.CleanupErr)
}

func (e *CleanupError) Unwrap() error { return e.Err }

// Exit implements exit(code=0), the predeclared builtin, and sys.exit.
func Exit(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var code starlark.Value = starlark.MakeInt(0)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "code?", &code); err != nil {
		return nil, err
	}
	switch c := code.(type) {
	case starlark.NoneType:
		return nil, &ExitError{Code: 0}
	case starlark.Int:
		n, ok := c.Int64()
		if !ok || n < 0 || n > 255 {
			return nil, fmt.Errorf("%s: exit code %v out of range 0-255", b.Name(), c)
		}
		return nil, &ExitError{Code: int(n)}
	case starlark.String:
		if c == "" {
			return nil, fmt.Errorf("%s: empty message (give an exit code, or a message saying what failed)", b.Name())
		}
		return nil, &ExitError{Code: 1, Message: string(c)}
	default:
		return nil, fmt.Errorf("%s: got %s, want an exit code (int) or a message (string)", b.Name(), code.Type())
	}
}
