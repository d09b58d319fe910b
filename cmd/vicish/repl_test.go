package main

import (
	"fmt"
	"io"

	"github.com/vicish/vicish/script"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/internal/version"
)

// TestREPLOnTerminal drives the REPL through a pseudo-terminal against a
// real daemon, as a person would: expressions, completion, a multi-line
// def, Ctrl-C at the prompt and during vici.listen(), secrets, history.
func TestREPLOnTerminal(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	state := t.TempDir()
	env := []string{"VICI_URI=" + l.Gateway("a").URI, "XDG_STATE_HOME=" + state}

	term := startTerminal(t, env)
	term.expect(version.Current().Short() + "\n")
	term.expect("vicish: connected to charon")
	term.expect("(vici.use(URI) switches to another daemon)")
	term.prompt()

	// an expression's value is printed; _ keeps it
	term.typeKeys("1 + 2\r")
	term.expect("\n3\n")
	term.prompt()
	term.typeKeys("_ * 10\r")
	term.expect("\n30\n")
	term.prompt()

	// None is not printed
	term.typeKeys("None\r")
	term.prompt()
	term.typeKeys("'after none'\r")
	term.expect("\"after none\"\n")
	term.prompt()

	// TAB completes a member of the module
	term.typeKeys("vici.vers\t")
	term.expect("vici.version")
	term.typeKeys("()[\"daemon\"]\r")
	term.expect("\"charon\"\n")
	term.prompt()

	// TAB completes a keyword argument from the command table
	term.typeKeys("len(vici.list_conns(i\t\"ab\"))\r")
	term.expect(`len(vici.list_conns(ike="ab"))`)
	term.expect("\n1\n")
	term.prompt()

	// TAB after a keyword shows its type: a str starts with a quote
	term.typeKeys("len(vici.list_conns(ike=\tab\"))\r")
	term.expect(`len(vici.list_conns(ike="ab"))`)
	term.expect("\n1\n")
	term.prompt()

	// a rendered table shows as its lines, not as a quoted string (issue 11)
	term.typeKeys("table.conns()\r")
	term.expect("\nab: IKEv2, ")
	term.prompt()
	term.typeKeys("table.conns()[:3]\r")
	term.expect("\n\"ab:\"\n")
	term.prompt()

	// a multi-line def ends with a blank line; its parameters complete too
	term.typeKeys("def sub(alpha, beta):\r")
	term.expectLine("... ")
	term.typeKeys("    return alpha - beta\r")
	term.expectLine("... ")
	term.typeKeys("\r")
	term.prompt()
	term.typeKeys("sub(beta=1, al\t5)\r")
	term.expect("sub(beta=1, alpha=5)")
	term.expect("\n4\n")
	term.prompt()

	// a big value is pretty-printed over several lines
	term.typeKeys("{\"conns\": list(range(80)), \"name\": \"x\" * 70}\r")
	term.expect("{\n  \"conns\": [\n    0, 1, 2,")
	term.expect("49,\n    ... 30 more (80 items)\n  ],\n  \"name\": \"xxxx")
	term.prompt()

	// Ctrl-C on an empty line and on a half-typed one
	term.typeKeys("\x03")
	term.expect("(Ctrl-D or exit() to leave)")
	term.prompt()
	term.typeKeys("this is not run\x03")
	term.prompt()
	term.typeKeys("6 * 7\r")
	term.expect("\n42\n")
	term.prompt()

	// Ctrl-C during vici.listen() returns to a prompt whose session works
	term.typeKeys("vici.on(\"ike-updown\", lambda name, data: None)\r")
	term.prompt()
	term.typeKeys("print(\"listening\"); vici.listen()\r")
	term.expect("listening\n")
	term.typeKeys("\x03")
	term.expect("interrupted")
	term.prompt()
	term.typeKeys("vici.version()[\"daemon\"]\r")
	term.expect("\"charon\"\n")
	term.prompt()

	// Ctrl-C stops a busy loop too
	term.typeKeys("def spin():\r    print(\"spinning\")\r    while True:\r        pass\r\r")
	term.prompt()
	term.typeKeys("spin()\r")
	term.expect("spinning\n")
	term.typeKeys("\x03")
	term.expect("interrupted")
	term.prompt()

	// secrets are redacted when printed and kept out of the history
	term.typeKeys("key = {\"type\": \"IKE\", \"data\": \"sekrit-psk-value\", \"owners\": [\"a\"]}\r")
	term.prompt()
	term.typeKeys("key\r")
	term.expect(`{"type": "IKE", "data": <redacted>, "owners": ["a"]}`)
	term.prompt()
	term.typeKeys("print(\"psk:\", key[\"data\"])\r")
	term.expect("psk: <redacted>\n")
	term.prompt()
	term.typeKeys("key[\"data\"] + 1\r")
	term.expect("unknown binary op")
	term.prompt()

	term.typeKeys("'hist' + 'ory'\r")
	term.expect("\"history\"\n")
	term.prompt()
	term.typeKeys("\x04")
	if code := term.wait(); code != 0 {
		t.Fatalf("exit code after Ctrl-D: %d", code)
	}
	noSecretShown(t, term, "sekrit")
	hist := readHistory(t, state)
	for _, want := range []string{"1 + 2\n", "def sub(alpha, beta):\n", "'hist' + 'ory'\n"} {
		if !strings.Contains(hist, want) {
			t.Errorf("history lacks %q:\n%s", want, hist)
		}
	}
	if strings.Contains(hist, "sekrit") {
		t.Errorf("history holds the secret:\n%s", hist)
	}
	if info, err := os.Stat(filepath.Join(state, "vicish", "history")); err == nil && info.Mode().Perm() != 0o600 {
		t.Errorf("history file mode %v, want 0600", info.Mode().Perm())
	}

	// a new session reads the history back: Up recalls the last line
	term = startTerminal(t, env)
	term.prompt()
	term.typeKeys("\x1b[A")
	term.expect("'hist' + 'ory'")
	term.typeKeys("\r")
	term.expect("\"history\"\n")
	term.prompt()
	term.leave()
}

