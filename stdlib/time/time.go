// Package time provides the Starlark "time" module: everything in
// go.starlark.net/lib/time (now, parse_duration, parse_time, from_timestamp,
// time, is_valid_timezone and the duration constants) plus time.sleep, which
// returns early when the host cancels the script.
//
// Durations given to vicish builtins are read by DurationArg, which accepts a
// number of seconds (int or float), a time.duration value or a string such
// as "5s" or "1m30s".
package time

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	libtime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/starctx"
)

// NewModule returns a new "time" module. Its builtins are named
// "time.<name>" so that errors and backtraces say which module they come
// from. The clock read by time.now can be replaced per thread with
// go.starlark.net/lib/time.SetNow.
func NewModule() *starlarkstruct.Module {
	members := make(starlark.StringDict, len(libtime.Module.Members)+1)
	for name, v := range libtime.Module.Members {
		if b, ok := v.(*starlark.Builtin); ok {
			v = qualify(b)
		}
		members[name] = v
	}
	members["sleep"] = starlark.NewBuiltin("time.sleep", sleep)
	return &starlarkstruct.Module{Name: "time", Members: members}
}

// qualify wraps a lib/time builtin under the name "time.<name>".
func qualify(inner *starlark.Builtin) *starlark.Builtin {
	return starlark.NewBuiltin("time."+inner.Name(), func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		return inner.CallInternal(thread, args, kwargs)
	})
}

// sleep implements time.sleep(d): it waits for d, or until the context
// attached to the thread (see package starctx) ends, whichever comes first.
func sleep(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var d DurationArg
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &d); err != nil {
		return nil, err
	}
	if err := Sleep(starctx.From(thread), time.Duration(d)); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.None, nil
}

// ErrInterrupted is wrapped by the error a blocking builtin returns when the
// host cancelled the script while it waited.
var ErrInterrupted = errors.New("interrupted")

// Sleep waits for d or until ctx ends. When ctx ends first it returns an
// error wrapping ErrInterrupted that gives the context's cause.
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrInterrupted, context.Cause(ctx))
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", ErrInterrupted, context.Cause(ctx))
	}
}

// DurationArg is an argument unpacker (starlark.Unpacker) for durations. It
// accepts an int or float number of seconds, a time.duration value, or a
// duration string such as "500ms", "5s" or "1h30m". Negative durations are
// rejected.
type DurationArg time.Duration

// Unpack implements starlark.Unpacker.
func (d *DurationArg) Unpack(v starlark.Value) error {
	var x time.Duration
	switch v := v.(type) {
	case starlark.Int:
		n, ok := v.Int64()
		if !ok || n > math.MaxInt64/int64(time.Second) {
			return fmt.Errorf("duration %v seconds is too large", v)
		}
		x = time.Duration(n) * time.Second
	case starlark.Float:
		f := float64(v) * float64(time.Second)
		if math.IsNaN(f) || f >= math.MaxInt64 || f <= math.MinInt64 {
			return fmt.Errorf("invalid duration %v seconds", v)
		}
		x = time.Duration(f)
	case libtime.Duration:
		x = time.Duration(v)
	case starlark.String:
		p, err := time.ParseDuration(string(v))
		if err != nil {
			return fmt.Errorf("invalid duration %q (want e.g. \"5s\", \"1m30s\" or a number of seconds)", string(v))
		}
		x = p
	default:
		return fmt.Errorf("got %s, want a number of seconds, a duration or a string such as \"5s\"", v.Type())
	}
	if x < 0 {
		return fmt.Errorf("negative duration %v", x)
	}
	*d = DurationArg(x)
	return nil
}
