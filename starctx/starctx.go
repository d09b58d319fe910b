// Package starctx carries a context.Context on a starlark.Thread, so that
// builtins which block (a VICI command, listen, sleep) end when the host
// cancels the script.
//
// A host attaches a context before running code; builtins read it back with
// From and select on its Done channel. Attach also cancels the thread when
// the context ends, so plain Starlark loops stop too.
//
// It is also the one home of what every blocking builtin needs: Duration,
// the unpacker for "seconds or a duration" arguments (deadline=, timeout=,
// time.sleep) and ParseDuration for the same on a command line; WithTimeout,
// the thread's context bounded for one call; and Interrupted with
// ErrInterrupted, the error a builtin returns when the host ended it, so
// that errors.Is(err, ErrInterrupted) holds for all of them.
package starctx

import (
	"context"

	"go.starlark.net/starlark"
)

const localKey = "vicish.context"

// Attach stores ctx on thread and arranges for thread.Cancel to be called
// when ctx ends. The returned function releases that arrangement; call it
// when the thread has finished running.
func Attach(thread *starlark.Thread, ctx context.Context) (release func()) {
	thread.SetLocal(localKey, ctx)
	stop := context.AfterFunc(ctx, func() { thread.Cancel(context.Cause(ctx).Error()) })
	return func() { stop() }
}

// From returns the context attached to thread, or context.Background if
// there is none.
func From(thread *starlark.Thread) context.Context {
	if thread != nil {
		if ctx, ok := thread.Local(localKey).(context.Context); ok {
			return ctx
		}
	}
	return context.Background()
}
