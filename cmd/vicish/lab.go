package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/version"
)

// labUsage is `vicish lab help`, and the manual page vicish-lab(1) is
// generated from it (the grammar of usage()); the shell completion reads
// the commands and their flags from its Usage lines.
const labUsage = `vicish lab: a lab of real strongSwan charon daemons to try scripts and hooks on

Usage:
  vicish lab up [--dir D] [--topology 1|2|3|star [--gateways N]]
      [--daemon system|newest|GW=DAEMON,...]
  vicish lab down [--dir D | --id ID]
  vicish lab status
  vicish lab kill GW [--dir D | --id ID]
  vicish lab restart GW [--dir D | --id ID]
  vicish lab swanctl GW [--dir D | --id ID] SWANCTL-ARGS...
  vicish lab root [--rebuild]
  vicish lab help

Commands:
  up       starts real charon daemons that keep running after this command:
           1 = gateway a alone; 2 (default) = a and b with connection "ab" (child "net");
           3 = failover: a with "primary" (to b) and "backup" (to c);
           star = a hub and N spokes s1..sN (--gateways N, default 3, up to 200),
           spoke sI with connection "hub", the hub with "sI".
           --daemon system (default) runs the host's strongSwan, newest the one of
           Debian testing (built once with debootstrap, see root); a=newest,b=system
           mixes them per gateway.
           --dir D (default: a new temporary directory) holds the gateways' sockets,
           logs and configs; D may exist, but not with a gateway's directory in it.
           Prints each gateway's vici socket, its strongSwan version and how to
           point vicish at it.
  down     stops the lab and deletes what up created: the directory if up made
           it, else everything in it that was not there before.
  status   prints vicish's version, then lists the labs on this machine, each
           gateway's strongSwan and whether its daemon answers.
  kill     SIGKILLs gateway GW's charon, as a crash would; its socket file and
           configuration stay (to test a hook or script against a dying daemon).
  restart  starts gateway GW's charon again (stopping it first if it runs),
           waits until it answers and loads its swanctl.conf, as a service would.
  swanctl  runs gateway GW's own swanctl (the host's, or the newest root's for a
           newest gateway) against its socket and configuration, e.g.
           vicish lab swanctl a --list-sas; its exit code is swanctl's.
           down, kill, restart and swanctl act on the lab in D or with that id;
           without either, on the one lab "lab up" started (with several running,
           they list them and ask for --dir or --id).
  root     builds (once per machine) or checks the newest strongSwan's root file
           system under /var/cache/vicish-lab and prints its version; --rebuild
           builds it again (to follow Debian testing) while no lab uses it.
  help     prints this help.

Exit codes:
  0        success
  1        failure (the message says why)
  2        usage error
  N        lab swanctl: swanctl's exit code

Environment:
  VICISH_LAB_MIRROR  the Debian mirror root builds from (default: the first
                     one in the host's apt sources)

Files:
  /var/cache/vicish-lab  the roots the lab builds with debootstrap: testing/
                         (the newest strongSwan), stable/ (the Debian
                         package's install test), and their lock
  /run/vicish-lab        the record of running labs, for status, down and the
                         commands that find a lab without --dir or --id
`

// labCommand implements `vicish lab ...` and returns the exit code (0 ok, 1
// failure, 2 usage error; `lab swanctl` returns swanctl's).
func labCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, labUsage)
		return 2
	}
	switch args[0] {
	case "up":
		return labUp(args[1:], stdout, stderr)
	case "down":
		return labDown(args[1:], stdout, stderr)
	case "status":
		return labStatus(args[1:], stdout, stderr)
	case "root":
		return labRoot(args[1:], stdout, stderr)
	case "kill", "restart":
		return labGateway(args[0], args[1:], stdout, stderr)
	case "swanctl":
		return labSwanctl(args[1:], stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, labUsage)
		return 0
	}
	fmt.Fprintf(stderr, "lab: unknown command %q\n%s", args[0], labUsage)
	return 2
}

// labFlags is the flag set of one lab subcommand; parse reports its errors.
type labFlags struct {
	*flag.FlagSet
	name   string
	stderr io.Writer
}

