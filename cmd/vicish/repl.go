package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/chzyer/readline"
	"github.com/mattn/go-isatty"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/internal/version"
	"github.com/vicish/vicish/script"
)

const (
	prompt     = "vici> "
	contPrompt = "... "
)

// repl is one interactive session: a readline instance and the runtime's
// session (globals and a thread reused for every input).
type repl struct {
	rt      *script.Runtime
	session *script.Session
	rl      *readline.Instance
	out     io.Writer      // values and print()
	errOut  io.Writer      // errors
	screen  io.Writer      // the terminal readline draws on: banner and hints
	color   bool           // stderr is a terminal and NO_COLOR is unset
	width   func() int     // terminal width for the pretty printer
	intr    chan os.Signal // SIGINT while an input runs
}

// completer adapts the session's completion to readline.
type completer struct{ session *script.Session }

// Do implements readline.AutoCompleter.
func (c completer) Do(line []rune, pos int) ([][]rune, int) { return c.session.Complete(line, pos) }

// runREPL runs the interactive loop on a terminal until Ctrl-D or exit().
func runREPL(ropts script.Options, stdin io.Reader, stdout, stderr io.Writer) int {
	rt := script.New(ropts)
	defer rt.Close()
	// With standard output redirected (vicish > session.log) the prompt and
	// the line being edited go to the terminal on stderr; values still go
	// to stdout.
	screen := stdout
	if !isTerminal(stdout) {
		screen = stderr
	}
	cfg := terminalConfig(stdin, screen, stderr)
	histPath, histErr := historyFile(os.Getenv)
	cfg.HistoryFile = histPath
	r, err := newREPL(rt, cfg, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "vicish: cannot start the REPL: %v\n", err)
		return script.ExitError
	}
	defer r.rl.Close()
	r.color = isTerminal(stderr) && os.Getenv("NO_COLOR") == ""
	signal.Notify(r.intr, os.Interrupt)
	defer signal.Stop(r.intr)
	stopTerm := leaveOnHangup(cfg)
	defer stopTerm()
	if histErr != nil {
		fmt.Fprintf(stderr, "vicish: history is not kept: %v\n", histErr)
	}
	r.banner()
	return r.loop()
}

// leaveOnHangup makes SIGTERM and SIGHUP restore the terminal's mode before
// the process ends (128 + the signal), so a killed REPL never leaves the
// terminal raw. The returned function stops this.
func leaveOnHangup(cfg *readline.Config) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			cfg.FuncExitRaw()
			os.Exit(128 + int(sig.(syscall.Signal)))
		case <-done:
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

// terminalConfig returns the readline configuration for a real terminal
// given as stdin and stdout.
func terminalConfig(stdin io.Reader, stdout, stderr io.Writer) *readline.Config {
	cfg := &readline.Config{Stdout: stdout, Stderr: stderr}
	if rc, ok := stdin.(io.ReadCloser); ok {
		cfg.Stdin = readline.NewCancelableStdin(rc)
	} else {
		cfg.Stdin = readline.NewCancelableStdin(io.NopCloser(stdin))
	}
	if f, ok := stdin.(*os.File); ok {
		fd := int(f.Fd())
		var state *readline.State
		cfg.FuncIsTerminal = func() bool { return isatty.IsTerminal(uintptr(fd)) }
		cfg.FuncMakeRaw = func() (err error) {
			state, err = readline.MakeRaw(fd)
			return err
		}
		cfg.FuncExitRaw = func() error {
			if state == nil {
				return nil
			}
			return readline.Restore(fd, state)
		}
	}
	if f, ok := stdout.(*os.File); ok { // the screen readline draws on
		fd := int(f.Fd())
		cfg.FuncGetWidth = func() int {
			if w, _, err := readline.GetSize(fd); err == nil {
				return w
			}
			return 80
		}
	}
	return cfg
}

// historyFile returns $XDG_STATE_HOME/vicish/history (or
// ~/.local/state/vicish/history), creating its directory, and the file with
// mode 0600 so that it is private.
func historyFile(getenv func(string) string) (string, error) {
	dir := getenv("XDG_STATE_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return "", errors.New("neither $XDG_STATE_HOME nor $HOME is set")
		}
		dir = filepath.Join(home, ".local", "state")
	}
	dir = filepath.Join(dir, "vicish")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "history")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return "", err
	}
	return path, f.Close()
}

