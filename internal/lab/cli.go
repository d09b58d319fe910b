package lab

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const usage = `usage: vicish lab up [--dir D] [--topology 1|2|3|star [--gateways N]]
                     [--daemon system|newest|GW=DAEMON,...]
       vicish lab down [--dir D | --id ID]
       vicish lab status
       vicish lab kill GW [--dir D | --id ID]
       vicish lab restart GW [--dir D | --id ID]
       vicish lab root [--rebuild]

up      starts real charon daemons that keep running after this command:
        1 = gateway a alone; 2 (default) = a and b with connection "ab" (child "net");
        3 = failover: a with "primary" (to b) and "backup" (to c);
        star = a hub and N spokes s1..sN (--gateways N, default 3, up to 200),
        spoke sI with connection "hub", the hub with "sI".
        --daemon system (default) runs the host's strongSwan, newest the one of
        Debian testing (built once with debootstrap, see root); a=newest,b=system
        mixes them per gateway.
        Prints each gateway's vici socket, its strongSwan version and how to
        point vicish at it.
down    stops the lab started in D (or with that id; default: the most
        recent lab started by "lab up") and removes what it created.
status  lists the labs on this machine, each gateway's strongSwan and whether
        its daemon answers.
kill    SIGKILLs gateway GW's charon, as a crash would; its socket file and
        configuration stay (to test a hook or script against a dying daemon).
restart starts gateway GW's charon again (stopping it first if it runs),
        waits until it answers and loads its swanctl.conf, as a service would.
        Both act on the lab in D (or with that id; default: the most recent
        lab started by "lab up").
root    builds (once per machine) or checks the newest strongSwan's root file
        system under /var/cache/vicish-lab and prints its version; --rebuild
        builds it again (to follow Debian testing) while no lab uses it.
`

