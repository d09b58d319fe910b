package scripts_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/internal/startest"
)

// The runbooks' own tests are Starlark (*_test.star, run by vicish test):
// hermetic ones against fake daemons, lab ones against real daemons.
// These Go tests run them as CI does.

// summary is the closing line of vicish test.
var summary = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\n\z`)

// counts returns passed, failed and skipped from vicish test's report.
func counts(t *testing.T, out string) (passed, failed, skipped int) {
	t.Helper()
	m := summary.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no closing line in vicish test's report:\n%s", out)
	}
	passed, _ = strconv.Atoi(m[1])
	failed, _ = strconv.Atoi(m[2])
	skipped, _ = strconv.Atoi(m[3])
	return passed, failed, skipped
}

// publicCopy copies the runbooks and their tests into a directory anyone
// may read, with vicish beside them, so that another user can run them.
func publicCopy(t *testing.T) (dir, bin string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "vicish-runbooks-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, "scripts", path), 0o755)
		}
		if !strings.HasSuffix(path, ".star") && !strings.HasSuffix(path, ".jsonl") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "scripts", path), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, "vicish")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/vicish").CombinedOutput(); err != nil {
		t.Fatalf("go build ../cmd/vicish: %v\n%s", err, out)
	}
	return dir, bin
}

// TestRunbookTestsHermetic runs the hermetic tier (vicish test -short) as
// an unprivileged user, nobody, as an operator's CI without root would:
// every test passes; only the lab tests are skipped.
func TestRunbookTestsHermetic(t *testing.T) {
	if os.Getuid() != 0 {
		labtest.SkipOffCI(t, "switching to user nobody needs root")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux) runs the tests as nobody: %v", err)
	}
	dir, bin := publicCopy(t)
	cmd := exec.CommandContext(testContext(t), setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", bin, "test", "-short", "-v", "scripts")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent", "TMPDIR=/tmp"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("vicish test -short -v scripts, as nobody:\n%s", out.String())
	if err != nil {
		t.Fatalf("vicish test as nobody: %v", err)
	}
	passed, failed, skipped := counts(t, out.String())
	labTests := strings.Count(out.String(), "): a lab test (vicish test -short)\n")
	if failed != 0 || passed < 30 || skipped != labTests || labTests < 6 {
		t.Errorf("%d passed, %d failed, %d skipped (%d of them lab tests); want every hermetic test to pass", passed, failed, skipped, labTests)
	}
}

// TestRunbookTestsLab runs every test of the runbooks as root: the lab
// tier against real daemons (the system's, or with VICISH_LAB_DAEMON=newest
// the newest), none skipped.
func TestRunbookTestsLab(t *testing.T) {
	if err := lab.Check(); err != nil {
		labtest.SkipOffCI(t, "lab: "+err.Error())
	}
	d, err := lab.DaemonFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if d == lab.NewestDaemon {
		ctx, cancel := context.WithCancel(testContext(t))
		defer cancel()
		if _, err := lab.EnsureNewestRoot(ctx, os.Stderr); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	res := startest.Run(testContext(t), startest.Options{Files: starTests(t), Verbose: true, Out: &out})
	t.Logf("vicish test -v scripts:\n%s", out.String())
	if res.Failed != 0 || res.Skipped != 0 || res.Passed < 36 {
		t.Errorf("%+v; want every test to pass, none skipped", res)
	}
}

// BenchmarkRunbookTestsHermetic measures the hermetic tier of the
// runbooks' tests, all of them once per iteration.
func BenchmarkRunbookTestsHermetic(b *testing.B) {
	files, err := filepath.Glob("*_test.star")
	if err != nil {
		b.Fatal(err)
	}
	hooks, _ := filepath.Glob("hooks/*_test.star")
	files = append(files, hooks...)
	for b.Loop() {
		var out bytes.Buffer
		if res := startest.Run(context.Background(), startest.Options{Files: files, Short: true, Out: &out}); res.Failed != 0 {
			b.Fatalf("%+v\n%s", res, out.String())
		}
	}
}

// starTests returns the runbooks' test files.
func starTests(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*_test.star")
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := filepath.Glob("hooks/*_test.star")
	if err != nil {
		t.Fatal(err)
	}
	return append(files, hooks...)
}
