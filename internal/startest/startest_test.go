package startest_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/internal/startest"
)

// run runs the tests of testdata files and returns the report.
func run(t *testing.T, opts startest.Options, files ...string) (startest.Result, string) {
	t.Helper()
	var out bytes.Buffer
	opts.Out = &out
	for _, f := range files {
		opts.Files = append(opts.Files, "testdata/"+f)
	}
	res := startest.Run(context.Background(), opts)
	return res, out.String()
}

func TestPassAndFail(t *testing.T) {
	res, out := run(t, startest.Options{}, "passfail_test.star")
	if res != (startest.Result{Passed: 1, Failed: 1}) {
		t.Errorf("result %+v, want 1 passed, 1 failed", res)
	}
	want := `testdata/passfail_test.star:5:14: test_fails: assert.eq: {"a": [1, 2]} != {"a": [1, 3]}` + "\n1 passed, 1 failed\n"
	if out != want {
		t.Errorf("report:\n%s\nwant:\n%s", out, want)
	}
}

func TestAssertions(t *testing.T) {
	res, out := run(t, startest.Options{}, "asserts_test.star")
	if res != (startest.Result{Passed: 1, Failed: 2}) {
		t.Errorf("result %+v, want 1 passed (test_all_pass), 2 failed", res)
	}
	for _, want := range []string{
		"asserts_test.star:2:14: test_all_fail: assert.eq: 1 != 2\n",
		`asserts_test.star:3:14: test_all_fail: assert.ne: "x" == "x"` + "\n",
		"asserts_test.star:4:16: test_all_fail: assert.true: 0 is not true\n",
		"asserts_test.star:5:17: test_all_fail: assert.false: [1] is not false\n",
		"asserts_test.star:6:14: test_all_fail: assert.lt: 3 is not less than 2\n",
		"asserts_test.star:7:20: test_all_fail: assert.contains: [1, 2] does not contain 3\n",
		`asserts_test.star:8:17: test_all_fail: assert.fails: lambda succeeded, want an error matching "boom"` + "\n",
		`asserts_test.star:9:17: test_all_fail: assert.fails: the error "fail: bang" does not match "boom"` + "\n",
		"asserts_test.star:10:14: test_all_fail: assert.eq: the sum: 1 != 2\n",
		"test_error: Traceback (most recent call last):\n  testdata/asserts_test.star:23:11: in test_error\nError: key \"missing\" not in dict\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the report:\n%s", want, out)
		}
	}
}

// TestScripts runs the scripts of testdata through run and start: exit
// codes, output, requests, fake replies and events, several daemons by
// URI, the --allow-net gate, a stopped daemon.
func TestScripts(t *testing.T) {
	res, out := run(t, startest.Options{Verbose: true}, "run_test.star", "events_test.star")
	if res.Failed != 0 || res.Passed != 10 {
		t.Errorf("result %+v, want 10 passed:\n%s", res, out)
	}
}

func TestSelectAndSkip(t *testing.T) {
	res, out := run(t, startest.Options{Run: regexp.MustCompile("output|skipped")}, "run_test.star", "skip_test.star")
	if res != (startest.Result{Passed: 1, Skipped: 1}) {
		t.Errorf("result %+v, want 1 passed, 1 skipped:\n%s", res, out)
	}
	if !strings.Contains(out, "SKIP testdata/skip_test.star: test_skipped (") || !strings.Contains(out, "): not today\n") || !strings.HasSuffix(out, "1 passed, 0 failed, 1 skipped\n") {
		t.Errorf("report:\n%s", out)
	}
}

// TestTimeout: a test that waits for a script that never ends fails when
// its time is up, and the script is stopped.
func TestTimeout(t *testing.T) {
	begin := time.Now()
	res, out := run(t, startest.Options{Timeout: time.Second}, "hang_test.star")
	if res.Failed != 1 || !strings.Contains(out, "events.star did not end: the test did not end within 1s") {
		t.Errorf("result %+v, report:\n%s", res, out)
	}
	if d := time.Since(begin); d > time.Minute {
		t.Errorf("the test took %v to end", d)
	}
}

// TestFreshState: what one test does to the fake daemon and to the
// module's state is gone in the next.
func TestFreshState(t *testing.T) {
	res, out := run(t, startest.Options{}, "fresh_test.star")
	if res != (startest.Result{Passed: 2}) {
		t.Errorf("result %+v:\n%s", res, out)
	}
}

// TestLab runs lab tests: a gateway with a swanctl.conf of the test's
// own; a failing test whose lab is torn down all the same.
func TestLab(t *testing.T) {
	if err := lab.Check(); err != nil {
		labtest.SkipOffCI(t, "lab: "+err.Error())
	}
	before, err := lab.Running()
	if err != nil {
		t.Fatal(err)
	}
	res, out := run(t, startest.Options{Verbose: true}, "lab_test.star")
	if res != (startest.Result{Passed: 1, Failed: 1}) || !strings.Contains(out, "test_fails_and_is_torn_down: assert.eq: ") {
		t.Errorf("result %+v:\n%s", res, out)
	}
	m := regexp.MustCompile(`lab dir (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the failing test did not print its lab's directory:\n%s", out)
	}
	if _, err := os.Stat(m[1]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the failed test's lab directory %s is still there: %v", m[1], err)
	}
	after, err := lab.Running()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range after {
		if l.Dir == m[1] {
			t.Errorf("the failed test's lab %s still runs (before: %d labs, after: %d)", l.ID, len(before), len(after))
		}
	}
}

// TestFileDoesNotLoad: a file that fails to load (here an undefined name)
// fails each of its tests, and the report gives the reason once, not once
// per test.
func TestFileDoesNotLoad(t *testing.T) {
	res, out := run(t, startest.Options{}, "noload_test.star", "passfail_test.star")
	if res != (startest.Result{Passed: 1, Failed: 4}) {
		t.Errorf("result %+v, want 1 passed, 4 failed (3 of the file that does not load)", res)
	}
	if n := strings.Count(out, "no_such_name"); n != 1 {
		t.Errorf("the reason is given %d times, want once:\n%s", n, out)
	}
	want := "testdata/noload_test.star: 3 tests fail: the file does not load: testdata/noload_test.star:8:9: undefined: no_such_name\n"
	if !strings.HasPrefix(out, want) {
		t.Errorf("report:\n%s\nwant it to begin:\n%s", out, want)
	}
}

// TestSecretsRedacted: what a script under test loaded as a secret is
// redacted in the report, in a failed assertion's values and in what the
// test printed.
func TestSecretsRedacted(t *testing.T) {
	res, out := run(t, startest.Options{Verbose: true}, "secret_test.star")
	if res != (startest.Result{Failed: 1}) {
		t.Errorf("result %+v, want 1 failed", res)
	}
	if strings.Contains(out, "Sup3rS3cretXYZ") || !strings.Contains(out, `assert.eq: "<redacted>" != `) || !strings.Contains(out, "sent <redacted>") {
		t.Errorf("report:\n%s", out)
	}
}
