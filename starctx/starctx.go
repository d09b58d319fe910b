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
// that errors.Is(err, ErrInterrupted) holds for all of them; and
// RunCleanup with Cleanups, which let a script's cleanup (sys.guard) run
// after the host has cancelled it, for a stated grace, and let the host
// know how long to wait for it.
package starctx

import (
	"context"
	"sync/atomic"

	"go.starlark.net/starlark"
)

const localKey = "vicish.context"

// attached is what Attach stores on a thread: its context, which
// RunCleanup replaces while a cleanup runs (only the thread's own
// goroutine reads or changes it), and how many cleanups run, during
// which the context's end does not cancel the thread.
type attached struct {
	ctx      context.Context
	shielded atomic.Int32
}

// Attach stores ctx on thread and arranges for thread.Cancel to be called
// when ctx ends (at the end of the cleanups running then, if any). The
// returned function releases that arrangement; call it when the thread
// has finished running.
func Attach(thread *starlark.Thread, ctx context.Context) (release func()) {
	a := &attached{ctx: ctx}
	thread.SetLocal(localKey, a)
	stop := context.AfterFunc(ctx, func() {
		if a.shielded.Load() == 0 {
			thread.Cancel(context.Cause(ctx).Error())
		}
	})
	return func() { stop() }
}

// From returns the context attached to thread, or context.Background if
// there is none.
func From(thread *starlark.Thread) context.Context {
	if thread != nil {
		if a, ok := thread.Local(localKey).(*attached); ok {
			return a.ctx
		}
	}
	return context.Background()
}