// newREPL builds a session reading the terminal described by cfg.
func newREPL(rt *script.Runtime, cfg *readline.Config, stdout, stderr io.Writer) (*repl, error) {
	r := &repl{
		rt:      rt,
		session: rt.NewSession("repl"),
		out:     rt.Stdout(), // known secrets redacted
		errOut:  rt.Stderr(),
		intr:    make(chan os.Signal, 1),
	}
	cfg.Prompt = prompt
	cfg.DisableAutoSaveHistory = true
	cfg.HistorySearchFold = true
	cfg.AutoComplete = completer{r.session}
	rl, err := readline.NewEx(cfg)
	if err != nil {
		return nil, err
	}
	r.rl = rl
	r.screen = cfg.Stdout
	r.width = rl.Config.FuncGetWidth
	return r, nil
}

// banner prints vicish's version, a line naming the daemon, or why none is
// reachable, and how to get help.
func (r *repl) banner() {
	fmt.Fprintln(r.screen, version.Current().Short())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if daemon, err := r.rt.Daemon(ctx); err == nil {
		fmt.Fprintf(r.screen, "vicish: connected to %s (vici.use(URI) switches to another daemon)\n", daemon)
	} else {
		fmt.Fprintf(r.screen, "vicish: no daemon: %s\n", r.rt.Secrets().Redact(err.Error()))
		fmt.Fprintf(r.screen, "vicish: the REPL works without one; point vici at a daemon with vici.use(\"unix:///path/charon.vici\")\n")
	}
	fmt.Fprintln(r.screen, `Type help() for the commands, TAB to complete, Ctrl-D or exit() to leave.`)
}

// loop reads and runs inputs until Ctrl-D or exit(); it returns the exit code.
func (r *repl) loop() int {
	for {
		f, lines, err := r.read()
		switch {
		case err == io.EOF:
			fmt.Fprintln(r.screen)
			return script.ExitOK
		case errors.Is(err, readline.ErrInterrupt):
			if len(lines) == 0 {
				fmt.Fprintln(r.screen, "(Ctrl-D or exit() to leave)")
			}
			continue
		case err != nil:
			r.rt.Secrets().LearnText(strings.Join(lines, "\n"))
			r.saveHistory(lines)
			r.printError(err.Error())
			continue
		}
		if len(f.Stmts) == 0 {
			continue
		}
		if id, ok := soleExpr(f).(*syntax.Ident); ok && r.session.IsPredeclared(id.Name) {
			switch id.Name { // the bare words people type, as in Python
			case "exit", "quit":
				return script.ExitOK
			case "help":
				r.saveHistory(lines)
				fmt.Fprintln(r.out, r.rt.HelpText(nil))
				continue
			}
		}
		code, exit := r.eval(f)
		r.saveHistory(lines) // after the input ran: it may have taught a secret the lines hold
		if exit {
			return code
		}
	}
}

// saveHistory adds the lines of one input to the history, unless one of
// them holds a known secret or seems to set one (Secrets.Private): then
// none is kept, so that recalling the input never shows a part of it.
func (r *repl) saveHistory(lines []string) {
	for _, l := range lines {
		if r.rt.Secrets().Private(l) {
			return
		}
	}
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			_ = r.rl.SaveHistory(l) // a failed write only loses history
		}
	}
}

// read reads one statement, which may take several lines; it returns the
// lines read so far even on error.
func (r *repl) read() (*syntax.File, []string, error) {
	var lines []string
	var readErr error // the scanner reports it as a syntax error; keep the real one
	r.rl.SetPrompt(prompt)
	readLine := func() ([]byte, error) {
		line, err := r.rl.Readline()
		r.rl.SetPrompt(contPrompt)
		if err != nil {
			readErr = err
			if errors.Is(err, readline.ErrInterrupt) && line != "" {
				lines = append(lines, line)
			}
			return nil, err
		}
		lines = append(lines, line)
		return []byte(line + "\n"), nil
	}
	f, err := script.ParseOptions().ParseCompoundStmt("<stdin>", readLine)
	if err != nil {
		if readErr != nil {
			err = readErr
		}
		var serr syntax.Error
		switch {
		case errors.Is(err, io.EOF) && len(lines) == 0:
			return nil, nil, io.EOF
		case errors.Is(err, io.EOF), errors.Is(err, readline.ErrInterrupt):
			return nil, lines, readline.ErrInterrupt
		case errors.As(err, &serr):
			return nil, lines, syntaxError(serr, lines, moduleNames(r.rt))
		}
		return nil, lines, err
	}
	if err := unfinished(f, lines); err != nil {
		return nil, lines, err
	}
	return f, lines, nil
}

