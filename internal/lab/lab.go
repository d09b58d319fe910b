// Package lab starts real strongSwan charon daemons on this machine for tests,
// benchmarks and demos.
//
// Every gateway of a lab is a charon process in its own network namespace, with
// its own mount namespace (a private /run, so the compiled-in pid file does not
// clash), its own strongswan.conf, vici socket, log file and swanctl directory.
// Gateways talk over veth links that exist only inside the lab's namespaces,
// using documentation addresses, and install CHILD_SAs with kernel-libipsec.
// Several labs can run at the same time; a lab left behind by a crashed test
// run is found and cleared by the next Up.
//
// A gateway runs the host's strongSwan or the newest one (Debian testing's,
// see NewestRoot), chosen per gateway (Config.Daemon, Config.Daemons). The
// topologies go from one gateway to a star of a hub and up to MaxSpokes
// spokes; StartSSHD adds a real OpenSSH server to a gateway. Running finds
// the labs of this machine again from another process. Package labtest
// starts labs from Go tests; `vicish lab` (cmd/vicish) is the command line.
package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config describes a lab to start with Up.
type Config struct {
	// Dir is where the gateways' files live (sockets, logs, configs). Empty
	// means a fresh temporary directory. Down removes a directory Up created
	// and, from a directory that existed, every entry that was not there
	// before Up. The path must be short enough for unix socket names and
	// must not be under /run.
	Dir string
	// Topology selects the gateways; zero means OneGateway.
	Topology Topology
	// Spokes is the number of spokes of a Star (1 to MaxSpokes).
	Spokes int
	// Daemon is the strongSwan every gateway runs; empty means SystemDaemon.
	Daemon Daemon
	// Daemons chooses the daemon per gateway name, overriding Daemon, for a
	// mixed lab: e.g. {"a": NewestDaemon} runs a with Debian testing's
	// strongSwan and the others with Daemon.
	Daemons map[string]Daemon
	// Progress receives what a build of the newest root prints (nil: the
	// messages are dropped). The root is built at most once per machine.
	Progress io.Writer
	// Persistent labs are not cleared as stale when the process that started
	// them exits (used by "lab up", which leaves daemons running).
	Persistent bool

	copyCharon bool // run a copy of the binary even without AppArmor (tests)
}

// Lab is a running set of gateways. Call Down when done.
type Lab struct {
	// ID is the lab's short random name; it appears in netns names.
	ID string
	// Dir holds one subdirectory per gateway.
	Dir string
	// Topology is what was started.
	Topology Topology
	// Spokes is the number of spokes of a Star, else 0.
	Spokes int
	// Gateways lists the gateways in name order.
	Gateways []*Gateway
	// Persistent is Config.Persistent: the lab outlives its starter.
	Persistent bool
	// Created is when the lab was started.
	Created time.Time

	ownDir bool     // Up created Dir: Down removes it
	kept   []string // entries of a user's Dir before Up (nil: remove none)
	links  []link

	mu    sync.Mutex // guards sshds and the registry record's updates
	sshds []*SSHD    // servers StartSSHD started, stopped by Down
	reg   *registry
	st    *labState
}

func (l *Lab) currentState() *labState { return l.st }

// Static addresses and secrets of the preloaded configuration.
const (
	// PSK is the pre-shared key of every preloaded and bulk connection.
	PSK = "vicish-lab-secret"
	// NetA is the traffic selector behind gateway "a"; "a" has LocalA on lo.
	NetA = "10.1.0.0/24"
	// NetB is the traffic selector behind "b" (and "c" in Failover); they
	// have LocalB on lo.
	NetB = "10.2.0.0/24"
	// LocalA is an address of "a" inside NetA, the source for tunnel traffic.
	LocalA = "10.1.0.1"
	// LocalB is an address of "b" and "c" inside NetB.
	LocalB = "10.2.0.1"
)

// shortTempDir creates a temporary directory, falling back to /tmp when
// $TMPDIR is too long for socket paths.
func shortTempDir() (string, error) {
	base := os.TempDir()
	if len(base)+40 > maxSocketPath || underRun(base) {
		base = "/tmp"
	}
	return os.MkdirTemp(base, "vicish-lab-")
}

