// Package docs_test keeps every code snippet of README.md and docs/*.md
// runnable: Starlark blocks and REPL transcripts run in the vicish binary
// against a real lab, shell lines that call vicish run with that lab as
// the daemon, and Go blocks must appear in Go files of the repository that
// compile.
//
// A snippet that cannot run as written says why in an HTML comment on the
// line before its fence, and may set up what it needs:
//
//	<!-- snippet: skip="the host gw1.example.net does not exist" -->
//	<!-- snippet: lab=2; up=ab; flags=--allow-write; exit=1; stop=2 -->
//
// lab is the topology (1, 2, 3 or star; default 3, the failover lab), up
// names connections brought up first (child net), flags go before the
// program, exit is the expected exit code (default 0), stop=SECS runs a
// program that listens until stopped for that long, then sends SIGTERM and
// expects 143, and subst=FROM>TO,... replaces paths of the page with the
// lab's. In snippets, /tmp/vl stands for the lab's directory.
//
// In shell blocks, a line whose comment says "until stopped" is run as
// stop=2 runs a program, and a usage line ("[--flag]") is not run.
package docs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
)

// vicishBin is the vicish binary the snippets run, built by TestMain.
var vicishBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vicish-docs-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	vicishBin = filepath.Join(dir, "vicish")
	build := exec.Command("go", "build", "-o", vicishBin, "../cmd/vicish")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building vicish: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// snippet is one fenced code block of a page.
type snippet struct {
	file string // "docs/tour.md"
	line int    // of the opening fence
	lang string // "python", "sh", "go", "" ...
	body []string
	opts map[string]string // from <!-- snippet: ... -->
}

func (s snippet) String() string { return fmt.Sprintf("%s:%d", s.file, s.line) }

var (
	fenceRE   = regexp.MustCompile("^\\s*```(\\w*)\\s*$")
	commentRE = regexp.MustCompile(`^\s*<!--\s*snippet:\s*(.*?)\s*-->\s*$`)
	optionRE  = regexp.MustCompile(`^(\w+)(?:=(?:"([^"]*)"|(\S*)))?$`)
)

// pages returns README.md and every page under docs/.
func pages(t *testing.T) []string {
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"../README.md"}, files...)
}

// parse returns the fenced blocks of the file at path.
func parse(path string) ([]snippet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	name := strings.TrimPrefix(filepath.ToSlash(path), "../")
	if !strings.Contains(name, "/") && name != "README.md" {
		name = "docs/" + name
	}
	lines := strings.Split(string(data), "\n")
	var out []snippet
	for i := 0; i < len(lines); i++ {
		m := fenceRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		s := snippet{file: name, line: i + 1, lang: m[1], opts: map[string]string{}}
		if i > 0 {
			if c := commentRE.FindStringSubmatch(lines[i-1]); c != nil {
				for _, field := range splitOptions(c[1]) {
					field = strings.TrimSpace(field)
					if field == "" {
						continue
					}
					o := optionRE.FindStringSubmatch(field)
					if o == nil {
						return nil, fmt.Errorf("%s:%d: cannot read snippet option %q", name, i, field)
					}
					s.opts[o[1]] = o[2] + o[3]
				}
			}
		}
		indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
		j := i + 1
		for ; j < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[j]), "```"); j++ {
			l := lines[j]
			if len(l) >= indent && strings.TrimSpace(l[:indent]) == "" {
				l = l[indent:]
			}
			s.body = append(s.body, l)
		}
		if j == len(lines) {
			return nil, fmt.Errorf("%s:%d: the code block is not closed", name, i+1)
		}
		out = append(out, s)
		i = j
	}
	return out, nil
}

// splitOptions splits "a=1; b=\"x; y\"" at the semicolons outside quotes.
func splitOptions(text string) []string {
	var out []string
	quoted, start := false, 0
	for i, r := range text {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ';' && !quoted:
			out = append(out, text[start:i])
			start = i + 1
		}
	}
	return append(out, text[start:])
}

// kind says how a snippet is checked.
func kind(s snippet) string {
	if _, ok := s.opts["skip"]; ok {
		return "skip"
	}
	for _, l := range s.body {
		if strings.HasPrefix(l, "vici> ") {
			return "repl"
		}
	}
	switch s.lang {
	case "python":
		return "script"
	case "go":
		return "go"
	case "sh", "":
		for _, l := range s.body {
			if _, ok := shellCommand(l); ok {
				return "shell"
			}
		}
	}
	return "text"
}

// shellCommand returns the vicish command on a shell line, without a
// leading "$ " and trailing comment, when the line runs vicish (lab
// management and the REPL itself are not run: the test starts the lab).
func shellCommand(line string) (string, bool) {
	l := strings.TrimPrefix(strings.TrimSpace(line), "$ ")
	if !strings.HasPrefix(l, "vicish ") && !strings.Contains(l, "| vicish ") || strings.Contains(l, "[--") {
		return "", false
	}
	if i := strings.Index(l, "  #"); i >= 0 {
		l = strings.TrimSpace(l[:i])
	}
	fields := strings.Fields(l)
	if len(fields) < 2 || fields[1] == "lab" {
		return "", false
	}
	// A bare vicish (with flags only) starts the REPL.
	runs := false
	for _, f := range fields[1:] {
		if !strings.HasPrefix(f, "-") || f == "-e" || f == "-c" {
			runs = true
			break
		}
		if f == "--uri" || f == "--deadline" {
			runs = false
		}
	}
	if !runs {
		return "", false
	}
	return l, true
}

