package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMirrorFromAptSources(t *testing.T) {
	// Host names under .invalid: the repository never names a real mirror.
	deb822 := `Types: deb
# a comment: URIs: http://comment.invalid/debian
URIs: http://security.invalid/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.invalid/debian
Suites: bookworm

Types: deb
URIs: http://archive.invalid/debian/
Suites: bookworm bookworm-updates
Components: main
`
	if got := mirrorFromDeb822(deb822); got != "http://archive.invalid/debian" {
		t.Errorf("deb822: got %q", got)
	}
	if got := mirrorFromDeb822("Types: deb\nEnabled: no\nURIs: http://off.invalid/debian\nSuites: x\n"); got != "" {
		t.Errorf("a disabled stanza gave %q", got)
	}
	list := `# deb http://commented.invalid/debian bookworm main
deb-src http://src.invalid/debian bookworm main
deb http://security.invalid/debian-security bookworm-security main
deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://archive.invalid/debian bookworm main
`
	if got := mirrorFromList(list); got != "http://archive.invalid/debian" {
		t.Errorf("sources.list: got %q", got)
	}
	if got := mirrorFromList("deb [trusted=yes]\n"); got != "" {
		t.Errorf("a truncated line gave %q", got)
	}
}

func TestRootProblem(t *testing.T) {
	root := t.TempDir()
	spec := NewestRootSpec()
	if p := spec.problem(filepath.Join(root, "none")); p != "it is not built yet" {
		t.Errorf("no dir: %q", p)
	}
	if p := spec.problem(root); !strings.Contains(p, "broken") {
		t.Errorf("empty dir: %q", p)
	}
	os.WriteFile(filepath.Join(root, rootMarker), nil, 0o644)
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/ld.so.cache"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "usr/bin/dpkg"), nil, 0o755)
	if p := spec.problem(root); !strings.Contains(p, CharonPath+" is missing") {
		t.Errorf("marker without charon: %q", p)
	}
	other := RootSpec{Suite: "stable", Files: []string{"/usr/bin/dpkg"}}
	if p := other.problem(root); p != "" {
		t.Errorf("a root with what its spec needs: %q", p)
	}
	if other.Dir() != filepath.Join(RootCacheDir, "stable") || NewestRoot() != filepath.Join(RootCacheDir, "testing") {
		t.Errorf("Dir: %s, NewestRoot: %s", other.Dir(), NewestRoot())
	}
	if _, err := EnsureRoot(context.Background(), RootSpec{Suite: "../x"}, nil); err == nil {
		t.Errorf("EnsureRoot with suite ../x: no error")
	}
	if p := spec.problem(NewestRoot()); p != "" && p != "it is not built yet" {
		t.Errorf("the machine's newest root is broken: %s", p)
	}
}

// buildInto runs a root build into a fresh directory with the given
// environment changes and returns its error and progress output.
func buildInto(t *testing.T, dir string, env map[string]string) (string, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var progress strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := buildRoot(ctx, NewestRootSpec(), filepath.Join(dir, "testing"), "test", &progress)
	return progress.String(), err
}

func TestRootBuildSaysWhatFailed(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOffCI(t, "needs root (mounts a small tmpfs)")
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		skipOffCI(t, ErrNoDebootstrap.Error())
	}
	t.Run("no debootstrap", func(t *testing.T) {
		_, err := buildInto(t, t.TempDir(), map[string]string{"PATH": "/nonexistent"})
		if !errors.Is(err, ErrNoDebootstrap) || !strings.Contains(err.Error(), "apt-get install -y debootstrap") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no network", func(t *testing.T) {
		// Port 9 (discard) on loopback: nothing listens, so the mirror
		// cannot be reached, as without a network.
		dir := t.TempDir()
		_, err := buildInto(t, dir, map[string]string{MirrorEnv: "http://127.0.0.1:9/debian"})
		if !errors.Is(err, ErrMirrorUnreachable) || !strings.Contains(err.Error(), "127.0.0.1:9") || !strings.Contains(err.Error(), "network") {
			t.Fatalf("got %v", err)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) > 0 {
			t.Fatalf("a failed build left %v", left)
		}
	})
	t.Run("disk full", func(t *testing.T) {
		dir := t.TempDir()
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
			skipOffCI(t, fmt.Sprintf("cannot mount a tmpfs: %v: %s", err, out))
		}
		t.Cleanup(func() { exec.Command("umount", dir).Run() })
		_, err := buildInto(t, dir, map[string]string{MirrorEnv: "http://127.0.0.1:9/debian"})
		if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "MB free") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("stale build dirs are removed", func(t *testing.T) {
		dir := t.TempDir()
		stale := filepath.Join(dir, "testing.build-123")
		os.MkdirAll(filepath.Join(stale, "usr"), 0o755)
		buildInto(t, dir, map[string]string{MirrorEnv: "http://127.0.0.1:9/debian"})
		if _, err := os.Stat(stale); err == nil {
			t.Fatal("a half-built root of an interrupted build was left")
		}
	})
}

func TestParseDaemons(t *testing.T) {
	for _, c := range []struct {
		in  string
		all Daemon
		per map[string]Daemon
		err string
	}{
		{in: "", all: SystemDaemon},
		{in: "newest", all: NewestDaemon},
		{in: "SYSTEM", all: SystemDaemon},
		{in: "a=newest,b=system", all: SystemDaemon, per: map[string]Daemon{"a": NewestDaemon, "b": SystemDaemon}},
		{in: "oldest", err: `unknown daemon "oldest"`},
		{in: "a=newest,a=system", err: "named twice"},
		{in: "a=newest,b", err: "GATEWAY=system|newest"},
		{in: "=newest", err: "GATEWAY=system|newest"},
	} {
		all, per, err := ParseDaemons(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || all != c.all || len(per) != len(c.per) {
			t.Errorf("%q: got %q %v %v", c.in, all, per, err)
		}
		for k, v := range c.per {
			if per[k] != v {
				t.Errorf("%q: gateway %s got %q", c.in, k, per[k])
			}
		}
	}
	cfg := Config{Topology: TwoGateways, Daemons: map[string]Daemon{"c": NewestDaemon}}
	if err := cfg.checkDaemons(cfg.gatewayNames()); err == nil || !strings.Contains(err.Error(), "gateway(s) c") {
		t.Errorf("a daemon for a gateway the topology lacks: %v", err)
	}
	t.Setenv(DaemonEnv, "bogus")
	if _, err := DaemonFromEnv(); err == nil || !strings.Contains(err.Error(), DaemonEnv) {
		t.Errorf("bad $%s: %v", DaemonEnv, err)
	}
}

// skipOffCI skips the test on a developer machine and fails it with CI=true,
// where everything the lab needs must be present. It is labtest.SkipOffCI,
// which lab's own tests cannot import (labtest imports lab).
func skipOffCI(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(reason)
	}
	t.Skip(reason)
}
