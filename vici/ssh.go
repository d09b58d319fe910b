package vici

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// SSHCommandEnv names the environment variable that replaces the OpenSSH
// client command ssh:// URIs run when Options.SSHCommand is empty, split
// on blanks (no quoting), e.g. "ssh -F /etc/vicish/ssh_config".
const SSHCommandEnv = "VICI_SSH_COMMAND"

// defaultRemoteSocket is the socket path an ssh:// URI without a path means.
const defaultRemoteSocket = "/var/run/charon.vici"

// sshTarget is where an ssh:// URI points: the daemon's unix socket Path on
// Host, logged in to as User (empty: ssh's own choice) on Port (empty:
// ssh's own choice).
type sshTarget struct {
	User, Host, Port, Path string
}

// destination is the target as a person writes it, for messages.
func (t sshTarget) destination() string {
	d := t.Host
	if strings.Contains(d, ":") {
		d = "[" + d + "]"
	}
	if t.Port != "" {
		d += ":" + t.Port
	}
	if t.User != "" {
		d = t.User + "@" + d
	}
	return d
}

// parseSSH checks an ssh://[user@]host[:port][/path] URI. No path means
// the daemon's default socket path.
func parseSSH(uri string) (sshTarget, error) {
	bad := func(why string) (sshTarget, error) {
		return sshTarget{}, fmt.Errorf("vici: %q: %s (want ssh://[user@]host[:port]/path/to/charon.vici)", uri, why)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return bad("not a valid URI")
	}
	if u.Opaque != "" || u.Host == "" {
		return bad("no host")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return bad("query strings and fragments are not supported")
	}
	t := sshTarget{Host: u.Hostname(), Port: u.Port(), Path: u.Path}
	if t.Host == "" {
		return bad("no host")
	}
	if strings.HasPrefix(t.Host, "-") {
		return bad("a host name cannot start with '-'")
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return bad("passwords cannot be given in the URI; use a key or the ssh agent")
		}
		t.User = u.User.Username()
		if t.User == "" || strings.HasPrefix(t.User, "-") {
			return bad("the user name is empty or starts with '-'")
		}
	}
	if t.Port != "" {
		if n, err := strconv.Atoi(t.Port); err != nil || n < 1 || n > 65535 {
			return bad("the port must be a number from 1 to 65535")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return bad("empty port")
	}
	if t.Path == "" || t.Path == "/" {
		t.Path = defaultRemoteSocket
	}
	if strings.Contains(t.Path, ":") {
		return bad("the socket path cannot contain ':' (ssh's forwarding syntax splits on it)")
	}
	for _, r := range t.User + t.Host + t.Path {
		if r < ' ' || r == 0x7f {
			return bad("control characters are not allowed")
		}
	}
	return t, nil
}

// sshCommand is the OpenSSH client command line to start: opts.SSHCommand,
// else the SSHCommandEnv variable's words, else "ssh".
func sshCommand(opts Options) []string {
	if len(opts.SSHCommand) > 0 {
		return opts.SSHCommand
	}
	if words := strings.Fields(os.Getenv(SSHCommandEnv)); len(words) > 0 {
		return words
	}
	return []string{"ssh"}
}

// sshArgs are the arguments after the ssh command: forward the local
// socket to t's socket, ask for nothing else, never prompt, and leave
// host-key checking to the user's settings (BatchMode makes an unknown
// key a failure, not a question).
func sshArgs(t sshTarget, local string) []string {
	args := []string{
		"-N", "-T",
		"-o", "BatchMode=yes",
		"-o", "ExitOnForwardFailure=yes",
		"-o", "ControlMaster=no",
		"-o", "ControlPath=none",
		"-o", "StreamLocalBindUnlink=yes",
		"-o", "StreamLocalBindMask=0177",
		"-L", local + ":" + t.Path,
	}
	if t.Port != "" {
		args = append(args, "-p", t.Port)
	}
	if t.User != "" {
		args = append(args, "-l", t.User)
	}
	return append(args, "--", t.Host)
}

// sshTunnel is one running OpenSSH client forwarding a private local
// socket to the daemon's socket on the far host.
type sshTunnel struct {
	target sshTarget
	dir    string // private directory holding the local socket
	cmd    *exec.Cmd
	stderr *tailBuffer
	done   chan struct{} // closed once ssh has exited and been reaped
	stop   sync.Once
}

