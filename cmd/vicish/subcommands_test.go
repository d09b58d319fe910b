package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
)

const (
	badLayout  = "x=f(a,\n  b)\ndef g():\n  return {'k':1}\n"
	goodLayout = "x = f(\n    a,\n    b,\n)\n\ndef g():\n    return {\"k\": 1}\n"
)

// fmtDir makes a directory with a badly and a well laid out file, one in
// testdata/ (skipped when walking) and a file that does not parse.
func fmtDir(t *testing.T) string {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"bad.star":          badLayout,
		"lib/good.star":     goodLayout,
		"testdata/bad.star": badLayout,
		"notes.txt":         badLayout,
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFmtList(t *testing.T) {
	dir := fmtDir(t)
	r := runVicish("", "fmt", "-l", dir)
	if want := filepath.Join(dir, "bad.star") + "\n"; r.code != 1 || r.stdout != want || r.stderr != "" {
		t.Fatalf("fmt -l DIR: %+v; want exit 1 listing only %q", r, want)
	}
	if r := runVicish("", "fmt", "-l", filepath.Join(dir, "lib")); r.code != 0 || r.stdout != "" {
		t.Fatalf("fmt -l on formatted files: %+v; want exit 0, nothing listed", r)
	}
	// A file named is formatted even in testdata/.
	if r := runVicish("", "fmt", "-l", filepath.Join(dir, "testdata", "bad.star")); r.code != 1 {
		t.Fatalf("fmt -l testdata/bad.star: %+v; want it listed", r)
	}
	// A file reached by several paths is listed once.
	bad := filepath.Join(dir, "bad.star")
	if r := runVicish("", "fmt", "-l", bad, dir, dir+"/./bad.star"); r.code != 1 || r.stdout != bad+"\n" {
		t.Fatalf("fmt -l FILE DIR FILE: %+v; want %q once", r, bad)
	}
}

func TestFmtPrintAndDiff(t *testing.T) {
	dir := fmtDir(t)
	bad := filepath.Join(dir, "bad.star")
	if r := runVicish("", "fmt", bad); r.code != 0 || r.stdout != goodLayout {
		t.Fatalf("fmt FILE: %+v; want the formatted file on stdout", r)
	}
	if r := runVicish(badLayout, "fmt"); r.code != 0 || r.stdout != goodLayout {
		t.Fatalf("fmt < FILE: %+v; want the formatted program", r)
	}
	r := runVicish("", "fmt", "-d", bad)
	for _, want := range []string{"--- " + bad + " (now)\n", "+++ " + bad + " (formatted)\n", "-x=f(a,\n", "+x = f(\n", "+    a,\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("fmt -d: no %q in\n%s", want, r.stdout)
		}
	}
	if r.code != 1 {
		t.Errorf("fmt -d with a difference: exit %d, want 1", r.code)
	}
	if got, _ := os.ReadFile(bad); string(got) != badLayout {
		t.Errorf("fmt -d changed the file")
	}
}

func TestFmtWrite(t *testing.T) {
	dir := fmtDir(t)
	bad := filepath.Join(dir, "bad.star")
	link := filepath.Join(dir, "link.star")
	if err := os.Symlink("bad.star", link); err != nil {
		t.Fatal(err)
	}
	if r := runVicish("", "fmt", "-w", link); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("fmt -w: %+v", r)
	}
	got, _ := os.ReadFile(bad)
	if string(got) != goodLayout {
		t.Fatalf("after fmt -w: %q, want %q", got, goodLayout)
	}
	if st, _ := os.Lstat(link); st.Mode()&os.ModeSymlink == 0 {
		t.Error("fmt -w replaced the symbolic link instead of the file it names")
	}
	if st, _ := os.Stat(bad); st.Mode().Perm() != 0o640 {
		t.Errorf("fmt -w changed the mode to %v", st.Mode().Perm())
	}
	if r := runVicish("", "fmt", "-w", dir); r.code != 0 {
		t.Fatalf("fmt -w again: %+v", r)
	}
	if again, _ := os.ReadFile(bad); string(again) != string(got) {
		t.Error("fmt -w twice gives other bytes")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "vicish-fmt") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestFmtErrors(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.star")
	os.WriteFile(broken, []byte("x = [1,\ny = 2\n"), 0o644)
	r := runVicish("", "fmt", "-w", broken)
	if r.code != 1 || !strings.HasPrefix(r.stderr, broken+":2:") {
		t.Errorf("fmt on a syntax error: %+v; want exit 1 and %s:2:COL: ...", r, broken)
	}
	if got, _ := os.ReadFile(broken); string(got) != "x = [1,\ny = 2\n" {
		t.Error("fmt -w changed a file that does not parse")
	}
	for _, args := range [][]string{
		{"fmt", "-l", "-w", broken},
		{"fmt", "-x"},
		{"fmt", "-w"},
		{"fmt", filepath.Join(dir, "missing.star")},
	} {
		if r := runVicish("", args...); r.code != 2 || r.stderr == "" {
			t.Errorf("vicish %q: %+v; want a usage error (exit 2)", args, r)
		}
	}
	if r := runVicish("", "fmt", "-h"); r.code != 0 || !strings.Contains(r.stdout, "usage: vicish fmt") {
		t.Errorf("fmt -h: %+v", r)
	}
}

