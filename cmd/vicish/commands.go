package main

import (
	"io"
	"strings"
)

// A command is one of vicish's subcommands: `vicish NAME ARGS...`. A first
// argument naming a command wins over a script file of that name (run such
// a file as ./NAME).
type command struct {
	name    string
	args    string // its arguments as `vicish -h` shows them
	summary string // what it does, for `vicish -h`
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
	// complete returns the shell's candidates for the last of args (the
	// words after NAME); nil completes .star files and directories.
	complete func(args []string) completion
	hidden   bool // not in the help (the shell completion's helper)
}

// commands lists vicish's subcommands. The dispatch, the Commands section of
// `vicish -h` (and so the manual page) and the shell completion all read
// this one list: a new subcommand is one line here.
func commands() []command {
	return []command{
		{name: "lab", args: "COMMAND [...]", run: labCommand, complete: completeLab,
			summary: "a lab of real charon daemons to try scripts on: up, down, status, kill, restart, swanctl, root (see vicish lab help)"},
		{name: "fmt", args: "[-l|-d|-w] PATH...", run: fmtCommand, complete: starFileArgs("-l", "-d", "-w", "-h"),
			summary: "lay out Starlark files canonically (see vicish fmt -h)"},
		{name: "test", args: "[FLAGS] [PATH...]", run: testCommand, complete: starFileArgs("-run", "-v", "-short", "-timeout", "-h"),
			summary: "run the tests of *_test.star files: fake daemons, or a lab (see vicish test -h)"},
		{name: "check", args: "[--json] PATH...", run: checkCommand, complete: starFileArgs("--json", "-h"),
			summary: "find mistakes in scripts without running them: undefined names, unknown keywords and events (see vicish check -h)"},
		{name: completeCommand, run: runComplete, hidden: true},
	}
}

// findCommand returns the command named name, or nil.
func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return &c
		}
	}
	return nil
}

// commandsHelp renders the Commands section of `vicish -h`: each visible
// command with its summary wrapped beside it.
func commandsHelp() string {
	var b strings.Builder
	b.WriteString("Commands (they win over a script file of that name: run it as ./NAME):\n")
	// The summary starts two spaces after the term at least, on the same
	// line (the help's grammar: "TERM  DESCRIPTION"), and wraps under itself.
	const col, width = 26, 80
	for _, c := range commands() {
		if c.hidden {
			continue
		}
		term := c.name
		if c.args != "" {
			term += " " + c.args
		}
		line := "  " + term + "  "
		start := max(col, len(line))
		line += strings.Repeat(" ", start-len(line))
		fresh := true
		for _, w := range strings.Fields(c.summary) {
			if !fresh && len(line)+1+len(w) > width {
				b.WriteString(line + "\n")
				line, fresh = strings.Repeat(" ", start), true
			}
			if !fresh {
				line += " "
			}
			line += w
			fresh = false
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}
