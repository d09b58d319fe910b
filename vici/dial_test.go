package vici_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vicish/vicish/vici"
)

func TestParseURI(t *testing.T) {
	cases := []struct{ in, network, addr, err string }{
		{"", "unix", "/var/run/charon.vici", ""},
		{"unix:///run/charon.vici", "unix", "/run/charon.vici", ""},
		{"/tmp/x.vici", "unix", "/tmp/x.vici", ""},
		{"relative/sock", "unix", "relative/sock", ""},
		{"tcp://127.0.0.1:4502", "tcp", "127.0.0.1:4502", ""},
		{"tcp://[::1]:4502", "tcp", "[::1]:4502", ""},
		{"tcp://localhost", "", "", "needs host:port"},
		{"unix://", "", "", "without a socket path"},
		{"vsock://2:4502", "", "", `unsupported scheme "vsock"`},
		{"ssh://gw1/run/charon.vici", "ssh", "gw1/run/charon.vici", ""},
		{"ssh://admin@gw1:2222/run/charon.vici", "ssh", "admin@gw1:2222/run/charon.vici", ""},
		{"ssh://[2001:db8::1]:22/run/x.vici", "ssh", "[2001:db8::1]:22/run/x.vici", ""},
		{"ssh://gw1", "ssh", "gw1", ""},
		{"ssh://", "", "", "no host"},
		{"ssh:///run/charon.vici", "", "", "no host"},
		{"ssh://-oProxyCommand=x/run/charon.vici", "", "", "cannot start with '-'"},
		{"ssh://-l@gw1/run/charon.vici", "", "", "starts with '-'"},
		{"ssh://u:secret@gw1/run/charon.vici", "", "", "passwords cannot be given"},
		{"ssh://gw1:0/run/charon.vici", "", "", "port must be a number"},
		{"ssh://gw1:ssh/run/charon.vici", "", "", "not a valid URI"},
		{"ssh://gw1:/run/charon.vici", "", "", "empty port"},
		{"ssh://gw1/run/a:b.vici", "", "", "cannot contain ':'"},
		{"ssh://gw1/run/charon.vici?x=1", "", "", "query strings"},
		{"ssh://gw1/run/%0acharon.vici", "", "", "control characters"},
	}
	for _, tc := range cases {
		network, addr, err := vici.ParseURI(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseURI(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || network != tc.network || addr != tc.addr {
			t.Errorf("ParseURI(%q) = %q, %q, %v", tc.in, network, addr, err)
		}
	}
}

func TestDialSSHWithoutClient(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-ssh-here")
	_, err := vici.DialOptions(t.Context(), "ssh://gw1/run/charon.vici", vici.Options{SSHCommand: []string{missing}})
	var de *vici.DialError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "is not installed or not on PATH") {
		t.Errorf("dial with a missing ssh client: %v", err)
	}
	// The environment variable names the client when Options do not.
	t.Setenv(vici.SSHCommandEnv, missing+" -F /dev/null")
	_, err = vici.Dial(t.Context(), "ssh://gw1/run/charon.vici")
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("dial with %s=%s: %v", vici.SSHCommandEnv, missing, err)
	}
}

func TestDialErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.vici")
	_, err := vici.Dial(t.Context(), "unix://"+missing)
	var de *vici.DialError
	if !errors.As(err, &de) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing socket: %v", err)
	}
	if !strings.Contains(err.Error(), "is charon running? is the vici plugin loaded?") || de.URI != "unix://"+missing {
		t.Errorf("missing socket message: %v", err)
	}

	// A socket file nobody listens on (left behind by a dead daemon).
	stale := filepath.Join(dir, "stale.vici")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	_, err = vici.Dial(t.Context(), stale)
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "nothing listens on it") {
		t.Errorf("stale socket: %v", err)
	}

	// A directory or a regular file given as the socket (issue 9: both
	// were said to be a socket charon left behind).
	regular := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, kind := range map[string]string{dir: "is a directory, not a socket", regular: "is a regular file, not a socket"} {
		_, err = vici.Dial(t.Context(), path)
		if !errors.As(err, &de) || !strings.Contains(err.Error(), kind) || strings.Contains(err.Error(), "probably exited") {
			t.Errorf("%s: %v; want %q", path, err, kind)
		}
	}

	// TCP port with nobody listening.
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := tl.Addr().String()
	tl.Close()
	_, err = vici.Dial(t.Context(), "tcp://"+addr)
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "is charon running with the vici plugin listening there") {
		t.Errorf("refused tcp: %v", err)
	}

	// The context bounds the attempt.
	ctx, cancel := context.WithTimeout(t.Context(), 0)
	defer cancel()
	_, err = vici.Dial(ctx, "unix://"+missing)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("expired context: %v", err)
	}

	// A malformed URI is not a failure to connect: nothing is dialled, and
	// the message names the URI once.
	_, err = vici.Dial(t.Context(), "ftp://x")
	if errors.As(err, &de) || !strings.Contains(err.Error(), "unsupported scheme") || strings.Count(err.Error(), "ftp://x") != 1 {
		t.Errorf("bad scheme: %v", err)
	}
}

// Permission errors name the socket's owner, group and mode. Root is never
// refused, so the error is made up here; the socket and its metadata are
// real.
func TestDialPermissionHint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "charon.vici")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.Chmod(path, 0o770); err != nil {
		t.Fatal(err)
	}
	err = &vici.DialError{URI: "unix://" + path, Err: &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.EACCES)}}
	msg := err.Error()
	fi, _ := os.Stat(path)
	for _, want := range []string{"permission denied", path, "uid " + uidOf(fi), "mode " + fi.Mode().String(), "run as root", "join group"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("errors.Is(err, fs.ErrPermission) is false")
	}
}

func uidOf(fi os.FileInfo) string {
	st := fi.Sys().(*syscall.Stat_t)
	return strconv.Itoa(int(st.Uid))
}

func TestDialSSHTimeoutEndsTheClient(t *testing.T) {
	// A stand-in for ssh that never forwards, with a child of its own
	// (as ssh has a ProxyCommand): the dial gives up with the context,
	// and both end.
	marker := "31." + strconv.Itoa(os.Getpid())
	command := []string{"sh", "-c", "sleep " + marker + " & wait", "ssh"}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := vici.DialOptions(ctx, "ssh://gw1/run/charon.vici", vici.Options{SSHCommand: command})
	var de *vici.DialError
	if !errors.As(err, &de) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out while ssh was connecting to gw1") {
		t.Fatalf("dial against a silent ssh: %v", err)
	}
	// The group was signalled before Dial returned; the child dies at once.
	for i := 0; ; i++ {
		if len(processes(t, "sleep", marker)) == 0 {
			break
		}
		if i == 500 {
			t.Fatal("the stand-in's child still runs 10s after the dial failed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