// TestSubcommandWinsOverFile runs vicish fmt in a directory holding a
// script named fmt: the subcommand runs; ./fmt runs the script.
func TestSubcommandWinsOverFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fmt"), []byte("print('the script')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := vicishCmd(t, nil, "fmt")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader("x=1\n")
	out, err := cmd.Output()
	if err != nil || string(out) != "x = 1\n" {
		t.Errorf("vicish fmt beside a file named fmt: %q, %v; want the formatter", out, err)
	}
	cmd = vicishCmd(t, nil, "./fmt")
	cmd.Dir = dir
	out, err = cmd.Output()
	if err != nil || string(out) != "the script\n" {
		t.Errorf("vicish ./fmt: %q, %v; want the script to run", out, err)
	}
}

func TestTestCommand(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "one_test.star"), []byte("def test_passes():\n    assert.eq(1, 1)\n\ndef test_fails():\n    assert.eq([1], [2])\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "testdata"), 0o755)
	os.WriteFile(filepath.Join(dir, "testdata", "x_test.star"), []byte("def test_x():\n    fail('not run')\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "runbook.star"), []byte("print('runs')\n"), 0o644)
	r := runVicish("", "test", dir)
	want := filepath.Join(dir, "one_test.star") + ":5:14: test_fails: assert.eq: [1] != [2]\n1 passed, 1 failed\n"
	if r.code != 1 || r.stdout != want {
		t.Errorf("vicish test DIR: %+v; want exit 1 and\n%s", r, want)
	}
	if r := runVicish("", "test", "-run", "passes$", dir); r.code != 0 || r.stdout != "1 passed, 0 failed\n" {
		t.Errorf("vicish test -run passes$: %+v", r)
	}
	for _, args := range [][]string{
		{"test", "-run", "(", dir},
		{"test", "-timeout", "0", dir},
		{"test", "-bogus"},
		{"test", filepath.Join(dir, "missing")},
		{"test", filepath.Join(dir, "testdata", "..", "one_test.star"), filepath.Join(dir, "runbook.star")}, // a runbook, not its tests
	} {
		if r := runVicish("", args...); r.code != 2 || r.stderr == "" {
			t.Errorf("vicish %q: %+v; want a usage error (exit 2)", args, r)
		}
	}
	if r := runVicish("", "test", "-h"); r.code != 0 || !strings.Contains(r.stdout, "usage: vicish test") {
		t.Errorf("test -h: %+v", r)
	}
}

// TestRecordFlag records a one-liner's exchange with a real daemon
// (--record FILE) and refuses a file it cannot write.
func TestRecordFlag(t *testing.T) {
	dir := t.TempDir()
	if r := runVicish("", "--record", dir, "-c", "pass"); r.code != 2 || !strings.Contains(r.stderr, "--record") {
		t.Errorf("--record DIR: %+v; want a usage error", r)
	}
	l := labtest.Start(t, lab.OneGateway)
	path := filepath.Join(dir, "rec.jsonl")
	if r := runVicish("", "--uri", l.Gateway("a").URI, "--record", path, "-c", "vici.version()"); r.code != 0 {
		t.Fatalf("--record: %+v", r)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), `"command":"version","request":{},"reply":{"daemon":"charon","version":"`+l.Gateway("a").Version()+`"`) {
		t.Errorf("recording %q, %v", b, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("the recording's mode is %v, want 0600 (it may hold what a daemon says)", st.Mode().Perm())
	}
}

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.star")
	os.WriteFile(bad, []byte("vici.initiate(chlid = \"net\")\nprint(nowhere)\nvici.on(\"ike-updwn\", lambda name, data: None)\nexec.run([\"true\"])\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "clean.star"), []byte("exec.run([\"true\"])\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "testdata"), 0o755)
	os.WriteFile(filepath.Join(dir, "testdata", "broken.star"), []byte("def (\n"), 0o644)
	r := runVicish("", "check", dir)
	want := bad + ":1:15: vici.initiate has no keyword chlid (did you mean child?)\n" +
		bad + ":2:7: undefined: nowhere\n" +
		bad + ":3:9: vici.on: the daemon raises no event \"ike-updwn\" (did you mean \"ike-updown\"?)\n" +
		bad + ":4:9: info: exec.run needs --allow-exec\n" +
		filepath.Join(dir, "clean.star") + ":1:9: info: exec.run needs --allow-exec\n"
	if r.code != 1 || r.stdout != want {
		t.Errorf("vicish check DIR: %+v\nwant exit 1 and\n%s", r, want)
	}
	if r := runVicish("", "check", filepath.Join(dir, "clean.star")); r.code != 0 {
		t.Errorf("a clean file (information only): %+v, want exit 0", r)
	}
	r = runVicish("", "check", "--json", bad)
	if r.code != 1 || !strings.Contains(r.stdout, `"file": "`+bad+`",
    "line": 2,
    "col": 7,
    "severity": "error",
    "message": "undefined: nowhere"`) || !strings.Contains(r.stdout, `"severity": "info"`) {
		t.Errorf("check --json: %+v", r)
	}
	if r := runVicish("", "check", filepath.Join(dir, "testdata", "broken.star")); r.code != 1 || !strings.HasPrefix(r.stdout, filepath.Join(dir, "testdata", "broken.star")+":1:6: not an identifier") {
		t.Errorf("a syntax error: %+v, want a finding and exit 1", r)
	}
	for _, args := range [][]string{{"check"}, {"check", "-x", dir}, {"check", filepath.Join(dir, "missing.star")}} {
		if r := runVicish("", args...); r.code != 2 || r.stderr == "" {
			t.Errorf("vicish %q: %+v; want a usage error", args, r)
		}
	}
}