// Command implements "lab up|down|status" for the vicish command line and
// returns the process exit code (0 ok, 1 failure, 2 usage error).
func Command(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "up":
		return cmdUp(args[1:], stdout, stderr)
	case "down":
		return cmdDown(args[1:], stdout, stderr)
	case "status":
		return cmdStatus(args[1:], stdout, stderr)
	case "root":
		return cmdRoot(args[1:], stdout, stderr)
	case "kill", "restart":
		return cmdGateway(args[0], args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "lab: unknown command %q\n%s", args[0], usage)
	return 2
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("lab "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	return fs
}

func cmdUp(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("up", stderr)
	dir := fs.String("dir", "", "directory for sockets, logs and configs (default: a new temp dir)")
	topo := fs.String("topology", "2", "1 (one gateway), 2 (two gateways) or 3 (failover)")
	daemon := fs.String("daemon", "system", "system, newest, or GW=DAEMON pairs (a=newest,b=system)")
	spokes := fs.Int("gateways", -1, "number of spokes of a star (1 to 200; default 3)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lab up: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	t, err := ParseTopology(*topo)
	if err != nil {
		fmt.Fprintf(stderr, "lab up: %v\n", err)
		return 2
	}
	all, per, err := ParseDaemons(*daemon)
	if err != nil {
		fmt.Fprintf(stderr, "lab up: --daemon: %v\n", err)
		return 2
	}
	switch {
	case *spokes == -1 && t == Star:
		*spokes = 3
	case *spokes == -1:
		*spokes = 0
	case t != Star:
		fmt.Fprintf(stderr, "lab up: --gateways is for --topology star\n")
		return 2
	}
	cfg := Config{Dir: *dir, Topology: t, Spokes: *spokes, Daemon: all, Daemons: per, Persistent: true, Progress: stdout}
	if err := cfg.checkTopology(); err != nil {
		fmt.Fprintf(stderr, "lab up: %v\n", err)
		return 2
	}
	if err := cfg.checkDaemons(cfg.gatewayNames()); err != nil {
		fmt.Fprintf(stderr, "lab up: --daemon: %v\n", err)
		return 2
	}
	if *dir != "" {
		abs, err := filepath.Abs(*dir)
		if err == nil {
			if reg, rerr := openRegistry(); rerr == nil {
				for _, st := range reg.list() {
					if st.Dir == abs {
						fmt.Fprintf(stderr, "lab up: lab %s already uses %s; run `lab down --dir %s` first\n", st.ID, abs, abs)
						return 1
					}
				}
			}
		}
	}
	ctx, cancel := signalContext(30 * time.Minute) // the first newest lab builds its root
	defer cancel()
	begin := time.Now()
	l, err := Up(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "lab up: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "lab %s is up (%s, %v), dir %s\n", l.ID, l.describe(), time.Since(begin).Round(time.Millisecond), l.Dir)
	for _, g := range l.Gateways {
		fmt.Fprintf(stdout, "  gateway %s  strongSwan %s (%s)  pid %d  netns %s  addr %s\n", g.Name, g.Version(), g.Daemon, g.PID(), g.Netns, strings.Join(g.Addrs, ","))
		if len(l.Gateways) <= 3 {
			fmt.Fprintf(stdout, "    socket  %s\n    log     %s\n    config  %s\n", g.URI, g.LogPath, g.ConfDir)
		} else {
			fmt.Fprintf(stdout, "    socket  %s\n", g.URI)
		}
	}
	switch l.Topology {
	case TwoGateways:
		fmt.Fprintf(stdout, "connection \"ab\" (child \"net\", %s <-> %s) is loaded on a and b, not initiated.\n", NetA, NetB)
	case Failover:
		fmt.Fprintf(stdout, "a has \"primary\" (to b) and \"backup\" (to c), each with child \"net\" (%s <-> %s).\n", NetA, NetB)
	case Star:
		fmt.Fprintf(stdout, "each spoke sI has connection \"hub\" and the hub has \"sI\", child \"net\" (%s <-> %s for s1, ...), not initiated.\n"+
			"Logs and configs are in %s/<gateway>/.\n", SpokeNet(1), HubNet, l.Dir)
	}
	a := l.Gateways[0]
	fmt.Fprintf(stdout, "\nPoint vicish at gateway %s:\n  vicish --uri %s\n  export VICI_URI=%s\n", a.Name, a.URI, a.URI)
	fmt.Fprintf(stdout, "Or swanctl:\n  STRONGSWAN_CONF=%s SWANCTL_DIR=%s swanctl --list-conns\n",
		filepath.Join(a.ConfDir, "strongswan.conf"), a.ConfDir)
	if a.Daemon == NewestDaemon {
		fmt.Fprintf(stdout, "  (that is the host's swanctl; the newest one runs with\n   unshare -m sh -c 'mount --bind %[1]s/etc/ld.so.cache /etc/ld.so.cache && mount --bind %[1]s/usr /usr && exec swanctl --list-conns')\n", a.root)
	}
	fmt.Fprintf(stdout, "Stop it with:\n  vicish lab down --dir %s\n", l.Dir)
	return 0
}

func cmdDown(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("down", stderr)
	dir := fs.String("dir", "", "directory of the lab to stop")
	id := fs.String("id", "", "id of the lab to stop")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lab down: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	reg, err := openRegistry()
	if err != nil {
		fmt.Fprintf(stderr, "lab down: %v\n", err)
		return 1
	}
	st, err := findLab(reg, *dir, *id)
	if err != nil {
		fmt.Fprintf(stderr, "lab down: %v\n", err)
		return 1
	}
	if err := st.teardown(reg); err != nil {
		fmt.Fprintf(stderr, "lab down: %s: %v\n", st.ID, err)
		return 1
	}
	fmt.Fprintf(stdout, "lab %s is down (dir %s)\n", st.ID, st.Dir)
	return 0
}

// findLab picks the lab to stop: by dir, by id, or the newest persistent one.
func findLab(reg *registry, dir, id string) (*labState, error) {
	labs := reg.list()
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		for _, st := range labs {
			if st.Dir == abs {
				return st, nil
			}
		}
		return nil, fmt.Errorf("no lab runs in %s (see `lab status`)", abs)
	}
	if id != "" {
		for _, st := range labs {
			if st.ID == id {
				return st, nil
			}
		}
		return nil, fmt.Errorf("no lab with id %s (see `lab status`)", id)
	}
	for _, st := range labs {
		if st.Persistent {
			return st, nil
		}
	}
	return nil, errors.New("no lab started by `lab up` is running (labs of running tests are stopped by their tests)")
}

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("status", stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lab status: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	reg, err := openRegistry()
	if err != nil {
		fmt.Fprintf(stderr, "lab status: %v\n", err)
		return 1
	}
	labs := reg.list()
	if len(labs) == 0 {
		fmt.Fprintln(stdout, "no labs running (start one with `lab up`)")
		return 0
	}
	for _, st := range labs {
		owner := "started by `lab up`"
		if !st.Persistent {
			owner = fmt.Sprintf("owned by pid %d", st.OwnerPID)
			if !processAlive(st.OwnerPID, st.OwnerStart) {
				owner += " (gone: cleared at the next lab start)"
			}
		}
		fmt.Fprintf(stdout, "lab %s  %s  dir %s  %s  since %s\n", st.ID, st.Topology, st.Dir, owner, st.Created.Format(time.RFC3339))
		for _, g := range st.Gateways {
			state := "answers"
			version := g.Version
			if !isLabDaemon(g.PID, st.ID, g.Name) {
				state = "not running"
			} else if v, err := probe(strings.TrimPrefix(g.URI, "unix://")); err != nil {
				state = "does not answer: " + err.Error()
			} else {
				version = v
			}
			daemon := g.Daemon
			if daemon == "" {
				daemon = SystemDaemon
			}
			if version == "" {
				version = "?"
			}
			fmt.Fprintf(stdout, "  gateway %s  strongSwan %s (%s)  pid %d  %s  %s\n", g.Name, version, daemon, g.PID, g.URI, state)
		}
	}
	return 0
}

// probe asks a socket for the daemon version, giving up after 3 seconds.
func probe(socket string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return daemonVersion(ctx, socket)
}

func cmdRoot(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("root", stderr)
	rebuild := fs.Bool("rebuild", false, "build it again even if complete (no lab may use it)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lab root: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ctx, cancel := signalContext(30 * time.Minute)
	defer cancel()
	ensure := EnsureNewestRoot
	if *rebuild {
		ensure = RebuildNewestRoot
	}
	root, err := ensure(ctx, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "lab root: %v\n", err)
		return 1
	}
	version, err := RootVersion(root)
	if err != nil {
		fmt.Fprintf(stderr, "lab root: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "newest root %s: strongSwan %s (Debian %s)\n", root, version, NewestSuite)
	return 0
}

// signalContext is a context that ends after d or at SIGINT/SIGTERM.
func signalContext(d time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, func() { cancel(); stop() }
}

// cmdGateway implements "lab kill GW" and "lab restart GW".
func cmdGateway(verb string, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(verb, stderr)
	dir := fs.String("dir", "", "directory of the lab")
	id := fs.String("id", "", "id of the lab")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// The gateway may come before or after the flags.
	var rest []string
	for fs.NArg() > 0 {
		rest = append(rest, fs.Arg(0))
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return 2
		}
	}
	if len(rest) != 1 {
		fmt.Fprintf(stderr, "lab %s: want one gateway name (e.g. `lab %s b`), got %d arguments\n", verb, verb, len(rest))
		return 2
	}
	reg, err := openRegistry()
	if err != nil {
		fmt.Fprintf(stderr, "lab %s: %v\n", verb, err)
		return 1
	}
	st, err := findLab(reg, *dir, *id)
	if err != nil {
		fmt.Fprintf(stderr, "lab %s: %v\n", verb, err)
		return 1
	}
	l := labFromState(reg, st)
	g := l.Gateway(rest[0])
	if g == nil {
		var names []string
		for _, g := range l.Gateways {
			names = append(names, g.Name)
		}
		fmt.Fprintf(stderr, "lab %s: lab %s has no gateway %q (it has %s)\n", verb, l.ID, rest[0], strings.Join(names, ", "))
		return 1
	}
	if verb == "kill" {
		pid := g.PID()
		if g.exited() {
			fmt.Fprintf(stderr, "lab kill: gateway %s of lab %s is not running (restart it with `lab restart %s --dir %s`)\n", g.Name, l.ID, g.Name, l.Dir)
			return 1
		}
		if err := g.Kill(); err != nil {
			fmt.Fprintf(stderr, "lab kill: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "gateway %s of lab %s killed (SIGKILL, pid %d); bring it back with `vicish lab restart %s --dir %s`\n", g.Name, l.ID, pid, g.Name, l.Dir)
		return 0
	}
	ctx, cancel := signalContext(time.Minute)
	defer cancel()
	if err := g.Restart(ctx); err != nil {
		fmt.Fprintf(stderr, "lab restart: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "gateway %s of lab %s restarted: strongSwan %s (%s), pid %d, %s\n", g.Name, l.ID, g.Version(), g.Daemon, g.PID(), g.URI)
	return 0
}
