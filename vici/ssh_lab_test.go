package vici_test

// Tests of ssh:// URIs against a real OpenSSH server (Debian's sshd, the
// lab's) in a lab gateway's network namespace, reached by the real OpenSSH
// client with a configuration, known_hosts and keys made for the test.

import (
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

// sshLab is gateway "b" of a two-gateway lab with the lab's sshd in its
// namespace, and an OpenSSH client configuration of the test's own that
// trusts sshd's host key and logs in with the lab's client key.
type sshLab struct {
	lab     *lab.Lab
	b       *lab.Gateway
	sshd    *lab.SSHD
	dir     string
	command []string // ssh client command for vici.Options.SSHCommand
}

// startSSHLab starts the lab and sshd; both end with t.
func startSSHLab(t *testing.T) *sshLab {
	t.Helper()
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Fatalf("the OpenSSH client is needed for the ssh:// tests (apt install openssh-client): %v", err)
	}
	l := labtest.Start(t, lab.TwoGateways)
	s := &sshLab{lab: l, b: l.Gateway("b"), dir: t.TempDir()}
	s.sshd = labtest.SSHD(t, s.b)
	s.command = s.client(t, "ok", s.sshd.IdentityFile, s.sshd.KnownHostsFile)
	return s
}

// client writes an ssh_config that uses only the given key and
// known_hosts (no agent, no system files) and returns the ssh command
// line using it.
func (s *sshLab) client(t *testing.T, name, key, known string) []string {
	t.Helper()
	p := filepath.Join(s.dir, name+".ssh_config")
	text := fmt.Sprintf("Host *\n  IdentityFile %s\n  IdentitiesOnly yes\n  IdentityAgent none\n  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n", key, known)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"ssh", "-F", p}
}

// uri is the ssh:// URI of gateway b's socket, or of path if given.
func (s *sshLab) uri(path string) string {
	if path == "" {
		path = s.b.Socket
	}
	return s.sshd.URI(path)
}

// keygen makes a key pair of the test's own and returns the private key's
// path.
func (s *sshLab) keygen(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(s.dir, name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", p).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	return p
}

// processes lists the processes running program (the base name of
// their argv[0]) whose command line mentions needle, as "pid: argv".
func processes(t *testing.T, program, needle string) []string {
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
		if filepath.Base(args[0]) == program && strings.Contains(string(b), needle) {
			found = append(found, e.Name()+": "+strings.Join(args, " "))
		}
	}
	return found
}

// sshProcesses lists the ssh clients whose command line mentions needle.
func sshProcesses(t *testing.T, needle string) []string { return processes(t, "ssh", needle) }

func TestSSHCommandsAndCleanup(t *testing.T) {
	s := startSSHLab(t)
	ctx := charonCtx(t, time.Minute)
	c, err := vici.DialOptions(ctx, s.uri(""), vici.Options{SSHCommand: s.command})
	if err != nil {
		t.Fatalf("dial over ssh: %v", err)
	}
	defer c.Close()
	if got := sshProcesses(t, s.command[len(s.command)-1]); len(got) != 1 {
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
	if got := sshProcesses(t, s.command[len(s.command)-1]); len(got) != 0 {
		t.Errorf("ssh clients left after Close: %q", got)
	}
	if _, err := c.Call(ctx, "version", nil); !errors.Is(err, vici.ErrClosed) {
		t.Errorf("call after Close: %v", err)
	}
}

func TestSSHDialFailures(t *testing.T) {
	s := startSSHLab(t)
	other := s.keygen(t, "other_key")
	otherPub, err := os.ReadFile(other + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	hostPort := fmt.Sprintf("[%s]:%d", s.sshd.Host, s.sshd.Port)
	// A known_hosts whose entry for the server is another key: a changed host key.
	changed := filepath.Join(s.dir, "changed_known_hosts")
	if err := os.WriteFile(changed, []byte(hostPort+" "+strings.TrimSpace(string(otherPub))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(s.dir, "empty_known_hosts")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	host := s.sshd.Host
	login := fmt.Sprintf("%s@%s:%d", s.sshd.User, host, s.sshd.Port)
	cases := []struct {
		name    string
		uri     string
		command []string
		want    []string
	}{
		{"unknown host key", s.uri(""), s.client(t, "unknown", s.sshd.IdentityFile, empty),
			[]string{"host key of " + host + " is not in known_hosts", "never accepts unknown keys",
				fmt.Sprintf("ssh -p %d %s@%s", s.sshd.Port, s.sshd.User, host)}},
		{"changed host key", s.uri(""), s.client(t, "changed", s.sshd.IdentityFile, changed),
			[]string{"host key of " + host + " has CHANGED", "ssh-keygen -R " + host}},
		{"key not authorised", s.uri(""), s.client(t, "wrongkey", other, s.sshd.KnownHostsFile),
			[]string{"login to " + login + " was refused", "Permission denied", "authorized_keys"}},
		{"socket missing on the far side", s.uri("/nonexistent/charon.vici"), s.command,
			[]string{"ssh logged in to " + login + " but could not open /nonexistent/charon.vici there", "is charon running on " + host}},
		{"nothing listening", fmt.Sprintf("ssh://%s@%s:1%s", s.sshd.User, host, s.b.Socket), s.command,
			[]string{fmt.Sprintf("cannot reach the ssh server of %s@%s:1", s.sshd.User, host), "Connection refused"}},
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
			if got := sshProcesses(t, tc.command[len(tc.command)-1]); len(got) != 0 {
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
	before := sshProcesses(t, s.command[len(s.command)-1])
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
	after := sshProcesses(t, s.command[len(s.command)-1])
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
	if got := sshProcesses(t, s.command[len(s.command)-1]); len(got) != 0 {
		t.Errorf("ssh clients left after Close: %q", got)
	}
}