func TestDocSnippets(t *testing.T) {
	var all []snippet
	for _, p := range pages(t) {
		ss, err := parse(p)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ss...)
	}
	counts := map[string]int{}
	for _, s := range all {
		k := kind(s)
		counts[k]++
		switch k {
		case "skip":
			if strings.TrimSpace(s.opts["skip"]) == "" {
				t.Errorf("%s: a skipped snippet must say why (skip=\"...\")", s)
			}
		case "go":
			t.Run(s.String(), func(t *testing.T) { checkGo(t, s) })
		case "script", "repl", "shell":
			t.Run(s.String(), func(t *testing.T) { runSnippet(t, s, k) })
		}
	}
	t.Logf("snippets: %v", counts)
	if counts["script"]+counts["repl"]+counts["shell"] == 0 {
		t.Fatal("found no runnable snippet: is the parser broken?")
	}
}

// replProgram turns a REPL transcript into the program a user typed:
// the "vici> " and "... " lines, without their prompts. Completion
// illustrations (<TAB>) are not input.
func replProgram(body []string) string {
	var b strings.Builder
	for _, l := range body {
		var in string
		switch {
		case strings.HasPrefix(l, "vici> "):
			in = strings.TrimPrefix(l, "vici> ")
		case strings.HasPrefix(l, "... "), l == "...":
			in = strings.TrimPrefix(strings.TrimPrefix(l, "..."), " ")
		default:
			continue
		}
		if strings.Contains(in, "<TAB>") {
			continue
		}
		if i := strings.Index(in, "  # "); i >= 0 {
			in = in[:i]
		}
		b.WriteString(in + "\n")
	}
	return b.String()
}

// topology reads lab=.
func topology(t *testing.T, s snippet) lab.Config {
	switch s.opts["lab"] {
	case "1":
		return lab.Config{Topology: lab.OneGateway}
	case "2":
		return lab.Config{Topology: lab.TwoGateways}
	case "", "3":
		return lab.Config{Topology: lab.Failover}
	case "star":
		return lab.Config{Topology: lab.Star, Spokes: 3}
	}
	t.Fatalf("%s: unknown lab=%q (1, 2, 3 or star)", s, s.opts["lab"])
	return lab.Config{}
}

func runSnippet(t *testing.T, s snippet, k string) {
	cfg := topology(t, s)
	dir, err := os.MkdirTemp("/tmp", "vd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg.Dir = filepath.Join(dir, "l")
	l := labtest.StartConfig(t, cfg)
	first := l.Gateways[0]
	if cfg.Topology == lab.Star {
		first = l.Gateway("hub")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, conn := range strings.Fields(strings.ReplaceAll(s.opts["up"], ",", " ")) {
		if out, err := first.Swanctl(ctx, "--initiate", "--ike", conn, "--child", "net"); err != nil {
			t.Fatalf("%s: bringing up %s: %v\n%s", s, conn, err, out)
		}
	}
	want := 0
	if e, ok := s.opts["exit"]; ok {
		if want, err = strconv.Atoi(e); err != nil {
			t.Fatalf("%s: exit=%q is not a number", s, e)
		}
	}
	flags := strings.Fields(s.opts["flags"])
	env := append(os.Environ(), "VICI_URI="+first.URI, "NO_COLOR=1",
		"PATH="+filepath.Dir(vicishBin)+":"+os.Getenv("PATH"))
	pairs := []string{"/tmp/vl", cfg.Dir}
	for _, p := range strings.Split(s.opts["subst"], ",") {
		if from, to, ok := strings.Cut(p, ">"); ok {
			pairs = append(pairs, from, strings.ReplaceAll(to, "/tmp/vl", cfg.Dir))
		}
	}
	subst := strings.NewReplacer(pairs...).Replace
	stopped := map[*exec.Cmd]bool{}

	var cmds []*exec.Cmd
	switch k {
	case "script":
		prog := subst(strings.Join(s.body, "\n"))
		cmds = append(cmds, exec.CommandContext(ctx, vicishBin, append(flags, "-c", prog)...))
	case "repl":
		c := exec.CommandContext(ctx, vicishBin, flags...)
		c.Stdin = strings.NewReader(subst(replProgram(s.body)))
		cmds = append(cmds, c)
	case "shell":
		for _, line := range s.body {
			if cmd, ok := shellCommand(line); ok {
				c := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", subst(cmd))
				if strings.Contains(line, "until stopped") {
					stopped[c] = true
				}
				cmds = append(cmds, c)
			}
		}
	}
	for _, c := range cmds {
		c.Env = env
		if c.Dir == "" {
			c.Dir = ".."
		}
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		stop := s.opts["stop"]
		if stop == "" && stopped[c] {
			stop = "2"
		}
		if stop != "" {
			secs, err := strconv.ParseFloat(stop, 64)
			if err != nil {
				t.Fatalf("%s: stop=%q is not a number of seconds", s, stop)
			}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- c.Wait() }()
			select {
			case err := <-done:
				t.Fatalf("%s: %s ended before it was stopped (%v)\nstdout:\n%s\nstderr:\n%s", s, describe(c), err, &stdout, &stderr)
			case <-time.After(time.Duration(secs * float64(time.Second))):
			}
			syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
			<-done
			got := c.ProcessState.ExitCode()
			if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
				got = 143 // bash running a pipeline dies of the signal itself
			}
			if got != 143 {
				t.Errorf("%s: %s exited with %d when stopped, want 143 (SIGTERM)\nstdout:\n%s\nstderr:\n%s", s, describe(c), got, tail(&stdout), tail(&stderr))
			}
			continue
		}
		c.Run()
		if got := c.ProcessState.ExitCode(); got != want {
			t.Errorf("%s: %s exited with %d, want %d\nstdout:\n%s\nstderr:\n%s", s, describe(c), got, want, tail(&stdout), tail(&stderr))
		}
	}
}

