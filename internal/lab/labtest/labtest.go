// Package labtest starts labs of real charon daemons (package lab) from Go
// tests. It is the only part of the lab that imports package testing, so
// the vicish binary, which links package lab for `vicish lab`, does not.
package labtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
)

// Start starts a lab with the given topology for a test and stops it in
// t.Cleanup. See StartConfig.
func Start(t testing.TB, topo lab.Topology) *lab.Lab {
	t.Helper()
	return StartConfig(t, lab.Config{Topology: topo})
}

// StartConfig starts the lab described by cfg for a test and stops it in
// t.Cleanup. When the lab cannot start the test fails with the reason; only
// on a developer machine (CI is not "true") and only when not root or
// strongSwan is missing, it is skipped with the reason. cfg.Dir should be
// empty: the lab then lives in a fresh short temporary directory.
//
// When cfg.Daemon is empty, $VICISH_LAB_DAEMON (lab.DaemonEnv) chooses the
// daemon of every gateway not named in cfg.Daemons, so that the same tests
// run against the system's and the newest strongSwan. If the newest root is
// missing it is built first (minutes, once per machine; progress on stderr).
func StartConfig(t testing.TB, cfg lab.Config) *lab.Lab {
	t.Helper()
	if err := lab.Check(); err != nil {
		if errors.Is(err, lab.ErrNotRoot) || errors.Is(err, lab.ErrNotInstalled) {
			SkipOffCI(t, "lab: "+err.Error())
		}
		t.Fatalf("lab: %v", err)
	}
	if cfg.Daemon == "" {
		d, err := lab.DaemonFromEnv()
		if err != nil {
			t.Fatalf("lab: %v", err)
		}
		cfg.Daemon = d
	}
	if usesNewest(cfg) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		_, err := lab.EnsureNewestRoot(ctx, os.Stderr)
		cancel()
		if err != nil {
			t.Fatalf("lab: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	begin := time.Now()
	l, err := lab.Up(ctx, cfg)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Logf("lab %s: %s started in %v (%s)", l.ID, l.Topology, time.Since(begin).Round(time.Millisecond), summary(l))
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("lab %s: down: %v", l.ID, err)
		}
	})
	return l
}

// usesNewest reports whether a gateway of cfg may run the newest daemon.
func usesNewest(cfg lab.Config) bool {
	if cfg.Daemon == lab.NewestDaemon {
		return true
	}
	for _, d := range cfg.Daemons {
		if d == lab.NewestDaemon {
			return true
		}
	}
	return false
}

// summary names each gateway's strongSwan and socket.
func summary(l *lab.Lab) string {
	parts := make([]string, 0, len(l.Gateways))
	for _, g := range l.Gateways {
		parts = append(parts, fmt.Sprintf("%s=%s (strongSwan %s, %s)", g.Name, g.URI, g.Version(), g.Daemon))
	}
	return strings.Join(parts, " ")
}

// SSHD starts a real OpenSSH server in gateway g's network namespace for a
// test (see lab.Gateway.StartSSHD: a host key, a client key, a loopback
// port forwarded to it) and stops it in t.Cleanup. It fails the test when
// sshd cannot start.
func SSHD(t testing.TB, g *lab.Gateway) *lab.SSHD {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := g.StartSSHD(ctx)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Logf("lab: sshd in gateway %s (%s) at %s:%d, user %s", g.Name, s.Addr, s.Host, s.Port, s.User)
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("lab: stop sshd of %s: %v", g.Name, err)
		}
	})
	return s
}

// AtLeast reports whether gateway g's daemon is strongSwan min (e.g.
// "6.0.3") or newer, by the version the daemon itself reported. Tests use
// it where 5.9.x and 6.x really differ, to check each version's behaviour.
// It fails the test when either version cannot be read.
func AtLeast(t testing.TB, g *lab.Gateway, min string) bool {
	t.Helper()
	have, err := versionNumbers(g.Version())
	if err != nil {
		t.Fatalf("lab: gateway %s: %v", g.Name, err)
	}
	want, err := versionNumbers(min)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	for i := range want {
		if i >= len(have) {
			return false
		}
		if have[i] != want[i] {
			return have[i] > want[i]
		}
	}
	return true
}

// versionNumbers parses the leading dotted numbers of a strongSwan version
// ("6.1.0", "6.0.3dr1" gives 6, 0, 3).
func versionNumbers(v string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(v, ".") {
		digits := part
		if i := strings.IndexFunc(part, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
			digits = part[:i]
		}
		n, err := strconv.Atoi(digits)
		if err != nil {
			break
		}
		out = append(out, n)
		if len(digits) < len(part) {
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("not a strongSwan version: %q", v)
	}
	return out, nil
}

// SkipOffCI skips the test with reason on a developer machine, for a part
// of the machine it needs (root, a program) that is missing, and fails it
// with reason under CI=true, where everything the tests need is installed.
func SkipOffCI(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(reason)
	}
	t.Skip(reason)
}