// TestREPLWithoutDaemon: the REPL starts and says why no daemon answers.
func TestREPLWithoutDaemon(t *testing.T) {
	missing := "unix://" + filepath.Join(t.TempDir(), "none.vici")
	term := startTerminal(t, []string{"VICI_URI=" + missing})
	term.expect("vicish: no daemon: ")
	term.expect(missing)
	term.prompt()
	term.typeKeys("help\r")
	term.expect("vici commands (help(vici.NAME)")
	term.prompt()
	term.typeKeys("help(vici.initiate)\r")
	term.expect("vici.initiate(")
	term.prompt()
	term.typeKeys("import json\r")
	term.expect("vicish's modules are predeclared, use them by name (")
	term.prompt()
	term.typeKeys("exit(\"no daemon here\")\r")
	term.expect("no daemon here\n")
	if code := term.wait(); code != 1 {
		t.Errorf("exit(message) in the REPL ended with %d, want 1", code)
	}
}

// TestREPLUseAnotherDaemon: started without a daemon, the banner names
// vici.use, which points the default session at one without restarting;
// a URI where nothing answers leaves it where it was.
func TestREPLUseAnotherDaemon(t *testing.T) {
	l := labtest.Start(t, lab.Failover)
	missing := "unix://" + filepath.Join(t.TempDir(), "none.vici")
	term := startTerminal(t, []string{"VICI_URI=" + missing, "XDG_STATE_HOME=" + t.TempDir()})
	term.expect("vicish: no daemon: ")
	term.expect(`point vici at a daemon with vici.use("unix:///path/charon.vici")`)
	term.prompt()
	term.typeKeys(fmt.Sprintf("vici.use(%q)\r", l.Gateway("b").URI))
	term.prompt()
	term.typeKeys("vici.get_conns()\r")
	term.expect(`{"conns": ["primary"]}`)
	term.prompt()
	term.typeKeys(fmt.Sprintf("vici.use(%q)\r", missing))
	term.expect("vici.use: ")
	term.prompt()
	term.typeKeys("vici.get_conns()\r") // still b
	term.expect(`{"conns": ["primary"]}`)
	term.prompt()
	term.typeKeys(fmt.Sprintf("vici.use(%q)\r", l.Gateway("a").URI))
	term.prompt()
	term.typeKeys("sorted(vici.get_conns()[\"conns\"])\r")
	term.expect(`["backup", "primary"]`)
	term.prompt()
	term.leave()
}

// TestREPLInputNeverDropped: issue 9, after a one-line compound statement
// the next line typed was silently dropped (it could be a terminate). As in
// Python's REPL the statement waits for an empty line, and a statement
// typed in its place is a syntax error that runs nothing; a line after an
// indented block the same.
func TestREPLInputNeverDropped(t *testing.T) {
	term := startWithoutDaemon(t, "XDG_STATE_HOME="+t.TempDir())
	term.prompt()
	term.typeKeys("for i in range(2): print('loop', i)\r")
	term.expectLine("... ")
	term.typeKeys("x = 41\r")
	term.expect("x = 41")
	term.expect("invalid syntax")
	term.expect("x = 41") // the line shown under the caret
	term.expect("^")
	term.prompt()
	term.typeKeys("def g(): return 1\r")
	term.expectLine("... ")
	term.typeKeys("\r")
	term.prompt()
	term.typeKeys("g() + 1\r")
	term.expect("\n2\n")
	term.prompt()
	term.typeKeys("for i in range(2): print('loop', i)\r")
	term.expectLine("... ")
	term.typeKeys("\r")
	term.expect("loop 1\n")
	term.prompt()
	term.typeKeys("x\r") // the rejected input did not run
	term.expect("undefined: x")
	term.prompt()
	// issue 9: the echo of a dict inside itself overflowed the stack
	term.typeKeys("d = {\"n\": 1}; d[\"self\"] = d\r")
	term.prompt()
	term.typeKeys("d\r")
	term.expect(`{"n": 1, "self": {...}}`)
	term.prompt()
	term.typeKeys("pp(d)\r")
	term.expect(`{"n": 1, "self": {...}}`)
	term.prompt()
	term.leave()
}

