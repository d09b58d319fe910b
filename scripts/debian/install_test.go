package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
)

// A rootShell is a bash in its own mount and network namespaces (no network
// but loopback) that has a fresh copy of the stable root mounted at
// $ROOT: an overlay on the cached root, gone with the namespace.
type rootShell struct {
	t    *testing.T
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	work string // on the host, outside the root: snapshots
}

// startRootShell starts the shell with the overlay of root mounted at
// $ROOT, /proc, /dev, an empty /tmp and /run in it, and the lab gateway's
// socket bound at the root's /run/charon.vici.
func startRootShell(t *testing.T, root, socket string) *rootShell {
	t.Helper()
	work := t.TempDir()
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--net", "--fork", "--kill-child", "bash", "--norc", "--noprofile")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8", "HOME=/root", "DEBIAN_FRONTEND=noninteractive", "TERM=dumb"}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	s := &rootShell{t: t, cmd: cmd, in: in, out: bufio.NewReader(pr), work: work}
	t.Cleanup(func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		pw.Close()
	})
	// The shell's own variables (each script runs in a subshell).
	fmt.Fprintf(in, "export WORK=%q ROOT=%q\n", work, filepath.Join(work, "merged"))
	s.must(fmt.Sprintf(`set -u
mkdir -p "$WORK/upper" "$WORK/ovl" "$ROOT"
mount -t overlay overlay -o lowerdir=%q,upperdir="$WORK/upper",workdir="$WORK/ovl" "$ROOT"
mount -t proc proc "$ROOT/proc"
mount --rbind /dev "$ROOT/dev"
mount -t tmpfs tmpfs "$ROOT/tmp"
mount -t tmpfs tmpfs "$ROOT/run"
touch "$ROOT/run/charon.vici"
mount --bind %q "$ROOT/run/charon.vici"`, root, socket))
	return s
}

// run runs script in the shell (on the host side; `chroot "$ROOT" ...`
// runs in the root) and returns its output and exit code.
func (s *rootShell) run(script string) (string, int) {
	s.t.Helper()
	const end = "__vicish_install_test_end__"
	fmt.Fprintf(s.in, "(\n%s\n) </dev/null 2>&1\nprintf '\\n%s %%d\\n' $?\n", script, end)
	var out strings.Builder
	for {
		line, err := s.out.ReadString('\n')
		if code, ok := strings.CutPrefix(strings.TrimSpace(line), end+" "); ok {
			var n int
			fmt.Sscan(code, &n)
			return strings.TrimRight(out.String(), "\n"), n
		}
		out.WriteString(line)
		if err != nil {
			s.t.Fatalf("the root's shell ended (%v) running:\n%s\noutput:\n%s", err, script, out.String())
		}
	}
}

// must runs script and fails the test unless it exits 0.
func (s *rootShell) must(script string) string {
	s.t.Helper()
	out, code := s.run(script)
	if code != 0 {
		s.t.Fatalf("exit %d:\n%s\noutput:\n%s", code, script, out)
	}
	return out
}

// chroot runs a shell command in the root.
func (s *rootShell) chroot(command string) (string, int) {
	s.t.Helper()
	return s.run(`chroot "$ROOT" /bin/bash -c '` + strings.ReplaceAll(command, "'", `'\''`) + "'")
}

// snapshot lists the root's files (path and type, a link's target, a
// file's checksum) without the mounts in it.
func (s *rootShell) snapshot() map[string]string {
	s.t.Helper()
	files := map[string]string{}
	out := s.must(`cd "$ROOT" && find . -xdev ! -type f -printf '%p %y %l\n'`)
	for _, line := range strings.Split(out, "\n") {
		if p, rest, ok := strings.Cut(line, " "); ok {
			files[strings.TrimPrefix(p, ".")] = rest
		}
	}
	out = s.must(`cd "$ROOT" && find . -xdev -type f -print0 | xargs -0 md5sum`)
	for _, line := range strings.Split(out, "\n") {
		if sum, p, ok := strings.Cut(line, "  "); ok {
			files[strings.TrimPrefix(p, ".")] = "f " + sum
		}
	}
	if len(files) < 1000 {
		s.t.Fatalf("the root has %d files: %s", len(files), out)
	}
	return files
}