func newLabFlags(name string, stderr io.Writer) *labFlags {
	fs := flag.NewFlagSet("lab "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &labFlags{FlagSet: fs, name: name, stderr: stderr}
}

// parse parses args, printing a usage error (the flag as typed) on failure.
func (fs *labFlags) parse(args []string) bool {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(fs.stderr, labUsage)
		return false
	}
	if err != nil {
		fmt.Fprintf(fs.stderr, "lab %s: %v\nRun 'vicish lab help' for help.\n", fs.name, flagError(err, args))
		return false
	}
	return true
}

// noArgs reports a stray argument after the flags.
func (fs *labFlags) noArgs() bool {
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.stderr, "lab %s: unexpected argument %q\n", fs.name, fs.Arg(0))
		return false
	}
	return true
}

// labContext ends after d or at SIGINT/SIGTERM.
func labContext(d time.Duration) (context.Context, func()) {
	ctx, stop := signalContext(context.Background())
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, func() { cancel(); stop() }
}

func labUp(args []string, stdout, stderr io.Writer) int {
	fs := newLabFlags("up", stderr)
	dir := fs.String("dir", "", "")
	topo := fs.String("topology", "2", "")
	daemon := fs.String("daemon", "system", "")
	spokes := fs.Int("gateways", -1, "")
	if !fs.parse(args) || !fs.noArgs() {
		return 2
	}
	t, err := lab.ParseTopology(*topo)
	if err != nil {
		fmt.Fprintf(stderr, "lab up: %v\n", err)
		return 2
	}
	all, per, err := lab.ParseDaemons(*daemon)
	if err != nil {
		fmt.Fprintf(stderr, "lab up: --daemon: %v\n", err)
		return 2
	}
	switch {
	case *spokes == -1 && t == lab.Star:
		*spokes = 3
	case *spokes == -1:
		*spokes = 0
	case t != lab.Star:
		fmt.Fprintf(stderr, "lab up: --gateways is for --topology star\n")
		return 2
	}
	cfg := lab.Config{Dir: *dir, Topology: t, Spokes: *spokes, Daemon: all, Daemons: per, Persistent: true, Progress: stdout}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "lab up: %v\n", err)
		return 2
	}
	if *dir != "" {
		if abs, err := filepath.Abs(*dir); err == nil {
			labs, _ := lab.Running()
			for _, l := range labs {
				if l.Dir == abs {
					fmt.Fprintf(stderr, "lab up: lab %s already uses %s; run `vicish lab down --dir %s` first\n", l.ID, abs, abs)
					return 1
				}
			}
		}
	}
	ctx, cancel := labContext(30 * time.Minute) // the first newest lab builds its root
	defer cancel()
	begin := time.Now()
	l, err := lab.Up(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "lab up: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "lab %s is up (%s, %v), dir %s\n", l.ID, l.Describe(), time.Since(begin).Round(time.Millisecond), l.Dir)
	for _, g := range l.Gateways {
		fmt.Fprintf(stdout, "  gateway %s  strongSwan %s (%s)  pid %d  netns %s  addr %s\n", g.Name, g.Version(), g.Daemon, g.PID(), g.Netns, strings.Join(g.Addrs, ","))
		if len(l.Gateways) <= 3 {
			fmt.Fprintf(stdout, "    socket  %s\n    log     %s\n    config  %s\n", g.URI, g.LogPath, g.ConfDir)
		} else {
			fmt.Fprintf(stdout, "    socket  %s\n", g.URI)
		}
	}
	switch l.Topology {
	case lab.TwoGateways:
		fmt.Fprintf(stdout, "connection \"ab\" (child \"net\", %s <-> %s) is loaded on a and b, not initiated.\n", lab.NetA, lab.NetB)
	case lab.Failover:
		fmt.Fprintf(stdout, "a has \"primary\" (to b) and \"backup\" (to c), each with child \"net\" (%s <-> %s).\n", lab.NetA, lab.NetB)
	case lab.Star:
		fmt.Fprintf(stdout, "each spoke sI has connection \"hub\" and the hub has \"sI\", child \"net\" (%s <-> %s for s1, ...), not initiated.\n"+
			"Logs and configs are in %s/<gateway>/.\n", lab.SpokeNet(1), lab.HubNet, l.Dir)
	}
	a := l.Gateways[0]
	fmt.Fprintf(stdout, "\nPoint vicish at gateway %s:\n  vicish --uri %s\n  export VICI_URI=%s\n", a.Name, a.URI, a.URI)
	fmt.Fprintf(stdout, "Or run its own swanctl:\n  vicish lab swanctl %s --dir %s --list-conns\n", a.Name, l.Dir)
	fmt.Fprintf(stdout, "Stop it with:\n  vicish lab down --dir %s\n", l.Dir)
	return 0
}