// TestREPLSecrets: issue 9, the REPL echoed k["data"] of a shared key read
// at run time, and kept lines with a PSK in its history.
func TestREPLSecrets(t *testing.T) {
	state := t.TempDir()
	term := startWithoutDaemon(t, "XDG_STATE_HOME="+state)
	term.prompt()
	// no literal the source scan could see: the key arrives as JSON text
	term.typeKeys(`k = json.decode('{"type": "IKE", "data": "hunter2-' + 'echo"}')` + "\r")
	term.prompt()
	term.typeKeys("k[\"data\"]\r")
	term.expect("<redacted>")
	term.prompt()
	term.typeKeys("[k]\r")
	term.expect(`[{"type": "IKE", "data": <redacted>}]`)
	term.prompt()
	for _, line := range []string{
		`psk = "hunter3-syntax" )`,                                  // a PSK and a syntax error
		`psk = "hunter3-assign"`,                                    // a plain assignment
		`vici.call("load-shared", data="hunter3-call", type="IKE")`, // fails: no daemon
		`"hunter2-echo" == k["data"]`,                               // a line holding a secret the REPL learnt
		`1 + 1`,                                                     // an ordinary line, kept
	} {
		term.typeKeys(line + "\r")
		term.prompt()
	}
	term.leave()
	noSecretShown(t, term, "hunter")
	hist := readHistory(t, state)
	if strings.Contains(hist, "hunter") || !strings.Contains(hist, "1 + 1\n") {
		t.Errorf("history:\n%s\nwant 1 + 1 and no secret", hist)
	}
}

// noSecretShown fails if a line of output (not one echoing what was typed
// after the prompt) holds secret.
func noSecretShown(t *testing.T, term *terminal, secret string) {
	t.Helper()
	for _, line := range strings.Split(term.screen(), "\n") {
		if !strings.Contains(line, "vici> ") && strings.Contains(line, secret) {
			t.Errorf("a secret was shown: %q", line)
		}
	}
}

// readHistory returns the REPL's history file under state.
func readHistory(t *testing.T, state string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(state, "vicish", "history"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUnfinished: only a statement read past the end of the input is a
// syntax error; a block's own lines, a multi-line string and the closing
// empty line are not.
func TestUnfinished(t *testing.T) {
	for _, tc := range []struct {
		lines []string
		bad   bool
	}{
		{[]string{`s = """a`, `b"""`}, false},
		{[]string{"if x:", "  a = 1", "else:", "  a = 2", ""}, false},
		{[]string{"def f():", "  return 1", "  # done", ""}, false},
		{[]string{"for i in y: print(i)", ""}, false},
		{[]string{"for i in y: print(i)", "vici.terminate(ike='ab')"}, true},
		{[]string{"if x:", "  a = 1", "b = 2"}, true},
	} {
		i := 0
		f, err := script.ParseOptions().ParseCompoundStmt("<stdin>", func() ([]byte, error) {
			if i == len(tc.lines) {
				return nil, io.EOF
			}
			i++
			return []byte(tc.lines[i-1] + "\n"), nil
		})
		if err != nil {
			t.Fatalf("%q: %v", tc.lines, err)
		}
		if err := unfinished(f, tc.lines[:i]); (err != nil) != tc.bad {
			t.Errorf("%q: unfinished = %v, want an error: %v", tc.lines, err, tc.bad)
		}
	}
}

// startWithoutDaemon starts the REPL on a terminal with $VICI_URI naming a
// socket that does not exist, and env added.
func startWithoutDaemon(t *testing.T, env ...string) *terminal {
	t.Helper()
	missing := "unix://" + filepath.Join(t.TempDir(), "none.vici")
	return startTerminal(t, append([]string{"VICI_URI=" + missing}, env...))
}

// leave types exit() and checks that the REPL ends with code 0.
func (term *terminal) leave() {
	term.t.Helper()
	term.typeKeys("exit()\r")
	if code := term.wait(); code != 0 {
		term.t.Fatalf("exit code after exit(): %d", code)
	}
}
