// Package startest runs the tests of runbooks: the test_* functions of
// *_test.star files, each in a fresh runtime (a thread, module state and
// fake daemons of its own), as `vicish test` does.
//
// A test file is Starlark with vicish's globals and these:
//
//	assert     eq, ne, true, false, lt, contains, fails(fn, pattern): as
//	           go.starlark.net's starlarktest; a failure names the line
//	fake       fake.daemon(uri=None): a fake charon behind a URI (without
//	           one, the default daemon vici reaches); d.reply(command,
//	           reply, *more), d.emit(event, data), d.requests, d.stop(),
//	           d.start()
//	run        run(path, args=[], uri=None, allow=[], env={}): runs a
//	           script as vicish would, its vici reaching the fakes; returns
//	           .code, .output, .stderr and .requests
//	start      start(...): the same, running on while the test goes on:
//	           .next_line(stderr=False), .stop(), .interrupt(), .wait()
//	skip       skip(reason): ends the test as skipped
//	tempdir    tempdir(): a directory of the test's, removed after it
//
// The fake daemons are served through the real engine and wire code
// (package vici, vici/vicitest): a runbook under test runs unchanged.
package startest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/internal/readfile"
	"github.com/vicish/vicish/script"
)

// Options configure Run.
type Options struct {
	// Files are the test files, in order.
	Files []string
	// Run, if set, selects the tests whose name it matches.
	Run *regexp.Regexp
	// Verbose reports every test and shows each one's output.
	Verbose bool
	// Timeout bounds each test; 0 means 5 minutes.
	Timeout time.Duration
	// Short skips the tests that start a lab (the hermetic tier alone).
	Short bool
	// Out receives the report.
	Out io.Writer
}

// Result counts the tests run.
type Result struct {
	Passed, Failed, Skipped int
}

// Run runs the tests of the files and writes a report to opts.Out: a
// line per failure (with Verbose, a line per test and its output), then
// "N passed, M failed". A file that cannot be read or parsed counts as one
// failure; one that does not load (an undefined name, an error at top
// level) fails each of its tests, and the report says why once.
func Run(ctx context.Context, opts Options) Result {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	var res Result
	for _, file := range opts.Files {
		names, err := testNames(file)
		if err != nil {
			fmt.Fprintln(opts.Out, err)
			res.Failed++
			continue
		}
		var selected []string
		for _, name := range names {
			if opts.Run == nil || opts.Run.MatchString(name) {
				selected = append(selected, name)
			}
		}
		for i, name := range selected {
			if ctx.Err() != nil {
				return res
			}
			t := runTest(ctx, file, name, opts)
			if t.loadErr != "" {
				// The file is executed anew for each test: it would fail
				// the same way for the rest. Say why once.
				left := len(selected) - i
				verb := "tests fail"
				if left == 1 {
					verb = "test fails"
				}
				fmt.Fprintf(opts.Out, "%s: %d %s: the file does not load: %s\n", file, left, verb, t.loadErr)
				res.Failed += left
				break
			}
			report(opts.Out, t, opts.Verbose)
			switch {
			case t.failed():
				res.Failed++
			case t.skipped != "":
				res.Skipped++
			default:
				res.Passed++
			}
		}
	}
	summary := fmt.Sprintf("%d passed, %d failed", res.Passed, res.Failed)
	if res.Skipped > 0 {
		summary += fmt.Sprintf(", %d skipped", res.Skipped)
	}
	fmt.Fprintln(opts.Out, summary)
	return res
}

// testNames returns the names of a file's test functions (top-level
// def test_...), in file order.
func testNames(file string) ([]string, error) {
	src, err := readfile.Read(file, readfile.DefaultLimit)
	if err != nil {
		return nil, err
	}
	f, err := script.FileOptions().Parse(file, src, 0)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, stmt := range f.Stmts {
		if def, ok := stmt.(*syntax.DefStmt); ok && strings.HasPrefix(def.Name.Name, "test_") {
			names = append(names, def.Name.Name)
		}
	}
	return names, nil
}

// Granted are the capabilities test files have (they write fixtures with
// file.write); a script a test runs has only those run(allow=) grants.
var Granted = []capability.Capability{capability.Write}

// errSkip ends a test that called skip().
type errSkip struct{ reason string }

func (e *errSkip) Error() string { return "skipped: " + e.reason }

// runTest runs one test function: the file executed anew in a fresh
// runtime, then the function, then everything it started stopped.
func runTest(parent context.Context, file, name string, opts Options) *testRun {
	ctx, cancel := context.WithTimeoutCause(parent, opts.Timeout, fmt.Errorf("the test did not end within %v", opts.Timeout))
	defer cancel()
	t := &testRun{file: file, name: name, ctx: ctx, short: opts.Short, calls: make(chan call), out: &syncBuffer{}}
	t.fakes = newFakes(t)
	t.fakes.daemon(DefaultURI)
	t.own = &origin{set: t.fakes}
	begin := time.Now()
	t.rt = script.New(script.Options{
		URI:    DefaultURI,
		Argv:   []string{file},
		Stdout: t.out,
		Stderr: t.out,
		Getenv: func(string) string { return "" },
		Allow:  []capability.Capability{capability.Write},
		Dial:   t.own.dial,
		Extra:  Spec(),
	})
	defer func() { t.elapsed = time.Since(begin) }()
	defer t.finish()
	thread, release := t.rt.NewThread(ctx, file)
	defer release()
	thread.SetLocal(testKey, t)
	globals, err := t.rt.Exec(thread, file, nil)
	if err != nil {
		t.loadErr = t.rt.FormatError(err)
		return t
	}
	fn, ok := globals[name].(starlark.Callable)
	if !ok {
		t.errorf("%s is a %s, not a function", name, globals[name].Type())
		return t
	}
	if _, err := starlark.Call(thread, fn, nil, nil); err != nil {
		var skip *errSkip
		if errors.As(err, &skip) {
			t.skipped = skip.reason
			return t
		}
		t.errorf("%s", t.rt.FormatError(err))
	}
	return t
}

func skipBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var reason string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "reason", &reason); err != nil {
		return nil, err
	}
	return nil, &errSkip{reason: reason}
}

func tempdirBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	t := testOf(thread)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tempDir == "" {
		dir, err := os.MkdirTemp("", "vicish-test-")
		if err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
		t.tempDir = dir
	}
	return starlark.String(t.tempDir), nil
}

// report writes a test's outcome.
func report(out io.Writer, t *testRun, verbose bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	status := "PASS"
	switch {
	case len(t.failures) > 0:
		status = "FAIL"
	case t.skipped != "":
		status = "SKIP"
	}
	if verbose || status == "SKIP" {
		line := fmt.Sprintf("%s %s: %s (%.2fs)", status, t.file, t.name, t.elapsed.Seconds())
		if t.skipped != "" {
			line += ": " + t.skipped
		}
		fmt.Fprintln(out, line)
	}
	out = t.rt.Secrets().Writer(out) // a failure quotes values: keep the secrets out
	for _, f := range t.failures {
		fmt.Fprintln(out, f)
	}
	if verbose || len(t.failures) > 0 {
		for _, n := range t.notes {
			fmt.Fprintf(out, "    note: %s\n", n)
		}
	}
	if verbose {
		if text := strings.TrimRight(t.out.String(), "\n"); text != "" {
			for _, l := range strings.Split(text, "\n") {
				fmt.Fprintf(out, "    %s\n", l)
			}
		}
	}
}
