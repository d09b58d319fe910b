package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/chzyer/readline"
	"github.com/mattn/go-isatty"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/internal/bytesize"
	"github.com/vicish/vicish/internal/readfile"
	"github.com/vicish/vicish/internal/recording"
	"github.com/vicish/vicish/internal/version"
	"github.com/vicish/vicish/redact"
	"github.com/vicish/vicish/script"
	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/stdlib/sys"
)

// usage returns `vicish -h`: its Commands section made from commands(),
// one --allow- flag for each capability (capability.All), the other flags,
// exit codes, environment and files. The manual page vicish(1) is generated
// from this text (scripts/debian), so it follows a grammar: "NAME: SUMMARY",
// then sections ("Title:" at the left margin), each entry two spaces in as
// "TERM  DESCRIPTION", continued on lines indented deeper.
func usage() string {
	var b strings.Builder
	b.WriteString(usageHead)
	b.WriteString(commandsHelp())
	b.WriteString(usageFlags)
	for _, c := range capability.All() {
		line := fmt.Sprintf("  %-18s let scripts ", script.Flag(c.Name))
		for _, word := range strings.Fields(c.Allows) {
			if len(line)+1+len(word) > 80 {
				b.WriteString(strings.TrimRight(line, " ") + "\n")
				line = strings.Repeat(" ", 21)
			} else if !strings.HasSuffix(line, " ") {
				line += " "
			}
			line += word
		}
		b.WriteString(line + "\n")
	}
	b.WriteString(usageTail)
	return b.String()
}

const usageHead = `vicish: a Starlark REPL and script runner for strongSwan's charon, over VICI

Usage:
  vicish [FLAGS]                      a REPL (standard input is a terminal)
  vicish [FLAGS] FILE [ARGS...]       run a script; sys.argv = [FILE, ARGS...]
  vicish [FLAGS] -c CODE [ARGS...]    run CODE; sys.argv = ["-c", ARGS...]
  vicish [FLAGS] -e EXPR [ARGS...]    print EXPR's value as the REPL shows it
  vicish [FLAGS] < FILE               run the program read from standard input
                                      (as a file: a bare expression's value is
                                      not printed; use print() or -e)
  vicish COMMAND [ARGS...]            run a command (see Commands)

`

const usageFlags = `
Flags (before FILE, -c or -e; what follows belongs to the script):
  --uri URI          the daemon's VICI socket: unix:///path, tcp://host:port,
                     ssh://[user@]host[:port]/path or a path (default:
                     $VICI_URI, else strongswan.conf, else
                     unix:///var/run/charon.vici)
  --deadline SECS    client-side limit for each command, e.g. 10 or 1.5 or 2m
                     (default: none)
  --max-listing SIZE memory a listing collected into a list (or by
                     swanctl.apply and plan) may take, e.g. 2GiB
                     (default: 512MiB; 0: no limit); each= needs none
  --max-event-queue SIZE
                     memory the events waiting for one session's callbacks
                     may take (default: 64MiB; 0: no limit)
`

const usageTail = `  --record FILE      save every exchange with the daemons to FILE (JSON lines,
                     secrets redacted), for fake daemons in tests to replay
  --log-json         the log module writes JSON lines
  --json             with -e: print the value as one line of JSON (dicts in the
                     daemon's order, bytes as base64), for jq
  --version          print the version and exit
  -h, --help         print this help and exit

Exit codes:
  0                  success
  1                  script error (backtrace on stderr)
  2                  usage or syntax error
  3                  daemon unreachable
  N                  the script called exit(N)
  130                interrupted (Ctrl-C, SIGINT)
  143                terminated (SIGTERM)

Environment:
  VICI_URI           the daemon's socket when --uri is not given
  STRONGSWAN_CONF    the strongswan.conf to find the socket in (default:
                     /etc/strongswan.conf)
  VICI_SSH_COMMAND   the ssh command for ssh:// URIs, split on blanks (default:
                     ssh)
  SWANCTL_DIR        swanctl's directory for the swanctl module (default:
                     /etc/swanctl)
  NO_COLOR           set: the REPL prints no colours
  XDG_STATE_HOME     the REPL keeps its history in vicish/history there
                     (default: $HOME/.local/state)
  GOGC, GOMEMLIMIT   set: vicish leaves the garbage collector's pacing to them

Files:
  /var/run/charon.vici   the daemon's socket when neither --uri, $VICI_URI nor
                         strongswan.conf names one
  /etc/strongswan.conf   its swanctl.socket, swanctl.plugins.vici.socket or
                         charon.plugins.vici.socket names the socket, as for
                         swanctl
  /usr/share/vicish      the runbooks (status.star, failover.star, ...), hooks/
                         and the lib/ they load, as the Debian package
                         installs them
  /etc/vicish            the package's configuration: fleet (the inventory)
                         and hooks/NAME.env (vicish-hook@NAME.service)

Examples:
  vicish                                  explore the daemon: vici.list_sas()
  vicish -c 'print(vici.version()["version"])'
  vicish --uri unix:///run/gw1.vici scripts/failover.star primary backup
  vicish --deadline 5 -c 'vici.initiate(child="net", ike="ab")'
  echo 'pp(vici.list_conns())' | vicish
  vicish --json -e 'vici.list_sas()' | jq
`

