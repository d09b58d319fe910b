package startest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/script"
)

// testRun is one test function being run: its runtime and thread, its
// fake daemons, the scripts it started, what it printed and how it
// failed.
type testRun struct {
	file, name string
	ctx        context.Context
	short      bool // lab() skips
	rt         *script.Runtime
	fakes      *fakes
	own        *origin   // the test runtime's own connections
	calls      chan call // reply functions of scripts' requests, for the test's thread
	out        *syncBuffer
	loadErr    string // why the file did not load; the test did not run

	mu       sync.Mutex
	failures []string
	notes    []string
	skipped  string
	procs    []*proc
	cleanups []func() // run in reverse order when the test ends
	tempDir  string
	elapsed  time.Duration
}

// call asks the test's thread to run a reply function.
type call struct {
	fn   starlark.Callable
	args starlark.Tuple
	done chan callResult
}

type callResult struct {
	v   starlark.Value
	err error
}

const testKey = "vicish.startest"

// testOf returns the test a thread of it belongs to.
func testOf(thread *starlark.Thread) *testRun {
	t, _ := thread.Local(testKey).(*testRun)
	return t
}

// fail records a failure at pos.
func (t *testRun) fail(pos syntax.Position, msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failures = append(t.failures, fmt.Sprintf("%s: %s: %s", pos, t.name, msg))
}

// errorf records a failure found outside the test's code (a fake
// daemon's), at the test.
func (t *testRun) errorf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failures = append(t.failures, fmt.Sprintf("%s: %s: %s", t.file, t.name, fmt.Sprintf(format, args...)))
}

// notef records something shown with the test's output.
func (t *testRun) notef(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

func (t *testRun) failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.failures) > 0
}

// cleanup registers f to run when the test ends, failed or not.
func (t *testRun) cleanup(f func()) {
	t.mu.Lock()
	t.cleanups = append(t.cleanups, f)
	t.mu.Unlock()
}

// finish stops what the test left running, in reverse order of starting.
func (t *testRun) finish() {
	t.mu.Lock()
	procs := t.procs
	t.mu.Unlock()
	for _, p := range procs {
		if p.running() {
			p.cancel(script.ErrTerminated)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.errorf("%s did not stop within 10s of the end of the test", p.path)
			}
		}
	}
	t.fakes.close()
	t.mu.Lock()
	cleanups := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	t.rt.Close()
	if t.tempDir != "" {
		os.RemoveAll(t.tempDir)
	}
}

// callOnTestThread runs fn on the test's thread, which runs it while it
// waits in run() or in a started script's method; it fails when the test
// has ended.
func (t *testRun) callOnTestThread(fn starlark.Callable, args starlark.Tuple) (starlark.Value, error) {
	c := call{fn: fn, args: args, done: make(chan callResult, 1)}
	select {
	case t.calls <- c:
	case <-t.ctx.Done():
		return nil, errors.New("the test ended before the reply function could run")
	}
	select {
	case r := <-c.done:
		return r.v, r.err
	case <-t.ctx.Done():
		return nil, errors.New("the test ended while the reply function ran")
	}
}

// await waits, on the test's thread, until done is closed, running the
// reply functions scripts need meanwhile. It fails when the test's time
// is up.
func (t *testRun) await(thread *starlark.Thread, done <-chan struct{}, what string) error {
	for {
		select {
		case <-done:
			return nil
		case c := <-t.calls:
			v, err := starlark.Call(thread, c.fn, c.args, nil)
			c.done <- callResult{v, err}
		case <-t.ctx.Done():
			return fmt.Errorf("%s: %w", what, context.Cause(t.ctx))
		}
	}
}

// syncBuffer is a buffer written by several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