// describe names a command for an error message.
func describe(c *exec.Cmd) string {
	if c.Path == "/bin/bash" || filepath.Base(c.Path) == "bash" {
		return strconv.Quote(c.Args[len(c.Args)-1])
	}
	if c.Stdin != nil {
		return "the REPL input"
	}
	return strings.TrimSpace("vicish "+strings.Join(c.Args[1:len(c.Args)-2], " ")) + " -c <the snippet>"
}

// tail returns the last lines of b.
func tail(b *bytes.Buffer) string {
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// checkGo requires the code lines of a Go snippet to appear, in order, in
// one Go file of the repository, which the build compiles (and its tests
// run).
func checkGo(t *testing.T, s snippet) {
	want := goLines(s.body)
	if len(want) == 0 {
		t.Fatalf("%s: an empty Go snippet", s)
	}
	var found string
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil || found != "" {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if containsInOrder(goLines(strings.Split(string(data), "\n")), want) {
			found = path
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == "" {
		t.Errorf("%s: no Go file of the repository holds this snippet's code (%d lines, first %q): put it in an example or test that compiles, and keep the two in step", s, len(want), want[0])
		return
	}
	t.Logf("%s is compiled as part of %s", s, found)
}

// goLines returns the code of Go source lines: comments and blank lines
// dropped, runs of white space made one space (gofmt aligns comments).
func goLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		l = strings.Join(strings.Fields(stripComment(l)), " ")
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// stripComment cuts a line comment that is not inside a string literal.
func stripComment(line string) string {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == '\\' && quote != '`' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '`' || c == '\'':
			quote = c
		case c == '/' && i+1 < len(line) && line[i+1] == '/':
			return line[:i]
		}
	}
	return line
}

// containsInOrder reports whether want is a contiguous run of have.
func containsInOrder(have, want []string) bool {
	for i := 0; i+len(want) <= len(have); i++ {
		ok := true
		for j := range want {
			if have[i+j] != want[j] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// TestSnippetParser checks the parser on a page written for it, so a
// broken parser cannot pass the real pages by finding nothing.
func TestSnippetParser(t *testing.T) {
	page := "x\n<!-- snippet: lab=2; up=ab; skip=\"no daemon; here\" -->\n```python\nprint(1)\n```\n\n```\nvici> 1 +\n... 2\n(3)\n```\n  ```sh\n  vicish -e '1'   # one\n  vicish lab up\n  vicish x.star [--dry-run] NAME\n  ```\n"
	path := filepath.Join(t.TempDir(), "page.md")
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	ss, err := parse(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 3 {
		t.Fatalf("found %d snippets, want 3: %+v", len(ss), ss)
	}
	if ss[0].opts["lab"] != "2" || ss[0].opts["up"] != "ab" || ss[0].opts["skip"] != "no daemon; here" || kind(ss[0]) != "skip" {
		t.Errorf("options: %+v, kind %s", ss[0].opts, kind(ss[0]))
	}
	if kind(ss[1]) != "repl" || replProgram(ss[1].body) != "1 +\n2\n" {
		t.Errorf("repl: kind %s, program %q", kind(ss[1]), replProgram(ss[1].body))
	}
	if kind(ss[2]) != "shell" {
		t.Errorf("shell: kind %s", kind(ss[2]))
	}
	var cmds []string
	for _, l := range ss[2].body {
		if c, ok := shellCommand(l); ok {
			cmds = append(cmds, c)
		}
	}
	if strings.Join(cmds, "|") != "vicish -e '1'" {
		t.Errorf("shell commands %q", cmds)
	}
	if got := goLines([]string{`a := f("//x")   // comment "q"`, "  // only a comment", `b := '"' // c`}); strings.Join(got, "|") != `a := f("//x")|b := '"'` {
		t.Errorf("goLines: %q", got)
	}
	if _, err := parse(filepath.Join(t.TempDir(), "none.md")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing page: %v", err)
	}
}