// options are the parsed command line.
type options struct {
	uri        string
	deadline   time.Duration
	maxListing int                     // bytes; 0: the default, -1: none
	maxEvents  int                     // likewise
	allow      []capability.Capability // --allow-exec, --allow-net, ...
	logJSON    bool
	record     string  // --record FILE
	code       *string // -c CODE
	expr       *string // -e EXPR
	json       bool    // --json: -e prints JSON
	rest       []string
}

// run is the program: it parses args, picks the mode (lab, REPL, file, -c,
// standard input) and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runPaced(args, stdin, stdout, stderr, nil)
}

// runPaced is run with the process's garbage-collector pacer (nil for
// none): the collector's target is process-wide, so only main, which runs
// once per process, passes one.
func runPaced(args []string, stdin io.Reader, stdout, stderr io.Writer, pacer *gcPacer) int {
	if len(args) > 0 {
		if c := findCommand(args[0]); c != nil {
			return c.run(args[1:], stdin, stdout, stderr)
		}
	}
	opts, code, done := parseFlags(args, stdout, stderr)
	if done {
		return code
	}
	ropts := script.Options{
		URI:           opts.uri,
		Deadline:      opts.deadline,
		Stdout:        stdout,
		Stderr:        stderr,
		Allow:         opts.allow,
		LogJSON:       opts.logJSON,
		MaxListing:    opts.maxListing,
		MaxEventQueue: opts.maxEvents,
	}
	if pacer != nil {
		ropts.Collecting = pacer.collecting
	}
	if opts.record == "" {
		return runMode(opts, ropts, stdin, stdout, stderr)
	}
	// --record FILE: every daemon connection goes through a recorder that
	// writes what crosses it, with the runtime's secrets redacted.
	f, err := os.OpenFile(opts.record, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		fmt.Fprintf(stderr, "vicish: --record: %v\n", err)
		return script.ExitUsage
	}
	ropts.Secrets = redact.New()
	rec := recording.New(f, ropts.Secrets.Redact)
	ropts.Dial = rec.Dial
	code = runMode(opts, ropts, stdin, stdout, stderr)
	err = rec.Err()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "vicish: --record: %v\n", err)
		if code == script.ExitOK {
			code = script.ExitError
		}
	}
	return code
}

// runMode runs what the command line asks for (the REPL, -e, -c, a file,
// standard input) and returns the exit code.
func runMode(opts options, ropts script.Options, stdin io.Reader, stdout, stderr io.Writer) int {
	var name string
	var src any
	switch {
	case opts.expr != nil:
		ropts.Argv = append([]string{"-e"}, opts.rest...)
		return runExpr(ropts, *opts.expr, opts.json, stdout, stderr)
	case opts.code != nil:
		name, src = "<-c>", *opts.code
		ropts.Argv = append([]string{"-c"}, opts.rest...)
	case len(opts.rest) > 0 && opts.rest[0] != "-":
		name = opts.rest[0]
		ropts.Argv = opts.rest
	case len(opts.rest) == 0 && isTerminal(stdin) && (isTerminal(stdout) || isTerminal(stderr)):
		ropts.Argv = []string{""}
		return runREPL(ropts, stdin, stdout, stderr)
	default:
		b, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "vicish: reading standard input: %v\n", err)
			return script.ExitUsage
		}
		name, src = "<stdin>", b
		ropts.Argv = []string{"-"}
		if len(opts.rest) > 0 {
			ropts.Argv = opts.rest
		}
	}
	return runScript(ropts, name, src)
}

// runScript runs one program and maps its outcome to an exit code; Ctrl-C
// and SIGTERM cancel it.
func runScript(ropts script.Options, name string, src any) int {
	rt := script.New(ropts)
	defer rt.Close()
	ctx, stop := scriptContext(rt.Stderr())
	defer stop()
	_, err := rt.ExecFile(ctx, name, src)
	if err == nil {
		return script.ExitOK
	}
	return reportError(rt, ctx, err, name, src)
}