// dialSSH starts ssh, waits until it forwards the local socket, connects
// through it and checks with a "version" command that the daemon answers
// on the far side. Only ctx bounds the attempt. The connection's Close
// ends ssh.
func dialSSH(ctx context.Context, uri string, opts Options) (net.Conn, error) {
	t, err := parseSSH(uri)
	if err != nil {
		return nil, err
	}
	fail := func(err error, hint string) error { return &DialError{URI: uri, Err: err, hint: hint} }
	dir, err := os.MkdirTemp(sshTempRoot(), "vici-ssh-")
	if err != nil {
		return nil, fail(err, "cannot make a private directory for the forwarded socket: "+err.Error())
	}
	local := filepath.Join(dir, "charon.vici")
	argv := append(append([]string{}, sshCommand(opts)...), sshArgs(t, local)...)
	tun := &sshTunnel{target: t, dir: dir, stderr: &tailBuffer{max: 8 << 10}, done: make(chan struct{})}
	tun.cmd = exec.Command(argv[0], argv[1:]...)
	tun.cmd.Stderr = tun.stderr
	tun.cmd.SysProcAttr = sshProcAttr()
	// ProxyCommand children may hold stderr open after ssh has gone.
	tun.cmd.WaitDelay = time.Second
	if err := tun.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		hint := fmt.Sprintf("cannot start the OpenSSH client %q: %v", argv[0], err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			hint = fmt.Sprintf("the OpenSSH client %q is not installed or not on PATH; ssh:// URIs need it (e.g. apt install openssh-client)", argv[0])
		}
		return nil, fail(err, hint)
	}
	go func() {
		tun.cmd.Wait()
		close(tun.done)
	}()

	nc, err := tun.connect(ctx, local)
	if err != nil {
		tun.close()
		return nil, fail(err, tun.explain(err))
	}
	return &sshConn{Conn: nc, tun: tun}, nil
}

// sshTempRoot is where the private socket directory goes: the system's
// temporary directory unless its path would make the socket path too
// long for a unix socket address.
func sshTempRoot() string {
	root := os.TempDir()
	if len(root) > 64 {
		return "/tmp"
	}
	return root
}

// errSSHExited is the cause when ssh ends before the connection is made.
var errSSHExited = errors.New("ssh exited")

// errFarSide is the cause when the far side closes the forwarded
// connection before the daemon answered.
var errFarSide = errors.New("the forwarded connection closed before the daemon answered")

