package starfmt

import (
	"flag"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.starlark.net/syntax"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestGolden formats the corpus files buildifier's parser cannot read (vicish's
// dialect) and compares with the layout written down in their .golden files.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.golden")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.golden")
	}
	for _, golden := range files {
		path := strings.TrimSuffix(golden, ".golden") + ".star"
		got := format(t, path, read(t, path))
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if want := read(t, golden); string(got) != string(want) {
			t.Errorf("%s:\n%s", path, lineDiff(string(want), string(got)))
		}
	}
}

// TestIdempotent formats every file twice: the second pass changes nothing.
func TestIdempotent(t *testing.T) {
	for _, path := range corpus(t) {
		once := format(t, path, read(t, path))
		if twice := format(t, path, once); string(twice) != string(once) {
			t.Errorf("%s: formatting the formatted file changes it:\n%s", path, lineDiff(string(once), string(twice)))
		}
	}
}

// TestSameProgram parses every file before and after formatting: the
// syntax trees are the same, positions and the spelling of literals
// aside, and every comment is still there, in the same order.
func TestSameProgram(t *testing.T) {
	for _, path := range corpus(t) {
		src := read(t, path)
		out := format(t, path, src)
		if a, b := tree(t, path, src), tree(t, path, out); a != b {
			t.Errorf("%s: the syntax tree changed:\n%s", path, lineDiff(a, b))
		}
		if a, b := commentTexts(path, src), commentTexts(path, out); !reflect.DeepEqual(a, b) {
			t.Errorf("%s: comments before %q, after %q", path, a, b)
		}
	}
}

// TestRepositoryFormatted is the check CI runs: every .star file of the
// repository outside testdata/ is laid out as vicish fmt lays it out.
func TestRepositoryFormatted(t *testing.T) {
	files := repositoryFiles(t)
	if len(files) < 10 {
		t.Fatalf("found only %d .star files in the repository: %q", len(files), files)
	}
	for _, path := range files {
		if src := read(t, path); string(format(t, path, src)) != string(src) {
			t.Errorf("%s is not formatted: run vicish fmt -w %s", path, strings.TrimPrefix(path, "../../"))
		}
	}
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`"a"`, `"a"`},
		{`'a'`, `"a"`},
		{`'it\'s'`, `"it's"`},
		{`'say "hi"'`, `'say "hi"'`},
		{`'\x41\n\t'`, `"\x41\n\t"`},
		{`'\\'`, `"\\"`},
		{`'''two\nlines'''`, `"""two\nlines"""`},
		{`r'\d+'`, `r"\d+"`},
		{`r'\''`, `r"\'"`},
		{`b'\x00'`, `b"\x00"`},
		{`rb'a'`, `rb"a"`},
		{`'caf` + "\u00e9" + `'`, `"caf` + "\u00e9" + `"`},
		{`0x1F`, `0x1F`},
		{`1.50`, `1.50`},
	} {
		got, err := Format("x.star", []byte("x = "+tc.in+"\n"))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if want := "x = " + tc.want + "\n"; string(got) != want {
			t.Errorf("%s: got %q, want %q", tc.in, got, want)
		}
	}
}

func TestEmpty(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"\n\n":              "",
		"# only\n\n\n# two": "# only\n\n# two\n",
		"pass":              "pass\n",
		"\n\nx = 1\n\n\n":   "x = 1\n",
	} {
		got, err := Format("x.star", []byte(in))
		if err != nil || string(got) != want {
			t.Errorf("Format(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := Format("bad.star", []byte("x = [1,\ny = 2\n"))
	var serr syntax.Error
	if !errorsAs(err, &serr) || serr.Pos.Filename() != "bad.star" || serr.Pos.Line != 2 {
		t.Fatalf("Format of a broken file: %v, want a syntax.Error at bad.star:2", err)
	}
}

func errorsAs(err error, target *syntax.Error) bool {
	e, ok := err.(syntax.Error)
	if ok {
		*target = e
	}
	return ok
}

// tree writes a file's syntax tree without positions, the raw text of
// literals (their values stay) and what the resolver would add.
func tree(t *testing.T, path string, src []byte) string {
	t.Helper()
	f, err := options.Parse(path, src, 0)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var b strings.Builder
	dump(&b, reflect.ValueOf(f.Stmts), 0)
	return b.String()
}

var positionType = reflect.TypeOf(syntax.Position{})

func dump(b *strings.Builder, v reflect.Value, depth int) {
	indent := "\n" + strings.Repeat("  ", depth)
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		if n, ok := v.Interface().(*big.Int); ok {
			b.WriteString(n.String())
			return
		}
		dump(b, v.Elem(), depth)
	case reflect.Struct:
		b.WriteString(v.Type().Name() + " {")
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Type == positionType || f.Name == "Raw" || f.Name == "Binding" || f.Name == "Function" {
				continue
			}
			b.WriteString(indent + "  " + f.Name + ": ")
			dump(b, v.Field(i), depth+1)
		}
		b.WriteString(indent + "}")
	case reflect.Slice:
		b.WriteString("[")
		for i := range v.Len() {
			b.WriteString(indent + "  ")
			dump(b, v.Index(i), depth+1)
		}
		b.WriteString(indent + "]")
	default:
		fmt.Fprintf(b, "%#v", v.Interface())
	}
}

func commentTexts(path string, src []byte) []string {
	var texts []string
	for _, c := range scanComments(path, src) {
		texts = append(texts, c.text)
	}
	return texts
}

func format(t *testing.T, path string, src []byte) []byte {
	t.Helper()
	out, err := Format(path, src)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// corpus is every file the tests format: the test cases and the
// repository's own scripts.
func corpus(t *testing.T) []string {
	files, err := filepath.Glob("testdata/*.star")
	if err != nil {
		t.Fatal(err)
	}
	return append(files, repositoryFiles(t)...)
}

// repositoryFiles returns the .star files of the repository outside
// testdata directories (whose fixtures may hold deliberate mistakes).
func repositoryFiles(t *testing.T) []string {
	root := filepath.Join("..", "..")
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".star") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// lineDiff lists the lines where want and got differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, a, c)
		}
	}
	return b.String()
}