// policyKeeps reports whether Debian lets a package's installation and
// removal leave path changed: dpkg's and apt's own records, logs, and
// caches the triggers (man-db) rebuild.
func policyKeeps(path string) bool {
	for _, prefix := range []string{"/var/log/", "/var/lib/dpkg/", "/var/lib/apt/", "/var/cache/apt/", "/var/cache/man/", "/var/cache/debconf/", "/var/cache/ldconfig/", "/etc/ld.so.cache"} {
		if strings.HasPrefix(path, prefix) || path+"/" == prefix {
			return true
		}
	}
	return false
}

// TestInstall installs the package as an operator would: into a fresh
// Debian stable root (an overlay on the cached one, without network), with
// apt-get install ./vicish_....deb; then runs vicish --version, man -w
// vicish, the bash completion of `vicish --al<TAB>` as bash-completion
// loads it, and /usr/share/vicish/status.star against a lab gateway whose
// socket is bound at the root's /run/charon.vici; removing keeps the
// conffiles, purging leaves nothing but what Debian policy keeps.
func TestInstall(t *testing.T) {
	if os.Geteuid() != 0 {
		labtest.SkipOffCI(t, "installing the package into a root needs root (mounts, chroot)")
	}
	for _, tool := range []string{"unshare", "chroot", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			labtest.SkipOffCI(t, tool+" is needed to install the package into a root: "+installHint(tool))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	root, err := ensureStableRoot(ctx, os.Stderr)
	if err != nil {
		labtest.SkipOffCI(t, fmt.Sprintf("the Debian stable root (go run ./scripts/debian root, which scripts/test.sh runs first): %v", err))
	}
	pkg := buildOnce(t)
	l := labtest.Start(t, lab.TwoGateways)
	g := l.Gateways[0]

	s := startRootShell(t, root, g.Socket)
	if out := s.must(`. "$ROOT/etc/os-release"; echo "$ID $VERSION_CODENAME"`); !strings.HasPrefix(out, "debian ") {
		t.Fatalf("the root is %q, want Debian", out)
	}
	s.must(fmt.Sprintf(`cp %q "$ROOT/tmp/"`, pkg.deb))
	before := s.snapshot()

	// apt-get install ./vicish_....deb: nothing to fetch (there is no
	// network here), nothing enabled.
	deb := "./" + filepath.Base(pkg.deb)
	out, code := s.chroot("cd /tmp && apt-get install -y " + deb)
	if code != 0 || !strings.Contains(out, "Need to get 0 B/") || strings.Contains(out, "http") {
		t.Fatalf("apt-get install %s: exit %d (or it fetched something)\n%s", deb, code, out)
	}
	if out, _ := s.chroot("dpkg-query -W -f='${db:Status-Status} ${Version}' vicish"); out != "installed "+pkg.src.Debian {
		t.Errorf("dpkg-query vicish: %q, want installed %s", out, pkg.src.Debian)
	}
	if out, _ := s.chroot("find /etc/systemd /etc/rc?.d -name '*vicish*' 2>/dev/null; systemctl is-enabled vicish-metrics.timer 2>/dev/null"); strings.TrimSpace(out) != "" && !strings.Contains(out, "disabled") {
		t.Errorf("a unit is enabled: %s", out)
	}

	if out, code := s.chroot("vicish --version"); code != 0 || !strings.HasPrefix(out, "vicish "+pkg.src.Version+" (") {
		t.Errorf("vicish --version: exit %d, %q; want vicish %s", code, out, pkg.src.Version)
	}
	for page, want := range map[string]string{"vicish": "/usr/share/man/man1/vicish.1.gz", "vicish-lab": "/usr/share/man/man1/vicish-lab.1.gz"} {
		if out, code := s.chroot("man -w " + page); code != 0 || out != want {
			t.Errorf("man -w %s: exit %d, %q; want %s", page, code, out, want)
		}
	}
	if out, code := s.chroot("man vicish | grep -c -e '--allow-exec'"); code != 0 || out == "0" {
		t.Errorf("man vicish does not show --allow-exec: exit %d, %s", code, out)
	}

	// The completion as an interactive bash gets it: bash-completion finds
	// the package's file by the command's name when it is first completed.
	out, code = s.chroot(`. /usr/share/bash-completion/bash_completion
if declare -F _comp_load >/dev/null; then _comp_load vicish; else __load_completion vicish; fi
fn=$(complete -p vicish | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
cd /usr/share/vicish
complete_line() {
	COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
	"$fn" vicish "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '; echo
}
complete_line vicish --al
complete_line vicish st
complete_line vicish lab r`)
	if want := "--allow-exec --allow-listen --allow-net --allow-write \nstatus.star \nrestart root \n"; code != 0 || out+"\n" != want {
		t.Errorf("bash completion of vicish --al, vicish st, vicish lab r: exit %d\n%q\nwant\n%q", code, out, want)
	}

	// status.star from /usr/share/vicish, its lib/ beside it, against the
	// gateway's socket where vicish looks by default.
	out, code = s.chroot("cd / && vicish /usr/share/vicish/status.star")
	if code != 0 || !strings.Contains(out, g.Version()) || !strings.Contains(out, "ab") {
		t.Errorf("vicish /usr/share/vicish/status.star (gateway %s, strongSwan %s): exit %d\n%s", g.Name, g.Version(), code, out)
	}
	if out, code := s.chroot("cd / && vicish /usr/share/vicish/fleet-status.star --inventory /usr/share/doc/vicish/examples/fleet --help"); code != 0 || !strings.Contains(out, "usage") {
		t.Errorf("fleet-status.star --help (its lib/ from /usr/share/vicish/lib): exit %d\n%s", code, out)
	}

	// remove keeps the conffiles; purge takes them too and leaves only what
	// policy keeps.
	if out, code := s.chroot("apt-get remove -y vicish"); code != 0 {
		t.Fatalf("apt-get remove vicish: exit %d\n%s", code, out)
	}
	if out, code := s.chroot("test ! -e /usr/bin/vicish && test -f /etc/vicish/fleet && test -f /etc/vicish/hooks/ike-updown.env"); code != 0 {
		t.Errorf("after apt-get remove: /usr/bin/vicish is still there or a conffile is gone: %s", out)
	}
	if out, code := s.chroot("apt-get purge -y vicish"); code != 0 {
		t.Fatalf("apt-get purge vicish: exit %d\n%s", code, out)
	}
	after := s.snapshot()
	var left []string
	for p, v := range after {
		if before[p] != v && !policyKeeps(p) {
			left = append(left, fmt.Sprintf("%s (%s; before: %q)", p, v, before[p]))
		}
	}
	for p, v := range before {
		if _, ok := after[p]; !ok && !policyKeeps(p) {
			left = append(left, fmt.Sprintf("%s gone (%s)", p, v))
		}
	}
	for p := range after {
		// Logs, and man-db's cache of formatted pages (its daily job drops
		// those whose source is gone), may name vicish.
		_, was := before[p]
		if !was && strings.Contains(p, "vicish") && !strings.HasPrefix(p, "/var/log/") && !strings.HasPrefix(p, "/var/cache/man/") {
			left = append(left, p+" (names vicish)")
		}
	}
	sort.Strings(left)
	if len(left) > 0 {
		t.Errorf("after apt-get purge vicish, the root differs from before the install:\n%s", strings.Join(left, "\n"))
	}
	if out, _ := s.chroot("dpkg-query -W -f='${db:Status-Status}' vicish 2>&1"); out != "not-installed" && !strings.Contains(out, "no packages found") {
		t.Errorf("dpkg-query after purge: %q", out)
	}
}