// connect waits for ssh to listen on the local socket (or to exit), dials
// it and makes one round trip with the daemon. ssh binds the socket before
// it listens, so a refused connection means "not yet" while ssh runs.
func (tun *sshTunnel) connect(ctx context.Context, local string) (net.Conn, error) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var d net.Dialer
	for {
		if fi, err := os.Stat(local); err == nil && fi.Mode()&os.ModeSocket != 0 {
			nc, err := d.DialContext(ctx, "unix", local)
			if err == nil {
				if err := probe(ctx, nc); err != nil {
					nc.Close()
					if ctxErr := ctx.Err(); ctxErr != nil {
						return nil, ctxErr
					}
					return nil, fmt.Errorf("%w: %v", errFarSide, err)
				}
				return nc, nil
			}
			if !errors.Is(err, syscall.ECONNREFUSED) {
				return nil, err
			}
		}
		select {
		case <-tun.done:
			return nil, errSSHExited
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// probe sends a "version" command on nc and reads its answer, so a socket
// that is missing on the far side fails the dial instead of the first
// command. ctx bounds it; nc has no deadline afterwards.
func probe(ctx context.Context, nc net.Conn) error {
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	err := exchangeVersion(nc)
	if !stop() {
		// ctx ended and has (or will have) put the deadline in the
		// past: the connection is not usable.
		return ctx.Err()
	}
	nc.SetDeadline(time.Time{})
	return err
}

// exchangeVersion writes a "version" request and reads one answer.
func exchangeVersion(nc net.Conn) error {
	pkt, err := encodePacket(pktCmdRequest, "version", nil)
	if err != nil {
		return err
	}
	if _, err := nc.Write(pkt); err != nil {
		return err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(nc, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > MaxPacketSize {
		return &ProtocolError{Reason: fmt.Sprintf("answer to the connection check announces %d bytes", n)}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(nc, body); err != nil {
		return err
	}
	if t := packetType(body[0]); t != pktCmdResponse && t != pktCmdUnknown {
		return &ProtocolError{Reason: fmt.Sprintf("%s in answer to the connection check", t)}
	}
	return nil
}

// close ends ssh and what it started (SIGTERM, then SIGKILL if it
// lingers), reaps it and removes the private directory. Safe to call more
// than once.
func (tun *sshTunnel) close() {
	tun.stop.Do(func() {
		select {
		case <-tun.done: // gone and reaped: its pid may belong to another
		default:
			signalGroup(tun.cmd.Process, syscall.SIGTERM)
			select {
			case <-tun.done:
			case <-time.After(2 * time.Second):
				signalGroup(tun.cmd.Process, syscall.SIGKILL)
				<-tun.done
			}
		}
		os.RemoveAll(tun.dir)
	})
}

// explain turns a failed attempt and what ssh wrote into a hint. It is
// called after close, so ssh's output is complete.
func (tun *sshTunnel) explain(err error) string {
	t := tun.target
	out := tun.stderr.String()
	last := strings.TrimPrefix(lastLine(out), "ssh: ")
	said := ""
	if last != "" {
		said = " (ssh: " + last + ")"
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("timed out while ssh was connecting to %s%s", t.destination(), said)
	case errors.Is(err, context.Canceled):
		return "cancelled while ssh was connecting to " + t.destination()
	case strings.Contains(out, "REMOTE HOST IDENTIFICATION HAS CHANGED"):
		return fmt.Sprintf("the host key of %s has CHANGED since it was stored in known_hosts%s: someone may be intercepting the connection, or the host was reinstalled; check the new key's fingerprint with its administrator, then replace the old entry (ssh-keygen -R %s)",
			t.Host, said, t.Host)
	case strings.Contains(out, "host key is known for"), strings.Contains(out, "Host key verification failed"):
		return fmt.Sprintf("the host key of %s is not in known_hosts, and vicish never accepts unknown keys on its own%s: check the key's fingerprint and add it, e.g. by connecting once with ssh %s and answering yes",
			t.Host, said, sshHint(t))
	case strings.Contains(out, "administratively prohibited"):
		return fmt.Sprintf("the ssh server of %s does not allow forwarding to unix sockets%s: set AllowStreamLocalForwarding yes in its sshd_config (and check restrict/no-port-forwarding in authorized_keys)",
			t.Host, said)
	case strings.Contains(out, "open failed"):
		return fmt.Sprintf("ssh logged in to %s but could not open %s there%s: is charon running on %s, is that its socket (charon.plugins.vici.socket), and may the ssh user open it (root or the socket's group)? (ssh says the same when the server refuses forwarding to unix sockets: AllowStreamLocalForwarding in sshd_config, restrict or no-port-forwarding in authorized_keys)",
			t.destination(), t.Path, said, t.Host)
	case strings.Contains(out, "Permission denied"):
		return fmt.Sprintf("the login to %s was refused%s: is your key in the agent or named by IdentityFile in ~/.ssh/config, and listed in the remote user's authorized_keys? (vicish runs ssh with BatchMode=yes, so it never asks for a password)",
			t.destination(), said)
	case strings.Contains(out, "Could not resolve hostname"):
		return fmt.Sprintf("cannot resolve the host name %s%s", t.Host, said)
	case strings.Contains(out, "Connection refused"), strings.Contains(out, "timed out"),
		strings.Contains(out, "No route to host"), strings.Contains(out, "Network is unreachable"),
		strings.Contains(out, "Connection closed by"), strings.Contains(out, "Connection reset"):
		return fmt.Sprintf("cannot reach the ssh server of %s%s", t.destination(), said)
	case errors.Is(err, errFarSide):
		return fmt.Sprintf("ssh logged in to %s but the connection to %s closed before the daemon answered%s: is charon running there with the vici plugin?",
			t.destination(), t.Path, said)
	case errors.Is(err, errSSHExited):
		state := ""
		if ps := tun.cmd.ProcessState; ps != nil {
			state = " (" + ps.String() + ")"
		}
		if last == "" {
			return fmt.Sprintf("ssh to %s ended%s without saying why", t.destination(), state)
		}
		return fmt.Sprintf("ssh to %s failed%s: %s", t.destination(), state, last)
	}
	return fmt.Sprintf("%v%s", err, said)
}

// sshHint is the ssh command line that logs in to t as vicish does.
func sshHint(t sshTarget) string {
	s := ""
	if t.Port != "" {
		s += "-p " + t.Port + " "
	}
	if t.User != "" {
		s += t.User + "@"
	}
	return s + t.Host
}

// lastLine is the last non-empty line of ssh's output that is not a
// banner of '@' characters.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && strings.Trim(l, "@") != "" {
			return l
		}
	}
	return ""
}

// sshConn is a connection through an ssh tunnel; closing it ends ssh.
type sshConn struct {
	net.Conn
	tun *sshTunnel
}

// Close closes the connection and ends the ssh process.
func (c *sshConn) Close() error {
	err := c.Conn.Close()
	c.tun.close()
	return err
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