// unfinished reports a line the parser read past the end of the statement
// (after "for i in x: print(i)" it reads one more line to see whether the
// block goes on, and a line such as "y = 2" after an indented block ends
// the block): Python's REPL makes that a syntax error and runs nothing, so
// does vicish; such a line was never dropped silently.
func unfinished(f *syntax.File, lines []string) error {
	if len(f.Stmts) == 0 {
		return nil
	}
	_, end := f.Stmts[len(f.Stmts)-1].Span()
	for i := int(end.Line); i < len(lines); i++ {
		text := strings.TrimSpace(lines[i])
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name := "<stdin>"
		col := len(lines[i]) - len(strings.TrimLeft(lines[i], " \t")) + 1
		return syntaxError(syntax.Error{
			Pos: syntax.MakePosition(&name, int32(i+1), int32(col)),
			Msg: "invalid syntax: a compound statement ends with an empty line; nothing was run, enter the statements one by one",
		}, lines, nil)
	}
	return nil
}

// syntaxError adds the offending line and a caret under the column, and
// for an import statement, which Starlark does not have, the predeclared
// modules.
func syntaxError(e syntax.Error, lines []string, modules []string) error {
	if strings.HasPrefix(e.Msg, "got import,") || strings.HasPrefix(e.Msg, "got from,") {
		e.Msg += "; Starlark has no import statement: vicish's modules are predeclared, use them by name (" +
			strings.Join(modules, ", ") + `), and load("file.star", "name") loads a Starlark file`
	}
	line, col := int(e.Pos.Line), int(e.Pos.Col)
	if line < 1 || line > len(lines) || col < 1 {
		return e
	}
	src := lines[line-1]
	caret := strings.Repeat(" ", min(col-1, len(src))) + "^"
	return fmt.Errorf("%v\n  %s\n  %s", e, src, caret)
}

// moduleNames lists the predeclared modules of rt (json, time, vici, ...).
func moduleNames(rt *script.Runtime) []string {
	var names []string
	for name, v := range rt.Predeclared() {
		if v.Type() == "module" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// eval runs one input with a fresh context that Ctrl-C cancels, prints an
// expression's value, and reports whether the program should end.
func (r *repl) eval(f *syntax.File) (code int, exit bool) {
	for len(r.intr) > 0 { // a stale Ctrl-C from between inputs
		<-r.intr
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-r.intr:
			cancel(script.ErrInterrupted)
		case <-done:
			return
		}
		// A builtin that ignores cancellation must not trap the user: a
		// second Ctrl-C leaves.
		select {
		case <-r.intr:
			fmt.Fprintln(r.errOut, "\nvicish: second Ctrl-C while the input still runs; leaving")
			os.Exit(script.ExitInterrupted)
		case <-done:
		}
	}()
	v, err := r.session.Run(ctx, f)
	if err == nil && v != nil {
		err = r.rt.Show(ctx, v, r.width(), false)
	}
	if err != nil {
		if code, ok := exitRequested(r.rt, err, r.errOut); ok {
			return code, true
		}
		if errors.Is(context.Cause(ctx), script.ErrInterrupted) {
			fmt.Fprintln(r.errOut) // the terminal echoed ^C without a newline
			r.printError("interrupted")
			return 0, false
		}
		r.printError(r.rt.FormatError(err))
	}
	return 0, false
}

func (r *repl) printError(msg string) {
	if r.color {
		fmt.Fprintf(r.errOut, "\x1b[31m%s\x1b[0m\n", msg)
		return
	}
	fmt.Fprintln(r.errOut, msg)
}

// soleExpr returns the expression if f is a single expression statement.
func soleExpr(f *syntax.File) syntax.Expr {
	if len(f.Stmts) == 1 {
		if stmt, ok := f.Stmts[0].(*syntax.ExprStmt); ok {
			return stmt.X
		}
	}
	return nil
}
