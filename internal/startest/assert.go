package startest

import (
	"fmt"
	"regexp"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/registry"
	"github.com/vicish/vicish/script"
)

// comparison is an assertion of two values, the parameters first and
// second: holds tells whether they pass it (its error is the builtin's),
// and failure, given both as the REPL shows them, says why not.
func comparison(first, second string, holds func(x, y starlark.Value) (bool, error), failure string) registry.Func {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var x, y starlark.Value
		var msg starlark.Value = starlark.None
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, first, &x, second, &y, "msg?", &msg); err != nil {
			return nil, err
		}
		ok, err := holds(x, y)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
		if !ok {
			failf(thread, b, msg, failure, show(x), show(y))
		}
		return starlark.None, nil
	}
}

// The relations assert.eq, ne, lt and contains check.
func equal(x, y starlark.Value) (bool, error) { return starlark.Equal(x, y) }

func notEqual(x, y starlark.Value) (bool, error) {
	eq, err := starlark.Equal(x, y)
	return !eq, err
}

func less(x, y starlark.Value) (bool, error) { return starlark.Compare(syntax.LT, x, y) }

func contains(container, x starlark.Value) (bool, error) {
	in, err := starlark.Binary(syntax.IN, x, container)
	return err == nil && bool(in.Truth()), err
}

// truth is assert.true (want true) or assert.false.
func truth(want bool) registry.Func {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var cond starlark.Value
		var msg starlark.Value = starlark.None
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "cond", &cond, "msg?", &msg); err != nil {
			return nil, err
		}
		if bool(cond.Truth()) != want {
			failf(thread, b, msg, "%s is not %t", show(cond), want)
		}
		return starlark.None, nil
	}
}

func assertFails(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var fn starlark.Callable
	var pattern string
	var msg starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "fn", &fn, "pattern", &pattern, "msg?", &msg); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("%s: pattern: %v", b.Name(), err)
	}
	_, err = starlark.Call(thread, fn, nil, nil)
	switch {
	case err == nil:
		failf(thread, b, msg, "%s succeeded, want an error matching %q", fn.Name(), pattern)
	case !re.MatchString(errorMessage(err)):
		failf(thread, b, msg, "the error %q does not match %q", errorMessage(err), pattern)
	}
	return starlark.None, nil
}

// errorMessage is an error's message without a backtrace.
func errorMessage(err error) string {
	if ee, ok := err.(*starlark.EvalError); ok {
		return ee.Msg
	}
	return err.Error()
}

// failf records a failed assertion at the position of the call.
func failf(thread *starlark.Thread, b *starlark.Builtin, msg starlark.Value, format string, args ...any) {
	text := b.Name() + ": " + fmt.Sprintf(format, args...)
	if s, ok := starlark.AsString(msg); ok {
		text = b.Name() + ": " + s + ": " + fmt.Sprintf(format, args...)
	} else if msg != starlark.None {
		text = b.Name() + ": " + show(msg) + ": " + fmt.Sprintf(format, args...)
	}
	t := testOf(thread)
	t.fail(thread.CallFrame(1).Pos, text)
}

// show renders a value as the REPL does, on one line where it fits.
func show(v starlark.Value) string {
	p := &script.Printer{Width: 200, MaxItems: 20}
	s, err := p.Format(v)
	if err != nil {
		return v.String()
	}
	return s
}