// findLab picks the lab a command acts on: by dir, by id, or the one lab
// "lab up" started. With several of those running it names them all rather
// than pick one, which may be someone else's; usage is true then.
func findLab(dir, id string) (l *lab.Lab, usage bool, err error) {
	labs, err := lab.Running()
	if err != nil {
		return nil, false, err
	}
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, false, err
		}
		for _, l := range labs {
			if l.Dir == abs {
				return l, false, nil
			}
		}
		return nil, false, fmt.Errorf("no lab runs in %s (see `vicish lab status`)", abs)
	}
	if id != "" {
		for _, l := range labs {
			if l.ID == id {
				return l, false, nil
			}
		}
		return nil, false, fmt.Errorf("no lab with id %s (see `vicish lab status`)", id)
	}
	var up []*lab.Lab
	for _, l := range labs {
		if l.Persistent {
			up = append(up, l)
		}
	}
	switch len(up) {
	case 0:
		return nil, false, errors.New("no lab started by `lab up` is running (labs of running tests are stopped by their tests)")
	case 1:
		return up[0], false, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d labs started by `lab up` are running; say which with --dir D or --id ID:", len(up))
	for _, l := range up {
		fmt.Fprintf(&b, "\n  --id %s  --dir %s  (%s, since %s)", l.ID, l.Dir, l.Describe(), l.Created.Format(time.RFC3339))
	}
	return nil, true, errors.New(b.String())
}

// labCode is the exit code for findLab's error.
func labCode(usage bool) int {
	if usage {
		return 2
	}
	return 1
}

func labDown(args []string, stdout, stderr io.Writer) int {
	fs := newLabFlags("down", stderr)
	dir := fs.String("dir", "", "")
	id := fs.String("id", "", "")
	if !fs.parse(args) || !fs.noArgs() {
		return 2
	}
	l, usage, err := findLab(*dir, *id)
	if err != nil {
		fmt.Fprintf(stderr, "lab down: %v\n", err)
		return labCode(usage)
	}
	if err := l.Down(); err != nil {
		fmt.Fprintf(stderr, "lab down: %s: %v\n", l.ID, err)
		return 1
	}
	fmt.Fprintf(stdout, "lab %s is down (dir %s)\n", l.ID, l.Dir)
	return 0
}

