package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// SSHDPath is the OpenSSH server (Debian package openssh-server).
const SSHDPath = "/usr/sbin/sshd"

// SSHD is a real OpenSSH server running in a gateway's network namespace,
// with a host key and a client key made for it. A client on this machine
// connects to Host:Port on loopback, which the lab forwards to port 22 inside
// the gateway's namespace; a client in another gateway's namespace can use
// Addr directly. Stop it with Stop; Lab.Down stops it too.
//
// For example, OpenSSH reaches the gateway's vici socket with
//
//	ssh -i s.IdentityFile -o UserKnownHostsFile=s.KnownHostsFile \
//	    -o StrictHostKeyChecking=yes -p s.Port s.User@s.Host
type SSHD struct {
	// Host and Port are where a client on this machine connects
	// ("127.0.0.1" and a free port).
	Host string
	Port int
	// User is the account to log in as: the one running the lab (root),
	// with the public key of IdentityFile as its only authorized key.
	User string
	// IdentityFile is the client's private key (ed25519, no passphrase).
	IdentityFile string
	// KnownHostsFile lists the server's host key for [Host]:Port and for
	// Addr, so strict host key checking passes.
	KnownHostsFile string
	// HostKeyFile is the server's public host key.
	HostKeyFile string
	// Addr is the server's address inside the lab, e.g. "192.0.2.2:22"
	// (127.0.0.1:22 for a gateway without a link).
	Addr string
	// Dir holds the keys, sshd_config and LogPath.
	Dir string
	// LogPath is the server's log (sshd -e).
	LogPath string

	g        *Gateway
	cmd      *exec.Cmd
	pid      int
	done     chan struct{}
	listener net.Listener

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// URI returns "ssh://User@Host:Port" followed by path (e.g. the gateway's
// Socket), the form an ssh:// vici transport takes.
func (s *SSHD) URI(path string) string {
	return fmt.Sprintf("ssh://%s@%s%s", s.User, net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), path)
}

// PID is the process id of the listening sshd.
func (s *SSHD) PID() int { return s.pid }

// SSHArgs returns the ssh(1) options that make a client use this server's
// key and known_hosts, with strict host key checking and no prompts:
// append the destination (User@Host) and a command.
func (s *SSHD) SSHArgs() []string {
	return []string{"-F", "/dev/null", "-i", s.IdentityFile, "-p", strconv.Itoa(s.Port),
		"-o", "UserKnownHostsFile=" + s.KnownHostsFile, "-o", "StrictHostKeyChecking=yes",
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"}
}

// StartSSHD starts /usr/sbin/sshd in the gateway's network namespace and
// waits until it accepts connections. It takes up to 500 connections
// being set up at once (MaxStartups; sshd's default drops some beyond 10),
// as one server may stand in for the sshd of each of many gateways. Keys, configuration and log live in a
// new directory under the gateway's ConfDir. Each call starts another server.
func (g *Gateway) StartSSHD(ctx context.Context) (_ *SSHD, err error) {
	if _, err := os.Stat(SSHDPath); err != nil {
		return nil, fmt.Errorf("%s not found: run `apt-get install -y openssh-server` as root", SSHDPath)
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(g.ConfDir, "sshd-")
	if err != nil {
		return nil, err
	}
	s := &SSHD{
		Host: "127.0.0.1", User: u.Username, Dir: dir, g: g,
		IdentityFile:   filepath.Join(dir, "id_ed25519"),
		KnownHostsFile: filepath.Join(dir, "known_hosts"),
		HostKeyFile:    filepath.Join(dir, "host_ed25519_key.pub"),
		LogPath:        filepath.Join(dir, "sshd.log"),
		conns:          map[net.Conn]struct{}{},
	}
	inside := "127.0.0.1"
	if g.Addr != "" {
		inside = g.Addr
	}
	s.Addr = net.JoinHostPort(inside, "22")
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	for _, key := range []string{"host_ed25519_key", "id_ed25519"} {
		if out, err := run(ctx, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vicish-lab-"+g.Name, "-f", filepath.Join(dir, key)); err != nil {
			return nil, fmt.Errorf("ssh-keygen: %v: %s", err, out)
		}
	}
	pub, err := os.ReadFile(s.IdentityFile + ".pub")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`# vicish lab %s gateway %s (generated)
Port 22
ListenAddress 0.0.0.0
HostKey %[3]s/host_ed25519_key
PidFile %[3]s/sshd.pid
AuthorizedKeysFile %[3]s/authorized_keys
AllowUsers %[4]s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
AllowStreamLocalForwarding yes
StreamLocalBindUnlink yes
AllowTcpForwarding local
X11Forwarding no
PrintMotd no
MaxStartups 500
LogLevel VERBOSE
`, g.lab.ID, g.Name, dir, u.Username)
	confPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	runDir := filepath.Join(dir, "run")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	// Like charon: a private /run (sshd wants its privilege separation
	// directory /run/sshd), no daemonising. A lab cleared as stale ends it
	// with every other process in the gateway's namespace.
	cmd := exec.Command("ip", "netns", "exec", g.Netns, "sh", "-c",
		`mount --bind "$0" /run && mkdir -m 0755 -p /run/sshd && exec "$1" -D -e -f "$2"`, runDir, SSHDPath, confPath)
	cmd.Env = os.Environ()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sshd in gateway %s: %w", g.Name, err)
	}
	s.cmd, s.pid, s.done = cmd, cmd.Process.Pid, make(chan struct{})
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	if err := s.waitListening(ctx, inside); err != nil {
		return nil, err
	}
	hostKey, err := os.ReadFile(s.HostKeyFile)
	if err != nil {
		return nil, err
	}
	f := strings.Fields(string(hostKey))
	if len(f) < 2 {
		return nil, fmt.Errorf("unexpected host key %s", s.HostKeyFile)
	}
	if s.listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	s.Port = s.listener.Addr().(*net.TCPAddr).Port
	known := fmt.Sprintf("[%s]:%d %s %s\n%s %s %s\n", s.Host, s.Port, f[0], f[1], inside, f[0], f[1])
	if err := os.WriteFile(s.KnownHostsFile, []byte(known), 0o644); err != nil {
		return nil, err
	}
	s.wg.Add(1)
	go s.forward()
	g.lab.addSSHD(s)
	return s, nil
}