// Up starts the lab described by cfg and waits until every gateway's vici
// socket answers and the preloaded configuration is loaded. It first clears
// labs left behind by processes that no longer exist.
func Up(ctx context.Context, cfg Config) (l *Lab, err error) {
	if err := Check(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	newestRoot := ""
	for _, n := range cfg.gatewayNames() {
		if cfg.daemonFor(n) == NewestDaemon {
			if newestRoot, err = EnsureNewestRoot(ctx, cfg.Progress); err != nil {
				return nil, err
			}
			break
		}
	}
	reg, err := openRegistry()
	if err != nil {
		return nil, err
	}
	reg.clearStale()

	l = &Lab{ID: newID(), Topology: cfg.Topology, Spokes: cfg.Spokes, Persistent: cfg.Persistent, Created: time.Now(), links: cfg.links(), reg: reg}
	if err := l.makeDir(cfg); err != nil {
		return nil, err
	}
	l.Gateways = newGateways(l, &cfg)
	binaries := map[Daemon]string{}
	for _, g := range l.Gateways {
		g.Daemon = cfg.daemonFor(g.Name)
		if g.Daemon == NewestDaemon {
			g.root = newestRoot
		}
		if _, ok := binaries[g.Daemon]; !ok {
			if binaries[g.Daemon], err = charonBinary(l.Dir, g.root, g.Daemon, cfg.copyCharon); err != nil {
				l.cleanupDir()
				return nil, err
			}
		}
		g.charon = binaries[g.Daemon]
	}

	st := l.state(cfg.Persistent)
	l.st = st
	if err := reg.save(st); err != nil {
		l.cleanupDir()
		return nil, err
	}
	defer func() {
		if err != nil {
			if derr := l.Down(); derr != nil {
				err = fmt.Errorf("%w (and cleaning up: %v)", err, derr)
			}
			l = nil
		}
	}()
	if err := l.setupNetwork(ctx); err != nil {
		return l, err
	}
	for _, g := range l.Gateways {
		if err := g.writeConfig(); err != nil {
			return l, err
		}
		if err := g.start(ctx); err != nil {
			return l, err
		}
		st.Gateways = l.gatewayStates()
		if err := reg.save(st); err != nil {
			return l, err
		}
	}
	err = firstError(l.eachGateway(ctx, func(ctx context.Context, g *Gateway) error {
		if err := g.waitReady(ctx); err != nil {
			return err
		}
		return g.loadAll(ctx)
	}))
	if err != nil {
		return l, err
	}
	st.Gateways = l.gatewayStates() // now with the daemons' versions
	if err := reg.save(st); err != nil {
		return l, err
	}
	return l, nil
}

// Gateway returns the gateway with the given name ("a", "b" or "c"), or nil.
func (l *Lab) Gateway(name string) *Gateway {
	for _, g := range l.Gateways {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// Down stops every daemon (SIGTERM, then SIGKILL), deletes the namespaces and
// removes the lab's directory if the lab created it. It is safe to call twice.
func (l *Lab) Down() error {
	var errs []error
	errs = append(errs, l.stopSSHDs()...)
	// Each stop waits for its daemon to exit; stop them side by side.
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, g := range l.Gateways {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.stop(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	errs = append(errs, stopMarked(l.ID, markedProcesses(l.ID))...) // e.g. a start cut short
	for _, ns := range l.netnsNames() {
		if err := deleteNetns(ns); err != nil {
			errs = append(errs, err)
		}
	}
	l.cleanupDir()
	if l.reg != nil {
		l.reg.remove(l.ID)
	}
	return errors.Join(errs...)
}

// makeDir sets up the lab's directory: a new temporary one, or cfg.Dir,
// created if missing. In a directory that exists it notes the entries
// already there, which Down keeps, and refuses one that already holds a
// gateway's directory (an earlier lab's, or the user's own files, which
// the gateway's configuration would overwrite).
func (l *Lab) makeDir(cfg Config) error {
	if cfg.Dir == "" {
		dir, err := shortTempDir()
		if err != nil {
			return fmt.Errorf("create lab dir: %w", err)
		}
		l.Dir, l.ownDir = dir, true
		return nil
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return err
	}
	if underRun(dir) {
		return fmt.Errorf("lab dir %s is under /run, which each gateway replaces with its own; choose a directory elsewhere (e.g. under /tmp)", dir)
	}
	if sock := filepath.Join(dir, "a", "charon.vici"); len(sock) > maxSocketPath {
		return fmt.Errorf("%w: %s is %d bytes, unix sockets allow %d; choose a shorter --dir (e.g. /tmp/lab)", ErrSocketPath, sock, len(sock), maxSocketPath)
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create lab dir: %w", err)
		}
		l.Dir, l.ownDir = dir, true
		return nil
	}
	if err != nil {
		return fmt.Errorf("lab dir: %w", err)
	}
	kept := []string{}
	for _, e := range entries {
		kept = append(kept, e.Name())
	}
	for _, name := range append(cfg.gatewayNames(), "charon", "charon-newest") {
		if slices.Contains(kept, name) {
			return fmt.Errorf("lab dir %s already holds %s (an earlier lab's? lab down removes what lab up created): remove it or choose another directory", dir, name)
		}
	}
	l.Dir, l.kept = dir, kept
	return nil
}

// cleanupDir removes what Up created in the lab's directory: all of it if
// Up created the directory, else every entry that was not there before.
func (l *Lab) cleanupDir() {
	if l.Dir == "" || l.Dir == "/" || underRun(l.Dir) {
		return
	}
	if l.ownDir {
		os.RemoveAll(l.Dir)
		return
	}
	if l.kept == nil { // a lab recorded before the entries were
		return
	}
	entries, _ := os.ReadDir(l.Dir)
	for _, e := range entries {
		if !slices.Contains(l.kept, e.Name()) {
			os.RemoveAll(filepath.Join(l.Dir, e.Name()))
		}
	}
}

func (l *Lab) netnsNames() []string {
	var names []string
	for _, g := range l.Gateways {
		names = append(names, g.Netns)
	}
	return names
}

func newID() string {
	var b [3]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func underRun(dir string) bool {
	for _, p := range []string{"/run", "/var/run"} {
		if dir == p || strings.HasPrefix(dir, p+"/") {
			return true
		}
	}
	return false
}
