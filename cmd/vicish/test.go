package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/vicish/vicish/internal/startest"
	"github.com/vicish/vicish/starctx"
)

const testUsage = `usage: vicish test [-run REGEX] [-v] [-short] [-timeout SECS] [PATH...]

Runs the test_* functions of *_test.star files (a directory means those
under it, except in testdata/ and hidden directories; no PATH means the
current directory), each in a fresh runtime, in file order. Test files have
vicish's globals and: assert (eq, ne, true, false, lt, contains, fails),
fake.daemon(uri) (fake charon daemons the runbook under test reaches by
URI: d.reply, d.emit, d.requests, d.stop, d.start), run(path, args) and
start(path, args) (a script run as vicish runs it), skip(reason),
tempdir(). See docs/testing.md.

  -run REGEX     run only the tests whose name matches
  -v             print every test, with what it printed
  -short         skip the tests that start a lab (lab(): real daemons, root)
  -timeout SECS  limit for each test (default 300), e.g. 60 or 2m

Prints a line per failure (file:line:col: test: message), then
"N passed, M failed". Exit codes: 0 all passed · 1 a test failed · 2 usage.
`

// testCommand implements `vicish test` and returns the exit code.
func testCommand(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var run *regexp.Regexp
	fs.Func("run", "", func(s string) (err error) {
		run, err = regexp.Compile(s)
		return err
	})
	verbose := fs.Bool("v", false, "")
	short := fs.Bool("short", false, "")
	timeout := 5 * time.Minute
	fs.Func("timeout", "", func(s string) (err error) {
		timeout, err = starctx.ParseDuration(s)
		if err == nil && timeout <= 0 {
			err = errors.New("want a time above 0")
		}
		return err
	})
	if code, ok := parseSubcommand(fs, args, testUsage, stdout, stderr); !ok {
		return code
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	files, err := starFiles(paths, isTestFile)
	if err != nil {
		fmt.Fprintf(stderr, "vicish test: %v\n", err)
		return 2
	}
	for _, f := range files {
		if !isTestFile(filepath.Base(f)) {
			// A file named on the command line: a runbook rather than its tests.
			fmt.Fprintf(stderr, "vicish test: %s is not a test file: tests go in files named *_test.star (e.g. %s)\n", f, strings.TrimSuffix(filepath.Base(f), ".star")+"_test.star")
			return 2
		}
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "vicish test: no *_test.star files in %s\n", strings.Join(paths, " "))
		return 2
	}
	ctx, stop := signalContext(context.Background())
	defer stop()
	res := startest.Run(ctx, startest.Options{Files: files, Run: run, Verbose: *verbose, Short: *short, Timeout: timeout, Out: stdout})
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "vicish test: %v\n", context.Cause(ctx))
		return 1
	}
	if res.Failed > 0 {
		return 1
	}
	return 0
}

// isTestFile reports whether a file's name is that of a test file.
func isTestFile(name string) bool { return strings.HasSuffix(name, "_test.star") }
