package starcheck_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicish/vicish/internal/starcheck"
)

func checker(t *testing.T) *starcheck.Checker {
	t.Helper()
	c, err := starcheck.New()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func findings(c *starcheck.Checker, name, src string) string {
	var lines []string
	for _, f := range c.Check(name, []byte(src)) {
		lines = append(lines, f.String())
	}
	return strings.Join(lines, "\n")
}

// TestDoneWhen is the example: a misspelt keyword, an undefined
// name and a misspelt event, each at its line; a clean script has none.
func TestDoneWhen(t *testing.T) {
	c := checker(t)
	got := findings(c, "runbook.star", `vici.initiate(chlid = "net")
print(nowhere)
vici.on("ike-updwn", lambda name, data: None)
`)
	want := `runbook.star:1:15: vici.initiate has no keyword chlid (did you mean child?)
runbook.star:2:7: undefined: nowhere
runbook.star:3:9: vici.on: the daemon raises no event "ike-updwn" (did you mean "ike-updown"?)`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := findings(c, "clean.star", "vici.initiate(child = \"net\", ike = \"ab\", timeout = 5)\nvici.on(\"ike-updown\", lambda name, data: None)\n"); got != "" {
		t.Errorf("a clean script: %s", got)
	}
}

// TestFindings checks testdata/bad.star against the findings written down
// in testdata/bad.golden.
func TestFindings(t *testing.T) {
	src, err := os.ReadFile("testdata/bad.star")
	if err != nil {
		t.Fatal(err)
	}
	got := findings(checker(t), "testdata/bad.star", string(src)) + "\n"
	want, err := os.ReadFile("testdata/bad.golden")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestSyntaxError(t *testing.T) {
	got := checker(t).Check("x.star", []byte("def f(:\n"))
	if len(got) != 1 || got[0].Info || got[0].Pos.Line != 1 || !strings.Contains(got[0].Msg, "got ':'") {
		t.Errorf("a syntax error: %v", got)
	}
}

// TestTestFiles: a *_test.star file has vicish test's globals and may
// write files; another file has neither.
func TestTestFiles(t *testing.T) {
	c := checker(t)
	src := "def test_x():\n    assert.eq(run(\"a.star\", [\"x\"]).code, 0)\n    fake.daemon().reply(\"initiate\", {})\n    file.write(tempdir() + \"/f\", \"x\")\n"
	if got := findings(c, "x_test.star", src); got != "" {
		t.Errorf("a test file: %s", got)
	}
	got := findings(c, "x.star", src)
	for _, want := range []string{"undefined: assert", "undefined: run", "undefined: fake", "info: file.write needs --allow-write"} {
		if !strings.Contains(got, want) {
			t.Errorf("not a test file: no %q in\n%s", want, got)
		}
	}
}

// TestRepositoryChecked is the check CI runs: every .star file of the
// repository outside testdata/ is check-clean (information aside).
func TestRepositoryChecked(t *testing.T) {
	c := checker(t)
	root := filepath.Join("..", "..")
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".star") {
			return nil
		}
		n++
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, f := range c.Check(path, src) {
			if !f.Info {
				t.Errorf("%s", f)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 15 {
		t.Errorf("checked only %d files", n)
	}
}
