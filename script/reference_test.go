package script

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsReference keeps docs/reference.md's generated part equal to what
// the registry renders: the globals, the vici module's command table and
// every other module's builtins (regenerate with UPDATE_DOCS=1).
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
	rt := New(Options{URI: "unix://" + filepath.Join(t.TempDir(), "absent.vici"), Getenv: func(string) string { return "" }})
	defer rt.Close()
	want := text[:i+len(begin)] + strings.TrimSpace(rt.reference()) + "\n" + text[j:]
	if os.Getenv("UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if text != want {
		t.Errorf("%s is out of date with the registry; run UPDATE_DOCS=1 go test -run TestDocsReference ./script", path)
	}
}