// reportError prints the error that ended the program named name (source
// src) on the runtime's standard error and returns the exit code.
func reportError(rt *script.Runtime, ctx context.Context, err error, name string, src any) int {
	stderr := rt.Stderr()
	if code, ok := exitRequested(rt, err, stderr); ok {
		return code
	}
	code := script.ExitCode(ctx, err)
	switch code {
	case script.ExitInterrupted, script.ExitTerminated:
		fmt.Fprintf(stderr, "vicish: %v\n", context.Cause(ctx))
		var cleanup *sys.CleanupError
		if errors.As(err, &cleanup) {
			fmt.Fprintf(stderr, "vicish: the cleanup %s did not finish: %v\n", cleanup.Cleanup, cleanup.CleanupErr)
		}
	case script.ExitUsage:
		var serr syntax.Error
		switch {
		case errors.As(err, &serr):
			var lines []string
			if file := serr.Pos.Filename(); file == name {
				lines = sourceLines(name, src)
			} else { // the error is in a load()ed file
				lines = sourceLines(file, nil)
			}
			rt.Secrets().LearnText(strings.Join(lines, "\n"))
			fmt.Fprintln(rt.Stderr(), syntaxError(serr, lines, moduleNames(rt)).Error())
		case script.IsSyntaxError(err):
			fmt.Fprintln(stderr, rt.FormatError(err))
		default:
			fmt.Fprintf(stderr, "vicish: %s\n", rt.FormatError(err))
		}
	default:
		fmt.Fprintln(stderr, rt.FormatError(err))
	}
	return code
}

// runExpr evaluates one expression (vicish -e) and prints its value as the
// REPL would, or as JSON (--json); Ctrl-C and SIGTERM cancel it.
func runExpr(ropts script.Options, expr string, asJSON bool, stdout, stderr io.Writer) int {
	rt := script.New(ropts)
	defer rt.Close()
	ctx, stop := scriptContext(rt.Stderr())
	defer stop()
	v, err := rt.Eval(ctx, "<-e>", expr)
	if err == nil {
		width := 80
		if f, ok := stdout.(*os.File); ok && isTerminal(f) {
			if w, _, err := readline.GetSize(int(f.Fd())); err == nil && w > 0 {
				width = w
			}
		}
		err = rt.Show(ctx, v, width, asJSON)
	}
	if err == nil {
		return script.ExitOK
	}
	return reportError(rt, ctx, err, "<-e>", expr)
}

// exitRequested reports whether err is exit(n) or sys.exit(...) and, if
// so, prints its message (if any) and returns the code asked for.
func exitRequested(rt *script.Runtime, err error, stderr io.Writer) (code int, ok bool) {
	code, ok = script.ExitRequested(err)
	if !ok {
		return 0, false
	}
	if msg := script.ExitMessage(err); msg != "" {
		fmt.Fprintln(stderr, msg)
	}
	return code, true
}

// sourceLines returns the program's lines, for showing where a syntax
// error is.
func sourceLines(name string, src any) []string {
	var text string
	switch src := src.(type) {
	case string:
		text = src
	case []byte:
		text = string(src)
	case nil:
		b, err := readfile.Read(name, readfile.DefaultLimit)
		if err != nil {
			return nil
		}
		text = string(b)
	}
	return strings.Split(text, "\n")
}

// parseFlags parses the flags before FILE or -c. done is true when the
// program should end at once with code (help, version, a usage error).
func parseFlags(args []string, stdout, stderr io.Writer) (opts options, code int, done bool) {
	var showVersion, help bool
	granted := map[capability.Capability]bool{}
	fs := newFlagSet(&opts, granted, &showVersion, &help)
	err := fs.Parse(args)
	for _, c := range capability.All() {
		if granted[c.Name] {
			opts.allow = append(opts.allow, c.Name)
		}
	}
	if opts.code != nil || opts.expr != nil {
		// -c ends the flags: everything after CODE is sys.argv[1:].
		err = nil
		opts.rest = fs.Args()
		if i := indexOfCode(args); i >= 0 {
			opts.rest = args[i:]
		}
	} else {
		opts.rest = fs.Args()
	}
	if err == nil && opts.json && opts.expr == nil {
		err = errors.New("--json goes with -e EXPR")
	}
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "vicish: %v\nRun 'vicish -h' for help.\n", flagError(err, args))
		return opts, script.ExitUsage, true
	case help:
		fmt.Fprint(stdout, usage())
		return opts, script.ExitOK, true
	case showVersion:
		fmt.Fprintln(stdout, version.Current())
		return opts, script.ExitOK, true
	}
	return opts, 0, false
}