// waitListening polls until sshd accepts a connection on port 22 in the
// gateway's namespace, or fails with its log when it exits.
func (s *SSHD) waitListening(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		select {
		case <-s.done:
			b, _ := os.ReadFile(s.LogPath)
			return fmt.Errorf("sshd in gateway %s exited during start-up:\n%s", s.g.Name, tailLines(string(b), 20))
		default:
		}
		c, err := s.dialInside(ctx, addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			b, _ := os.ReadFile(s.LogPath)
			return fmt.Errorf("sshd in gateway %s does not accept connections (%v):\n%s", s.g.Name, err, tailLines(string(b), 20))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// dialInside connects to addr:22 from inside the gateway's namespace.
func (s *SSHD) dialInside(ctx context.Context, addr string) (net.Conn, error) {
	var c net.Conn
	err := s.g.inNetns(func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, "tcp", net.JoinHostPort(addr, "22"))
		return err
	})
	return c, err
}

// forward accepts loopback connections and splices each to sshd.
func (s *SSHD) forward() {
	defer s.wg.Done()
	inside, _, _ := net.SplitHostPort(s.Addr)
	for {
		c, err := s.listener.Accept()
		if err != nil {
			return
		}
		up, err := s.dialInside(context.Background(), inside)
		if err != nil {
			c.Close()
			continue
		}
		if !s.track(c, up) {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			var pair sync.WaitGroup
			pair.Add(2)
			splice := func(dst, src net.Conn) {
				defer pair.Done()
				io.Copy(dst, src)
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
			}
			go splice(up, c)
			go splice(c, up)
			pair.Wait()
			s.untrack(c, up)
		}()
	}
}

// track records live connections so Stop can close them; it refuses (and
// closes them) once Stop has begun.
func (s *SSHD) track(cs ...net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		s.conns[c] = struct{}{}
	}
	return true
}

// untrack closes and forgets connections whose copying has ended.
func (s *SSHD) untrack(cs ...net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		c.Close()
		if s.conns != nil {
			delete(s.conns, c)
		}
	}
}

// Stop ends the server, its sessions and the loopback forwarding. It is
// safe to call more than once.
func (s *SSHD) Stop() error {
	if s.listener != nil {
		s.listener.Close()
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	var err error
	if s.cmd != nil {
		// sshd rewrites its environment for its process title, so the
		// lab's marker cannot identify it: signal it through the handle
		// (a pidfd, so never another process), sessions first.
		select {
		case <-s.done:
		default:
			for _, pid := range descendants(s.pid) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(3 * time.Second):
				s.cmd.Process.Kill()
				select {
				case <-s.done:
				case <-time.After(3 * time.Second):
					err = fmt.Errorf("sshd %d in gateway %s did not exit", s.pid, s.g.Name)
				}
			}
		}
	}
	s.wg.Wait()
	return err
}

// addSSHD records a server for Down.
func (l *Lab) addSSHD(s *SSHD) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sshds = append(l.sshds, s)
}

// stopSSHDs stops every server StartSSHD started in this lab.
func (l *Lab) stopSSHDs() []error {
	l.mu.Lock()
	servers := l.sshds
	l.sshds = nil
	l.mu.Unlock()
	var errs []error
	for _, s := range servers {
		if err := s.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
