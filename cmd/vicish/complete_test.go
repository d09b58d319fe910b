package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicish/vicish/capability"
)

// complete runs `vicish __complete WORDS...` and returns its lines.
func complete(t *testing.T, words ...string) []string {
	t.Helper()
	r := runVicish("", append([]string{completeCommand}, words...)...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("__complete %q: exit %d, stderr %q", words, r.code, r.stderr)
	}
	return strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
}

func TestComplete(t *testing.T) {
	for _, tc := range []struct {
		words []string
		want  string // the kind line, then the words
	}{
		{[]string{"--al"}, "none --allow-exec --allow-listen --allow-net --allow-write"},
		{[]string{"--v"}, "none --version"},
		{[]string{"-"}, "none --allow-exec --allow-listen --allow-net --allow-write -c --deadline -e -h --help --json --log-json --max-event-queue --max-listing --record --uri --version"},
		{[]string{"--max-listing", ""}, "none"},
		{[]string{""}, "files .star lab fmt test check"},
		{[]string{"la"}, "files .star lab"},
		{[]string{"--allow-net", ""}, "files .star lab fmt test check"},
		{[]string{"fmt", "-"}, "none -l -d -w -h"},
		{[]string{"te"}, "files .star test"},
		{[]string{"test", "-"}, "none -run -v -short -timeout -h"},
		{[]string{"test", "-v", "scr"}, "files .star"},
		{[]string{"check", "-"}, "none --json -h"},
		{[]string{"fmt", "-l", "scr"}, "files .star"},
		{[]string{"--uri", ""}, "files"},
		{[]string{"--record", ""}, "files"},
		{[]string{"--uri=unix:///x", "--d"}, "none --deadline"},
		{[]string{"--deadline", ""}, "none"},
		{[]string{"-c", ""}, "none"},
		{[]string{"-c", "print(1)", ""}, "files"},
		{[]string{"-e", "1", "--al"}, "files"},
		{[]string{"run.star", "--al"}, "files"},
		{[]string{"--", ""}, "files .star"},
		{[]string{"--", "run.star", ""}, "files"},
		{[]string{"lab", ""}, "none down help kill restart root status swanctl up"},
		{[]string{"lab", "re"}, "none restart"},
		{[]string{"lab", "up", "--d"}, "none --daemon --dir"},
		{[]string{"lab", "up", "--dir", ""}, "dirs"},
		{[]string{"lab", "up", "--topology", ""}, "none"},
		{[]string{"lab", "root", "-"}, "none --rebuild"},
		{[]string{"lab", "kill", "a", "--"}, "none --dir --id"},
		{[]string{"lab", "bogus", "-"}, "none"},
		{[]string{completeCommand}, "files .star"},
	} {
		got := complete(t, tc.words...)
		if gotText := strings.Join(got, " "); gotText != tc.want {
			t.Errorf("__complete %q = %q, want %q", tc.words, gotText, tc.want)
		}
	}
}

// TestHelpNamesEveryFlag: the help (and so the manual page and the flags
// the completion offers) and the flags vicish parses are the same set.
func TestHelpNamesEveryFlag(t *testing.T) {
	var opts options
	var v, h bool
	fs := newFlagSet(&opts, map[capability.Capability]bool{}, &v, &h)
	help := usage()
	explained := map[string]bool{}
	section := ""
	for _, line := range strings.Split(help, "\n") {
		if line != "" && !strings.HasPrefix(line, " ") {
			section = line
		}
		if strings.HasPrefix(section, "Commands") { // their flags are theirs
			continue
		}
		if !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "   ") {
			continue // not an entry's first line
		}
		term, _, _ := strings.Cut(line[2:], "  ") // the term, before its description
		for _, w := range strings.Fields(strings.NewReplacer(",", " ", "[", " ", "]", " ").Replace(term)) {
			if strings.HasPrefix(w, "-") && strings.Trim(w, "-") != "" {
				explained[w] = true
			}
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		typed := "--" + f.Name
		if len(f.Name) == 1 {
			typed = "-" + f.Name
		}
		if !explained[typed] {
			t.Errorf("vicish -h does not explain %s", typed)
		}
		delete(explained, typed)
	})
	for w := range explained {
		t.Errorf("vicish -h explains %s, which vicish does not parse", w)
	}
}

// TestLabHelpFlags: every flag the help shows for a lab command (which the
// completion offers) is one that command parses, and every command it
// shows exists. A flag is tried with a value it refuses, so nothing runs.
func TestLabHelpFlags(t *testing.T) {
	syntax := labSyntax()
	if len(syntax) < 8 {
		t.Fatalf("labSyntax found %d commands in the help: %v", len(syntax), syntax)
	}
	for name, flags := range syntax {
		r := runVicish("", "lab", name, "--no-such-flag")
		if strings.Contains(r.stderr, "unknown command") {
			t.Errorf("lab help shows %q, which is not a command: %s", name, r.stderr)
		}
		for f, takesValue := range flags {
			args := []string{"lab", name}
			if name == "kill" || name == "restart" || name == "swanctl" {
				args = append(args, "nogw")
			}
			if takesValue {
				args = append(args, f) // and no value
			} else {
				args = append(args, f+"=notabool")
			}
			r := runVicish("", args...)
			if r.code != 2 || strings.Contains(r.stderr, "unknown flag") || strings.Contains(r.stderr, "not defined") {
				t.Errorf("vicish %q (the help shows %s): exit %d, %s", args, f, r.code, r.stderr)
			}
		}
	}
}

// TestCommandsHelp: every visible command is in the help, its summary
// wrapped under 80 columns; the hidden one is not.
func TestCommandsHelp(t *testing.T) {
	help := usage()
	for _, c := range commands() {
		has := strings.Contains(help, "\n  "+c.name+" ")
		if has == c.hidden {
			t.Errorf("command %s: in the help = %v, hidden = %v", c.name, has, c.hidden)
		}
	}
	for _, line := range strings.Split(help, "\n") {
		if len(line) > 80 {
			t.Errorf("help line over 80 columns: %q", line)
		}
	}
	for _, line := range strings.Split(labUsage, "\n") {
		if len(line) > 90 {
			t.Errorf("lab help line over 90 columns: %q", line)
		}
	}
}

// TestCommandWinsOverFile: a file named like a command is not run; ./NAME
// runs it.
func TestCommandWinsOverFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "lab"), []byte(`print("the file")`), 0o644); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	if r := runVicish("", "lab", "help"); r.code != 0 || !strings.Contains(r.stdout, "vicish lab up") {
		t.Errorf("vicish lab help: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runVicish("", "./lab"); r.code != 0 || r.stdout != "the file\n" {
		t.Errorf("vicish ./lab: %d %q %q", r.code, r.stdout, r.stderr)
	}
}