// newFlagSet defines vicish's flags, which set opts, granted (the
// capabilities an --allow- flag turned on or off), showVersion and help;
// parseFlags and the shell completion read it. -c and -e end the flags.
func newFlagSet(opts *options, granted map[capability.Capability]bool, showVersion, help *bool) *flag.FlagSet {
	fs := flag.NewFlagSet("vicish", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Func("uri", "", func(s string) error {
		// A malformed URI is a usage error (exit 2), not an unreachable daemon.
		if err := script.CheckURI(s); err != nil {
			return err
		}
		opts.uri = s
		return nil
	})
	fs.Func("deadline", "", func(s string) (err error) {
		opts.deadline, err = starctx.ParseDuration(s)
		return err
	})
	for _, c := range capability.All() {
		fs.BoolFunc(strings.TrimPrefix(script.Flag(c.Name), "--"), "", func(s string) error {
			on, err := strconv.ParseBool(s)
			if err != nil {
				return errors.New("want true or false")
			}
			granted[c.Name] = on
			return nil
		})
	}
	fs.Func("max-listing", "", func(s string) (err error) {
		opts.maxListing, err = parseSize(s)
		return err
	})
	fs.Func("max-event-queue", "", func(s string) (err error) {
		opts.maxEvents, err = parseSize(s)
		return err
	})
	fs.BoolVar(&opts.logJSON, "log-json", false, "")
	fs.StringVar(&opts.record, "record", "", "")
	fs.BoolVar(showVersion, "version", false, "")
	fs.BoolVar(help, "help", false, "")
	fs.BoolVar(help, "h", false, "")
	fs.Func("c", "", func(s string) error { opts.code = &s; return flag.ErrHelp })
	fs.Func("e", "", func(s string) error { opts.expr = &s; return flag.ErrHelp })
	fs.BoolVar(&opts.json, "json", false, "")
	return fs
}

// parseSize reads a memory size for --max-listing and --max-event-queue
// (bytesize.Parse). 0 means no limit: -1 for the vici module's Config.
func parseSize(s string) (int, error) {
	n, err := bytesize.Parse(s)
	if n == 0 && err == nil {
		return -1, nil
	}
	return n, err
}

// indexOfCode returns the index in args just after -c CODE or -e EXPR.
func indexOfCode(args []string) int {
	for i, a := range args {
		switch {
		case a == "--":
			return -1
		case a == "-c" || a == "--c" || a == "-e" || a == "--e":
			if i+1 < len(args) {
				return i + 2
			}
		case strings.HasPrefix(a, "-c=") || strings.HasPrefix(a, "--c="), strings.HasPrefix(a, "-e=") || strings.HasPrefix(a, "--e="):
			return i + 1
		}
	}
	return -1
}

// parseSubcommand parses the arguments of subcommand fs (vicish check,
// fmt, test): -h prints usage to stdout (exit code 0), a bad flag says
// what is wrong and prints usage to stderr (exit code 2). ok is false
// when the subcommand is to exit with code.
func parseSubcommand(fs *flag.FlagSet, args []string, usage string, stdout, stderr io.Writer) (code int, ok bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return 0, false
	}
	fmt.Fprintf(stderr, "vicish %s: %v\n%s", fs.Name(), flagError(err, args), usage)
	return 2, false
}

func flagError(err error, args []string) error {
	msg := err.Error()
	m := flagInMessage.FindStringSubmatchIndex(msg)
	if m == nil {
		return err
	}
	name := msg[m[2]:m[3]]
	typed := "-" + name
	for _, a := range args {
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "-") && strings.Split(strings.TrimLeft(a, "-"), "=")[0] == name {
			typed = strings.Split(a, "=")[0]
			break
		}
	}
	msg = msg[:m[2]-1] + typed + msg[m[3]:]
	if rest, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		msg = "unknown flag " + rest
	}
	return errors.New(msg)
}

// flagInMessage finds the flag's name (after its one dash) in the errors of
// package flag: "flag provided but not defined: -x", "invalid value "v" for
// flag -x: ...", "invalid boolean value "v" for -x: ...", "flag needs an
// argument: -x".
var flagInMessage = regexp.MustCompile(`(?:defined: |for flag |for |argument: )-([^\s:=]+)`)

// isTerminal reports whether r is a terminal.
func isTerminal(r any) bool {
	f, ok := r.(interface{ Fd() uintptr })
	return ok && isatty.IsTerminal(f.Fd())
}
