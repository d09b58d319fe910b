package starfmt

import (
	"os"
	"testing"

	"github.com/bazelbuild/buildtools/build"
)

// TestBuildifier formats every file of the corpus that buildifier's own
// parser accepts and expects buildifier's layout (its Format without the
// rewriting). buildtools is a test-only dependency: its parser does not
// read vicish's dialect (while, b"..."), so it cannot be the formatter.
func TestBuildifier(t *testing.T) {
	checked := 0
	for _, path := range corpus(t) {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := build.ParseDefault(path, src)
		if err != nil {
			t.Logf("%s: buildifier's parser does not accept it: %v", path, err)
			continue
		}
		checked++
		want := build.FormatWithoutRewriting(f)
		got, err := Format(path, src)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("%s: differs from buildifier:\n%s", path, lineDiff(string(want), string(got)))
		}
	}
	if checked < 10 {
		t.Errorf("only %d files compared with buildifier", checked)
	}
}
