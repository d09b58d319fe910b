package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vicish/vicish/script"
	"github.com/vicish/vicish/starctx"
)

// signalGrace is how long a script has to stop once a first SIGINT or
// SIGTERM has cancelled it. Builtins end at once, but the interpreter
// notices a cancellation only between steps of Starlark code, and one
// step can take minutes (str() of a deeply nested dict).
const signalGrace = 2 * time.Second

// signalContext returns a context cancelled by SIGINT or SIGTERM, with
// script.ErrInterrupted or script.ErrTerminated as its cause.
func signalContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			cancel(signalCause(sig))
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// scriptContext is signalContext for running a script, with a promise
// that a signal wins over long work: once a first signal has cancelled
// the script, the process exits with 128 + the signal's number (130, 143)
// if the script has not stopped within signalGrace, or, while a cleanup
// it registered with sys.guard runs, within signalGrace after that
// cleanup's grace; a second signal exits at once. It says so on stderr.
func scriptContext(stderr io.Writer) (context.Context, func()) {
	cleanups := &starctx.Cleanups{}
	ctx, cancel := context.WithCancelCause(starctx.WithCleanups(context.Background(), cleanups))
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		var first os.Signal
		select {
		case first = <-ch:
		case <-done:
			return
		}
		cancel(signalCause(first))
		limit := time.Now().Add(signalGrace)
		for {
			if until, ok := cleanups.Until(); ok && until.Add(signalGrace).After(limit) {
				limit = until.Add(signalGrace)
			}
			t := time.NewTimer(time.Until(limit))
			select {
			case sig := <-ch:
				fmt.Fprintf(stderr, "vicish: %v again while the script was stopping: exiting at once\n", signalCause(sig))
				os.Exit(signalExit(sig))
			case <-done:
				t.Stop()
				return
			case <-t.C:
				if until, ok := cleanups.Until(); ok && until.Add(signalGrace).After(limit) {
					continue // a cleanup started meanwhile
				}
				fmt.Fprintf(stderr, "vicish: %v, and the script did not stop within %v: exiting anyway\n", signalCause(first), signalGrace)
				os.Exit(signalExit(first))
			}
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// signalCause is the cause a context is cancelled with for sig.
func signalCause(sig os.Signal) error {
	if sig == syscall.SIGTERM {
		return script.ErrTerminated
	}
	return script.ErrInterrupted
}

// signalExit is the exit code after sig.
func signalExit(sig os.Signal) int {
	if sig == syscall.SIGTERM {
		return script.ExitTerminated
	}
	return script.ExitInterrupted
}
