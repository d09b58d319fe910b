// Package time provides the Starlark "time" module: everything in
// go.starlark.net/lib/time (now, parse_duration, parse_time, from_timestamp,
// time, is_valid_timezone and the duration constants) plus time.sleep, which
// returns early when the host cancels the script.
//
// Durations given to vicish builtins are read by starctx.Duration, which
// accepts a number of seconds (int or float), a time.duration value or a
// string such as "5s" or "1m30s".
package time

import (
	"errors"
	"fmt"
	"strings"

	libtime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/registry"
	"github.com/vicish/vicish/starctx"
)

// NewModule returns a new "time" module. Its builtins are named
// "time.<name>" so that errors and backtraces say which module they come
// from. The clock read by time.now can be replaced per thread with
// go.starlark.net/lib/time.SetNow.
func NewModule() *starlarkstruct.Module { return Spec().Build(nil) }

// qualified returns lib/time's builtin name, for a builtin "time.<name>".
// Its errors start with that name, as every vicish builtin's do, in place
// of the "<name>: " lib/time puts first (they read "time.time: time: ..."
// before).
func qualified(name string) registry.Func {
	inner := libtime.Module.Members[name].(*starlark.Builtin)
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		v, err := inner.CallInternal(thread, args, kwargs)
		if err != nil {
			if msg, ok := strings.CutPrefix(err.Error(), inner.Name()+": "); ok {
				return nil, errors.New(b.Name() + ": " + msg)
			}
		}
		return v, err
	}
}

// sleep implements time.sleep(d): it waits for d (seconds, a duration
// string or a time.duration; see starctx.Duration), or until the context
// attached to the thread (see package starctx) ends, whichever comes first.
// An interrupted sleep's error wraps starctx.ErrInterrupted.
func sleep(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var d starctx.Duration
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &d); err != nil {
		return nil, err
	}
	if !d.Set {
		return nil, fmt.Errorf("%s: got None, want seconds or a duration", b.Name())
	}
	if err := starctx.Sleep(starctx.From(thread), d.D); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.None, nil
}
