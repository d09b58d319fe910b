package starlarkvici

import (
	"os"
	"strings"
	"testing"
)

// TestDocsReference keeps docs/reference.md's command reference equal to
// what the command table generates (regenerate with UPDATE_DOCS=1).
func TestDocsReference(t *testing.T) {
	const path = "../docs/reference.md"
	const begin, end = "<!-- reference:begin -->\n", "<!-- reference:end -->"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q ... %q block", path, strings.TrimSpace(begin), end)
	}
	want := text[:i+len(begin)] + strings.TrimSpace(Reference()) + "\n" + text[j:]
	if os.Getenv("UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if text != want {
		t.Errorf("%s is out of date with the command table; run UPDATE_DOCS=1 go test -run TestDocsReference ./starlarkvici", path)
	}
}
