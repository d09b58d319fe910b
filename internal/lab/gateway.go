package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Gateway is one charon daemon of a lab.
type Gateway struct {
	// Name is "a", "b" or "c".
	Name string
	// URI is the vici socket as a URI, "unix://<Dir>/<name>/charon.vici".
	URI string
	// Socket is the vici socket's path.
	Socket string
	// Netns is the gateway's network namespace (see `ip netns list`).
	Netns string
	// Addr is its address on the (first) lab link, e.g. "192.0.2.1".
	Addr string
	// Addrs lists its addresses on all lab links ("a" has two in Failover).
	Addrs []string
	// LogPath is charon's log file (flushed per line).
	LogPath string
	// ConfDir holds strongswan.conf and swanctl.conf; it is the gateway's
	// SWANCTL_DIR (with x509/, private/, ... subdirectories) and conf.d/
	// for extra *.conf files included by swanctl.conf.
	ConfDir string
	// Daemon is the strongSwan this gateway runs (system or newest).
	Daemon Daemon

	lab    *Lab
	root   string // the newest root for NewestDaemon, "" for the system's
	charon string // daemon binary as seen in the gateway's mount namespace
	lo     string // address on lo, inside the gateway's own traffic selector
	conns  []connSpec

	mu      sync.Mutex
	cmd     *exec.Cmd
	pid     int
	done    chan struct{} // closed when the process started by this handle exits
	version string        // what the daemon's vici "version" reply said
}

// deleteNetns ends every process still in the lab namespace ns (e.g. a
// command a test started there, or an sshd session) and deletes it.
func deleteNetns(ns string) error {
	if _, err := os.Stat("/run/netns/" + ns); err != nil {
		return nil
	}
	if err := killNetnsProcesses(ns); err != nil {
		return err
	}
	out, err := exec.Command("ip", "netns", "delete", ns).CombinedOutput()
	if err != nil {
		if _, serr := os.Stat("/run/netns/" + ns); serr != nil {
			return nil
		}
		return fmt.Errorf("ip netns delete %s: %v: %s", ns, err, bytes.TrimSpace(out))
	}
	return nil
}

// env is the environment for charon and swanctl of this gateway.
func (g *Gateway) env() []string {
	return append(os.Environ(),
		"STRONGSWAN_CONF="+filepath.Join(g.ConfDir, "strongswan.conf"),
		"SWANCTL_DIR="+g.ConfDir,
	)
}

// start launches charon in the gateway's namespaces. It does not wait.
func (g *Gateway) start(ctx context.Context) error {
	runDir := filepath.Join(g.ConfDir, "run")
	os.Remove(filepath.Join(runDir, "charon.pid"))
	out, err := os.OpenFile(filepath.Join(g.ConfDir, "charon.stdout"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	// ip netns exec gives the command its own mount namespace (a slave of
	// the host's, so nothing mounted there leaks out); binding a private
	// directory over /run there keeps charon's compiled-in pid file apart.
	// A newest gateway also gets the root's /usr (programs, libraries,
	// plugins) and its ld.so.cache there; /usr comes last, since the
	// mount program itself lives in /usr.
	script := `mount --bind "$0" /run && exec "$1"`
	if g.root != "" {
		script = `mount --bind "$0" /run && mount --bind "$2/etc/ld.so.cache" /etc/ld.so.cache && mount --bind "$2/usr" /usr && exec "$1"`
	}
	cmd := exec.Command("ip", "netns", "exec", g.Netns, "sh", "-c", script, runDir, g.charon, g.root)
	cmd.Env = append(g.env(), markerEnv+"="+g.lab.ID+"/"+g.Name)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start charon for gateway %s: %w", g.Name, err)
	}
	done := make(chan struct{})
	g.mu.Lock()
	g.cmd, g.pid, g.done = cmd, cmd.Process.Pid, done
	g.mu.Unlock()
	go func() {
		cmd.Wait()
		close(done)
	}()
	return nil
}

// PID returns the process id of the daemon last started for this gateway
// (0 before the first start; it may have exited since, e.g. after Kill).
func (g *Gateway) PID() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pid
}

func (g *Gateway) exited() bool {
	g.mu.Lock()
	pid, done := g.pid, g.done
	g.mu.Unlock()
	if done == nil { // not started by this process (see labFromState)
		return pid == 0 || !isLabDaemon(pid, g.lab.ID, g.Name) || isZombie(pid)
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// Running reports whether the gateway's daemon runs (it may still be
// starting, or no longer answer).
func (g *Gateway) Running() bool { return !g.exited() }

// AskVersion asks the daemon for its strongSwan version now, over the vici
// socket ("version" command).
func (g *Gateway) AskVersion(ctx context.Context) (string, error) {
	return daemonVersion(ctx, g.Socket)
}

// waitReady polls until the vici socket answers a real "version" request.
func (g *Gateway) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last error
	for {
		if g.exited() {
			return fmt.Errorf("gateway %s: charon exited during start-up; log tail:\n%s", g.Name, g.diagTail(30))
		}
		var version string
		if version, last = daemonVersion(ctx, g.Socket); last == nil {
			g.mu.Lock()
			g.version = version
			g.mu.Unlock()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gateway %s: vici socket %s does not answer (%v); log tail:\n%s", g.Name, g.Socket, last, g.diagTail(30))
		case <-time.After(15 * time.Millisecond):
		}
	}
}

// diagTail is the log tail plus anything charon wrote to stdout/stderr.
func (g *Gateway) diagTail(n int) string {
	s := g.LogTail(n)
	if b, _ := os.ReadFile(filepath.Join(g.ConfDir, "charon.stdout")); len(bytes.TrimSpace(b)) > 0 {
		s += "\n--- stdout/stderr ---\n" + tailLines(string(b), n)
	}
	return s
}

// loadAll loads the gateway's swanctl.conf (like strongswan.service does).
func (g *Gateway) loadAll(ctx context.Context) error {
	if out, err := g.Swanctl(ctx, "--load-all", "--noprompt"); err != nil {
		return fmt.Errorf("gateway %s: swanctl --load-all: %v\n%s", g.Name, err, out)
	}
	return nil
}

// LoadConfig replaces the gateway's swanctl.conf with conf and loads it
// (swanctl --load-all: connections, secrets and pools not in it are
// unloaded), as a test that brings the operator's own configuration does.
// Files conf includes or names relative to the configuration directory
// are looked for in ConfDir.
func (g *Gateway) LoadConfig(ctx context.Context, conf []byte) error {
	if err := os.WriteFile(filepath.Join(g.ConfDir, "swanctl.conf"), conf, 0o600); err != nil {
		return fmt.Errorf("gateway %s: %w", g.Name, err)
	}
	return g.loadAll(ctx)
}

// Version returns the strongSwan version the daemon reported when it last
// became ready (e.g. "5.9.8" or "6.1.0"), "" before that.
func (g *Gateway) Version() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.version
}

