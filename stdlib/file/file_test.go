package file_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/stdlib/file"
)

// run executes src with a file module and returns the global "r".
func run(t *testing.T, allowWrite bool, src string) (starlark.Value, error) {
	t.Helper()
	thread := &starlark.Thread{Name: "test"}
	g, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "t.star", src, starlark.StringDict{"file": file.NewModule(gate(allowWrite))})
	if err != nil {
		return nil, err
	}
	return g["r"], nil
}

func TestReadWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.prom")
	r, err := run(t, true, `file.write(`+starlark.String(p).String()+`, "a 1\n")
r = file.read(`+starlark.String(p).String()+`)`)
	if err != nil || r != starlark.String("a 1\n") {
		t.Fatalf("write then read: %v %v", r, err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("new file mode: %v %v", st.Mode(), err)
	}
	// A replaced file keeps its mode; bytes are written as they are.
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, true, `file.write(`+starlark.String(p).String()+`, b"\x00\xff")`); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	st, _ = os.Stat(p)
	if string(got) != "\x00\xff" || st.Mode().Perm() != 0o600 {
		t.Errorf("replaced file: %q mode %v", got, st.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	// default= stands in for a file that does not exist, and only then.
	missing := starlark.String(filepath.Join(dir, "state.json")).String()
	for src, want := range map[string]starlark.Value{
		`r = file.read(` + missing + `, default="{}")`:                  starlark.String("{}"),
		`r = file.read(` + missing + `, default=None)`:                  starlark.None,
		`r = file.read(` + starlark.String(p).String() + `, default=1)`: starlark.String("\x00\xff"),
	} {
		if r, err := run(t, false, src); err != nil || r != want {
			t.Errorf("%s: %v %v, want %v", src, r, err, want)
		}
	}
	if _, err := run(t, false, `file.read(`+starlark.String(dir).String()+`, default="")`); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("default= hid that a directory is not a file: %v", err)
	}
}

func TestWriteDisabled(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x")
	_, err := run(t, false, `file.write(`+starlark.String(p).String()+`, "x")`)
	if !errors.Is(err, capability.ErrDenied) || !strings.Contains(err.Error(), "file.write replaces files, which needs the write capability") {
		t.Errorf("write without permission: %v", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("disabled write created the file: %v", err)
	}
	// Reading needs no permission.
	if err := os.WriteFile(p, []byte("inventory"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, err := run(t, false, `r = file.read(`+starlark.String(p).String()+`)`); err != nil || r != starlark.String("inventory") {
		t.Errorf("read: %v %v", r, err)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	q := func(s string) string { return starlark.String(s).String() }
	cases := []struct{ src, want string }{
		{`file.read()`, "missing argument for path"},
		{`file.read(1)`, "got int, want string"},
		{`file.read(` + q(filepath.Join(dir, "missing")) + `)`, "no such file"},
		{`file.read(` + q(dir) + `)`, "not a regular file"},
		{`file.write(` + q(filepath.Join(dir, "x")) + `)`, "missing argument for data"},
		{`file.write(` + q(filepath.Join(dir, "x")) + `, 1)`, "data must be str or bytes, got int"},
		{`file.write(` + q(dir) + `, "x")`, "not a regular file"},
		{`file.write(` + q(filepath.Join(dir, "no", "such", "x")) + `, "x")`, "write " + filepath.Join(dir, "no", "such", "x") + ": cannot create a file in " + filepath.Join(dir, "no", "such") + "/: no such file or directory"},
		{`file.write("", "x")`, "empty file name"},
	}
	for _, tc := range cases {
		_, err := run(t, true, tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.src, err, tc.want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("files left after failed writes: %v", entries)
	}
}

// gate grants capability.Write when allowed.
func gate(allowed bool) *capability.Gate {
	if allowed {
		return capability.NewGate(nil, capability.Write)
	}
	return capability.NewGate(nil)
}
