// Package sys provides the Starlark "sys" module: the script's arguments,
// read-only access to the environment, and exit.
//
//	sys.argv                  → list of strings (frozen); argv[0] is the script
//	sys.env(name, default=None) → string, or default when unset or empty
//	sys.exit(code=0)          → stops the script with that exit code
//	sys.exit("message")       → stops the script with exit code 1 and a message
//
// Exit is the function of sys.exit and of the predeclared builtin exit(code=0).
//
// Starlark has no way to catch an error, so exit works by returning an
// *ExitError: it travels up through every Starlark frame, and the host finds
// it with errors.As and turns it into the process exit code.
package sys

import (
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
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
