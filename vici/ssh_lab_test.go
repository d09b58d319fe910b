package vici_test

// Tests of ssh:// URIs against a real OpenSSH server (Debian's sshd) in a
// lab gateway's network namespace, reached by the real OpenSSH client run
// in the other gateway's namespace, with keys and known_hosts made for
// the test.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
)

// sshLab is gateway "b" of a two-gateway lab with sshd listening on its
// address, and an OpenSSH client configuration for gateway "a" that
// trusts sshd's host key and logs in with an authorised key.
type sshLab struct {
	lab     *lab.Lab
	b       *lab.Gateway
	dir     string
	command []string // ssh client command for vici.Options.SSHCommand
	config  string   // the client's ssh_config
	known   string   // its known_hosts
	hostPub string   // sshd's host public key line
}

// startSSHLab starts the lab and sshd; both end with t.
func startSSHLab(t *testing.T) *sshLab {
	t.Helper()
	for _, bin := range []string{"/usr/sbin/sshd", "ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is needed for the ssh:// tests (apt install openssh-server openssh-client): %v", bin, err)
		}
	}
	l := labtest.Start(t, lab.TwoGateways)
	s := &sshLab{lab: l, b: l.Gateway("b"), dir: t.TempDir()}
	keygen := func(name string) {
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", filepath.Join(s.dir, name)).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh-keygen %s: %v: %s", name, err, out)
		}
	}
	keygen("host_key")
	keygen("user_key")
	keygen("other_key")
	hostPub, err := os.ReadFile(filepath.Join(s.dir, "host_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	s.hostPub = strings.TrimSpace(string(hostPub))
	userPub, err := os.ReadFile(filepath.Join(s.dir, "user_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) string {
		p := filepath.Join(s.dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("authorized_keys", string(userPub))
	sshdConfig := write("sshd_config", fmt.Sprintf(`ListenAddress %s
HostKey %s
AuthorizedKeysFile %s
PidFile none
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowStreamLocalForwarding yes
`, s.b.Addr, filepath.Join(s.dir, "host_key"), filepath.Join(s.dir, "authorized_keys")))
	s.known = write("known_hosts", s.b.Addr+" "+s.hostPub+"\n")
	s.config = write("ssh_config", s.clientConfig("user_key"))
	s.command = []string{"ip", "netns", "exec", l.Gateway("a").Netns, "ssh", "-F", s.config}

	// sshd refuses to start without its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", s.b.Netns, "/usr/sbin/sshd", "-D", "-e", "-f", sshdConfig)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	var log strings.Builder
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !signalled && strings.Contains(sc.Text(), "Server listening") {
				signalled = true
				ready <- true
			}
		}
		if !signalled {
			ready <- false
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	if !<-ready {
		cmd.Wait()
		t.Fatalf("sshd did not start: %s", log.String())
	}
	return s
}

// clientConfig is an ssh_config that uses only the test's files.
func (s *sshLab) clientConfig(key string) string {
	return fmt.Sprintf(`Host *
  IdentityFile %s
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
`, filepath.Join(s.dir, key), s.known)
}

// uri is the ssh:// URI of gateway b's socket, or of path if given.
func (s *sshLab) uri(path string) string {
	if path == "" {
		path = s.b.Socket
	}
	return "ssh://root@" + s.b.Addr + path
}

// sshProcesses lists the ssh clients whose command line mentions needle.
func sshProcesses(t *testing.T, needle string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) > 0 && filepath.Base(args[0]) == "ssh" && strings.Contains(string(b), needle) {
			found = append(found, e.Name()+": "+strings.Join(args, " "))
		}
	}
	return found
}

func TestSSHCommandsAndCleanup(t *testing.T) {
	s := startSSHLab(t)
	ctx := charonCtx(t, time.Minute)
	c, err := vici.DialOptions(ctx, s.uri(""), vici.Options{SSHCommand: s.command})
	if err != nil {
		t.Fatalf("dial over ssh: %v", err)
	}
	defer c.Close()
	if got := sshProcesses(t, s.b.Socket); len(got) != 1 {
		t.Errorf("want one ssh client for the session, found %q", got)
	}
	v := mustCall(t, ctx, c, "version", nil)
	if v.Get("daemon") != "charon" {
		t.Errorf("version over ssh: %v", v)
	}
	// The daemon on the far side is b's: its connection "ab" is there.
	var names []string
	for m, err := range c.Stream(ctx, "list-conns", "list-conn", nil) {
		if err != nil {
			t.Fatalf("list-conns over ssh: %v", err)
		}
		names = append(names, m.Keys()...)
	}
	if err != nil || len(names) != 1 || names[0] != "ab" {
		t.Errorf("list-conns over ssh: %v %v", names, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := sshProcesses(t, s.b.Socket); len(got) != 0 {
		t.Errorf("ssh clients left after Close: %q", got)
	}
	if _, err := c.Call(ctx, "version", nil); !errors.Is(err, vici.ErrClosed) {
		t.Errorf("call after Close: %v", err)
	}
}

func TestSSHDialFailures(t *testing.T) {
	s := startSSHLab(t)
	other := filepath.Join(s.dir, "other_known_hosts")
	otherPub, err := os.ReadFile(filepath.Join(s.dir, "other_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	// A known_hosts whose entry for b is another key: a changed host key.
	if err := os.WriteFile(other, []byte(s.b.Addr+" "+strings.TrimSpace(string(otherPub))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(s.dir, "empty_known_hosts")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	config := func(name, key, known string) []string {
		p := filepath.Join(s.dir, name)
		text := strings.Replace(s.clientConfig(key), s.known, known, 1)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{"ip", "netns", "exec", s.lab.Gateway("a").Netns, "ssh", "-F", p}
	}
	cases := []struct {
		name    string
		uri     string
		command []string
		want    []string
	}{
		{"unknown host key", s.uri(""), config("unknown", "user_key", empty),
			[]string{"host key of " + s.b.Addr + " is not in known_hosts", "never accepts unknown keys"}},
		{"changed host key", s.uri(""), config("changed", "user_key", other),
			[]string{"host key of " + s.b.Addr + " has CHANGED", "ssh-keygen -R " + s.b.Addr}},
		{"key not authorised", s.uri(""), config("wrongkey", "other_key", s.known),
			[]string{"login to root@" + s.b.Addr + " was refused", "Permission denied", "authorized_keys"}},
		{"socket missing on the far side", s.uri("/nonexistent/charon.vici"), s.command,
			[]string{"could not open /nonexistent/charon.vici there", "is charon running on " + s.b.Addr}},
		{"nothing listening", "ssh://root@192.0.2.99" + s.b.Socket, s.command,
			[]string{"cannot reach the ssh server of root@192.0.2.99"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := charonCtx(t, time.Minute)
			c, err := vici.DialOptions(ctx, tc.uri, vici.Options{SSHCommand: tc.command})
			if err == nil {
				c.Close()
				t.Fatal("dial succeeded")
			}
			t.Log(err)
			var de *vici.DialError
			if !errors.As(err, &de) || de.URI != tc.uri {
				t.Errorf("want a *vici.DialError for %s, got %T %v", tc.uri, err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if got := sshProcesses(t, tc.uri[strings.LastIndex(tc.uri, "/"):]); len(got) != 0 {
				t.Errorf("ssh clients left after a failed dial: %q", got)
			}
		})
	}
}

func TestSSHReconnectAcrossRestart(t *testing.T) {
	s := startSSHLab(t)
	ctx := charonCtx(t, 2*time.Minute)
	c, err := vici.DialOptions(ctx, s.uri(""), vici.Options{SSHCommand: s.command, Reconnect: true})
	if err != nil {
		t.Fatalf("dial over ssh: %v", err)
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx, "ike-updown")
	if err != nil {
		t.Fatal(err)
	}
	before := sshProcesses(t, s.b.Socket)
	if len(before) != 1 {
		t.Fatalf("want one ssh client, found %q", before)
	}
	if err := s.b.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case ev, ok := <-sub.Events():
		if !ok || !ev.Reconnected {
			t.Fatalf("want the reconnected notice, got %+v (open %v)", ev, ok)
		}
	case <-ctx.Done():
		t.Fatal("no reconnect within the test's time")
	}
	mustCall(t, ctx, c, "version", nil)
	after := sshProcesses(t, s.b.Socket)
	if len(after) != 1 || after[0] == before[0] {
		t.Errorf("want one new ssh client after the redial, before %q, after %q", before, after)
	}
	// The session still sees events: bring the tunnel up from b's side.
	req := vici.NewMessage()
	req.Set("ike", "ab")
	req.Set("child", "net")
	mustSucceed(t, ctx, c, "initiate", req)
	select {
	case ev, ok := <-sub.Events():
		if !ok || ev.Name != "ike-updown" || ev.Message.Get("up") != "yes" {
			t.Errorf("want ike-updown up, got %+v (open %v)", ev, ok)
		}
	case <-ctx.Done():
		t.Fatal("no ike-updown event")
	}
	c.Close()
	if got := sshProcesses(t, s.b.Socket); len(got) != 0 {
		t.Errorf("ssh clients left after Close: %q", got)
	}
}
