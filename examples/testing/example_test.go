// Package example_test keeps the worked example of docs/testing.md true:
// the page shows the files of this directory as they are, and their tests
// pass (the lab test too, as root).
package example_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/startest"
)

// TestPageShowsTheFiles finds each file of the example on the page, whole,
// in a code block whose first line names it.
func TestPageShowsTheFiles(t *testing.T) {
	page, err := os.ReadFile("../../docs/testing.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"move.star", "move_test.star"} {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(page, []byte("```python\n"+string(src)+"```\n")) {
			t.Errorf("docs/testing.md does not show %s as it is", name)
		}
	}
}

// TestExample runs the example's tests: the hermetic ones always, the lab
// one where a lab can start (root; on CI it must).
func TestExample(t *testing.T) {
	short := false
	if err := lab.Check(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("lab: %v", err)
		}
		t.Logf("lab: %v: the lab test is skipped", err)
		short = true
	}
	var out bytes.Buffer
	res := startest.Run(context.Background(), startest.Options{Files: []string{"move_test.star"}, Short: short, Verbose: true, Out: &out})
	t.Log(out.String())
	if res.Failed != 0 || res.Passed+res.Skipped != 3 || !short && res.Skipped != 0 {
		t.Errorf("%+v:\n%s", res, out.String())
	}
	if !strings.HasSuffix(out.String(), "failed\n") && !strings.HasSuffix(out.String(), "skipped\n") {
		t.Errorf("no closing line:\n%s", out.String())
	}
}
