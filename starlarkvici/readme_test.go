package starlarkvici

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeReference keeps the README text's command reference equal to
// what the command table generates (regenerate with UPDATE_README=1).
func TestReadmeReference(t *testing.T) {
	const path = "README-section.md"
	const marker = "### Reference\n\n"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, marker)
	if i < 0 {
		t.Fatalf("%s has no %q heading", path, strings.TrimSpace(marker))
	}
	want := text[:i+len(marker)] + Reference()
	if os.Getenv("UPDATE_README") == "1" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if text != want {
		t.Errorf("%s is out of date with the command table; run UPDATE_README=1 go test -run TestReadmeReference ./starlarkvici", path)
	}
}