// Swanctl runs swanctl against this gateway (see SwanctlCommand) and
// returns its combined output.
func (g *Gateway) Swanctl(ctx context.Context, args ...string) ([]byte, error) {
	out, err := g.SwanctlCommand(ctx, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("swanctl %s (gateway %s): %w", strings.Join(args, " "), g.Name, err)
	}
	return out, nil
}

// SwanctlCommand returns the command that runs swanctl against this
// gateway (its STRONGSWAN_CONF, socket and SWANCTL_DIR), for the caller to
// give its input and output. It is the swanctl of the gateway's own
// strongSwan: for a newest gateway the root's, run in a private mount
// namespace with the root's /usr, so file arguments name the same paths as
// for the system's.
func (g *Gateway) SwanctlCommand(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "swanctl", args...)
	if g.root != "" {
		cmd = exec.CommandContext(ctx, "unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c",
			`mount --bind "$0/etc/ld.so.cache" /etc/ld.so.cache && mount --bind "$0/usr" /usr && exec /usr/sbin/swanctl "$@"`, g.root}, args...)...)
	}
	cmd.Env = g.env()
	return cmd
}

// Exec runs a command inside the gateway's network namespace and returns its
// combined output.
func (g *Gateway) Exec(ctx context.Context, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("lab: Exec needs a command")
	}
	out, err := run(ctx, nil, "ip", append([]string{"netns", "exec", g.Netns}, argv...)...)
	if err != nil {
		return out, fmt.Errorf("%s in %s: %w", strings.Join(argv, " "), g.Netns, err)
	}
	return out, nil
}

// Kill sends SIGKILL to the daemon and waits until it is gone. The socket
// file and configuration stay, so Restart can bring it back.
func (g *Gateway) Kill() error {
	g.mu.Lock()
	pid, done := g.pid, g.done
	g.mu.Unlock()
	if pid == 0 || !isLabDaemon(pid, g.lab.ID, g.Name) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill gateway %s (pid %d): %w", g.Name, pid, err)
	}
	return g.waitGone(pid, done, 5*time.Second)
}

func (g *Gateway) waitGone(pid int, done chan struct{}, d time.Duration) error {
	if done != nil {
		select {
		case <-done:
			return nil
		case <-time.After(d):
			return fmt.Errorf("gateway %s (pid %d) did not exit", g.Name, pid)
		}
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !isLabDaemon(pid, g.lab.ID, g.Name) || isZombie(pid) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("gateway %s (pid %d) did not exit", g.Name, pid)
}

// Restart starts the daemon again on the same socket and configuration
// (stopping it first if it still runs), waits until it answers and loads
// its swanctl.conf again, as a system service would.
func (g *Gateway) Restart(ctx context.Context) error {
	if !g.exited() {
		if err := g.stop(); err != nil {
			return err
		}
	}
	if err := g.start(ctx); err != nil {
		return err
	}
	g.saveState()
	if err := g.waitReady(ctx); err != nil {
		return err
	}
	g.saveState()
	return g.loadAll(ctx)
}

// saveState records the lab's gateways (pids, versions) in the registry.
func (g *Gateway) saveState() {
	g.lab.mu.Lock()
	defer g.lab.mu.Unlock()
	if g.lab.reg != nil {
		if st := g.lab.currentState(); st != nil {
			st.Gateways = g.lab.gatewayStates()
			g.lab.reg.save(st)
		}
	}
}

// stop ends the daemon gracefully (SIGTERM, SIGKILL after 3 s).
func (g *Gateway) stop() error {
	g.mu.Lock()
	pid, done := g.pid, g.done
	g.mu.Unlock()
	if pid == 0 || g.exited() {
		return nil
	}
	if err := stopPID(pid, g.lab.ID, g.Name); err != nil {
		return err
	}
	return g.waitGone(pid, done, 5*time.Second)
}

// LogTail returns the last n lines of the daemon's log.
func (g *Gateway) LogTail(n int) string {
	b, err := os.ReadFile(g.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return tailLines(string(b), n)
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// run executes a command with an optional stdin and returns its output.
func run(ctx context.Context, stdin io.Reader, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	return bytes.TrimSpace(out), err
}