func labStatus(args []string, stdout, stderr io.Writer) int {
	fs := newLabFlags("status", stderr)
	if !fs.parse(args) || !fs.noArgs() {
		return 2
	}
	labs, err := lab.Running()
	if err != nil {
		fmt.Fprintf(stderr, "lab status: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, version.Current())
	if len(labs) == 0 {
		fmt.Fprintln(stdout, "no labs running (start one with `vicish lab up`)")
		return 0
	}
	for _, l := range labs {
		owner := "started by `lab up`"
		if pid, alive := l.Owner(); !l.Persistent {
			owner = fmt.Sprintf("owned by pid %d", pid)
			if !alive {
				owner += " (gone: cleared at the next lab start)"
			}
		}
		fmt.Fprintf(stdout, "lab %s  %s  dir %s  %s  since %s\n", l.ID, l.Describe(), l.Dir, owner, l.Created.Format(time.RFC3339))
		for _, g := range l.Gateways {
			state := "answers"
			version := g.Version()
			if !g.Running() {
				state = "not running"
			} else if v, err := askVersion(g); err != nil {
				state = "does not answer: " + err.Error()
			} else {
				version = v
			}
			if version == "" {
				version = "?"
			}
			fmt.Fprintf(stdout, "  gateway %s  strongSwan %s (%s)  pid %d  %s  %s\n", g.Name, version, g.Daemon, g.PID(), g.URI, state)
		}
	}
	return 0
}

// askVersion asks a gateway for its version, giving up after 3 seconds.
func askVersion(g *lab.Gateway) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return g.AskVersion(ctx)
}

func labRoot(args []string, stdout, stderr io.Writer) int {
	fs := newLabFlags("root", stderr)
	rebuild := fs.Bool("rebuild", false, "")
	if !fs.parse(args) || !fs.noArgs() {
		return 2
	}
	ctx, cancel := labContext(30 * time.Minute)
	defer cancel()
	ensure := lab.EnsureNewestRoot
	if *rebuild {
		ensure = lab.RebuildNewestRoot
	}
	root, err := ensure(ctx, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "lab root: %v\n", err)
		return 1
	}
	version, err := lab.RootVersion(root)
	if err != nil {
		fmt.Fprintf(stderr, "lab root: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "newest root %s: strongSwan %s (Debian %s)\n", root, version, lab.NewestSuite)
	return 0
}

// findGateway finds gateway name of the lab chosen by dir or id.
func findGateway(verb, name, dir, id string, stderr io.Writer) (*lab.Lab, *lab.Gateway, int) {
	l, usage, err := findLab(dir, id)
	if err != nil {
		fmt.Fprintf(stderr, "lab %s: %v\n", verb, err)
		return nil, nil, labCode(usage)
	}
	g := l.Gateway(name)
	if g == nil {
		var names []string
		for _, g := range l.Gateways {
			names = append(names, g.Name)
		}
		fmt.Fprintf(stderr, "lab %s: lab %s has no gateway %q (it has %s)\n", verb, l.ID, name, strings.Join(names, ", "))
		return nil, nil, 1
	}
	return l, g, 0
}

// labGateway implements "lab kill GW" and "lab restart GW".
func labGateway(verb string, args []string, stdout, stderr io.Writer) int {
	fs := newLabFlags(verb, stderr)
	dir := fs.String("dir", "", "")
	id := fs.String("id", "", "")
	if !fs.parse(args) {
		return 2
	}
	// The gateway may come before or after the flags.
	var rest []string
	for fs.NArg() > 0 {
		rest = append(rest, fs.Arg(0))
		if !fs.parse(fs.Args()[1:]) {
			return 2
		}
	}
	if len(rest) != 1 {
		fmt.Fprintf(stderr, "lab %s: want one gateway name (e.g. `vicish lab %s b`), got %d arguments\n", verb, verb, len(rest))
		return 2
	}
	l, g, code := findGateway(verb, rest[0], *dir, *id, stderr)
	if g == nil {
		return code
	}
	if verb == "kill" {
		pid := g.PID()
		if !g.Running() {
			fmt.Fprintf(stderr, "lab kill: gateway %s of lab %s is not running (restart it with `vicish lab restart %s --dir %s`)\n", g.Name, l.ID, g.Name, l.Dir)
			return 1
		}
		if err := g.Kill(); err != nil {
			fmt.Fprintf(stderr, "lab kill: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "gateway %s of lab %s killed (SIGKILL, pid %d); bring it back with `vicish lab restart %s --dir %s`\n", g.Name, l.ID, pid, g.Name, l.Dir)
		return 0
	}
	ctx, cancel := labContext(time.Minute)
	defer cancel()
	if err := g.Restart(ctx); err != nil {
		fmt.Fprintf(stderr, "lab restart: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "gateway %s of lab %s restarted: strongSwan %s (%s), pid %d, %s\n", g.Name, l.ID, g.Version(), g.Daemon, g.PID(), g.URI)
	return 0
}

// labSwanctl implements "lab swanctl GW [--dir D | --id ID] ARGS...": the
// lab's options come before swanctl's, which are passed on untouched.
func labSwanctl(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var dir, id, gw string
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "dir" || name == "id") {
			if !hasValue {
				if i+1 == len(args) {
					fmt.Fprintf(stderr, "lab swanctl: %s needs a value\n", a)
					return 2
				}
				i++
				value = args[i]
			}
			if name == "dir" {
				dir = value
			} else {
				id = value
			}
			continue
		}
		if gw != "" || strings.HasPrefix(a, "-") {
			break
		}
		gw = a
	}
	if gw == "" {
		fmt.Fprintf(stderr, "lab swanctl: want a gateway name before swanctl's arguments (e.g. `vicish lab swanctl a --list-sas`)\n")
		return 2
	}
	rest := args[i:]
	if len(rest) > 0 && rest[0] == "--" {
		rest = rest[1:]
	}
	_, g, code := findGateway("swanctl", gw, dir, id, stderr)
	if g == nil {
		return code
	}
	ctx, stop := signalContext(context.Background())
	defer stop()
	cmd := g.SwanctlCommand(ctx, rest...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintf(stderr, "lab swanctl: %v\n", err)
		return 1
	}
	return 0
}
