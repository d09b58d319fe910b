package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// The newest strongSwan runs from a Debian testing root file system made with
// debootstrap. It is built once per machine under RootCacheDir, into a
// temporary directory that is renamed into place only when complete, so a
// half-built root is never used. Other roots (a RootSpec: a suite and its
// packages, e.g. the Debian stable root the package's install test uses) are
// built and cached the same way, each in its own directory, under one lock. A gateway running it gets, in its private
// mount namespace, the root's /usr bound over /usr (and the root's
// ld.so.cache over the host's): charon, swanctl, their plugins and libraries
// are then the root's, while every other path (the lab's directory, temporary
// files, /dev/net/tun) is the same as for a system gateway.

// RootCacheDir holds the roots (one directory per suite) and their build
// lock.
const RootCacheDir = "/var/cache/vicish-lab"

// NewestSuite is the Debian suite the newest root is built from.
const NewestSuite = "testing"

// A RootSpec describes a Debian root file system the lab builds with
// debootstrap (--variant=minbase) and caches in RootCacheDir/Suite.
type RootSpec struct {
	// Suite is the Debian suite, e.g. "testing" or "stable"; it names the
	// root's directory.
	Suite string
	// Packages are installed on top of minbase.
	Packages []string
	// Files are paths the root must have to be usable ("/usr/bin/man").
	Files []string
	// Purpose says what the root is for, in messages: "the newest strongSwan".
	Purpose string
}

// NewestRootSpec is the newest strongSwan's root: Debian testing's charon,
// swanctl, their plugins, pki and ip.
func NewestRootSpec() RootSpec {
	files := []string{CharonPath, "/usr/sbin/swanctl"}
	for _, p := range requiredPlugins() {
		files = append(files, pluginDir+"/libstrongswan-"+p+".so")
	}
	return RootSpec{
		Suite: NewestSuite,
		Packages: []string{"strongswan-charon", "strongswan-swanctl", "libcharon-extra-plugins",
			"libstrongswan-standard-plugins", "strongswan-pki", "iproute2"},
		Files:   files,
		Purpose: "the newest strongSwan",
	}
}

// Dir is where the root lives once built.
func (s RootSpec) Dir() string { return filepath.Join(RootCacheDir, s.Suite) }

// rootMarker is written into a root after a successful build.
const rootMarker = ".vicish-lab-root"

// rootFreeBytes is the free space a build wants (a root takes about 250 MB).
const rootFreeBytes = 400 << 20

var (
	// ErrNoDebootstrap means debootstrap, needed to build the newest root, is
	// not installed.
	ErrNoDebootstrap = errors.New("debootstrap is not installed (it builds the newest strongSwan's root): run `apt-get install -y debootstrap` as root")
	// ErrNoMirror means no Debian mirror was found in the host's apt sources.
	ErrNoMirror = errors.New("no Debian mirror in the host's apt sources (/etc/apt/sources.list.d/*.sources, /etc/apt/sources.list): set " + MirrorEnv + " to one")
	// ErrMirrorUnreachable means the mirror could not be reached (no network).
	ErrMirrorUnreachable = errors.New("cannot reach the Debian mirror: building the newest root needs network access once")
	// ErrDiskFull means there is not enough space to build the newest root.
	ErrDiskFull = errors.New("not enough disk space for the newest root")
)

// MirrorEnv names an environment variable that overrides the mirror taken
// from the host's apt sources.
const MirrorEnv = "VICISH_LAB_MIRROR"

// NewestRoot is where the newest root lives once built.
func NewestRoot() string { return NewestRootSpec().Dir() }

// problem says why root is not a usable root of s ("" when it is).
func (s RootSpec) problem(root string) string {
	if _, err := os.Stat(root); err != nil {
		return "it is not built yet"
	}
	if _, err := os.Stat(filepath.Join(root, rootMarker)); err != nil {
		return "it has no " + rootMarker + " (not built by the lab, or broken)"
	}
	return s.filesProblem(root)
}

// filesProblem names a file of s that root lacks ("" if none).
func (s RootSpec) filesProblem(root string) string {
	need := append([]string{"/etc/ld.so.cache", "/usr/bin/dpkg"}, s.Files...)
	for _, p := range need {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			return "its " + p + " is missing"
		}
	}
	return ""
}

// RootVersion returns the strongswan-charon package version installed in
// root (e.g. "6.1.0-1"), from its dpkg status file.
func RootVersion(root string) (string, error) {
	f, err := os.Open(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	inCharon := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			inCharon = false
		case strings.HasPrefix(line, "Package: "):
			inCharon = strings.TrimSpace(line[len("Package: "):]) == "strongswan-charon"
		case inCharon && strings.HasPrefix(line, "Version: "):
			return strings.TrimSpace(line[len("Version: "):]), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("strongswan-charon is not installed in %s", root)
}

// EnsureNewestRoot returns the newest root, building it first when it is
// missing or broken. Progress and debootstrap's output go to progress (may be
// nil). Concurrent callers, in this process or others, build it once: the
// others wait for the first. The error says what failed (no debootstrap, no
// mirror, no network, disk full) and what to do.
func EnsureNewestRoot(ctx context.Context, progress io.Writer) (string, error) {
	return EnsureRoot(ctx, NewestRootSpec(), progress)
}

// RebuildNewestRoot builds the newest root again (e.g. to follow Debian
// testing), even when the cached one is complete, and replaces it only when
// the new one is. It refuses while a lab runs a gateway from it.
func RebuildNewestRoot(ctx context.Context, progress io.Writer) (string, error) {
	return RebuildRoot(ctx, NewestRootSpec(), progress)
}

// EnsureRoot returns the root of spec, building it first when it is
// missing or broken, as EnsureNewestRoot does for the newest root.
func EnsureRoot(ctx context.Context, spec RootSpec, progress io.Writer) (string, error) {
	return ensureRoot(ctx, spec, progress, false)
}

// RebuildRoot builds the root of spec again, as RebuildNewestRoot does.
func RebuildRoot(ctx context.Context, spec RootSpec, progress io.Writer) (string, error) {
	return ensureRoot(ctx, spec, progress, true)
}

func ensureRoot(ctx context.Context, spec RootSpec, progress io.Writer, rebuild bool) (string, error) {
	if progress == nil {
		progress = io.Discard
	}
	if spec.Suite == "" || strings.ContainsAny(spec.Suite, "/. ") {
		return "", fmt.Errorf("root: suite %q is not a Debian suite name", spec.Suite)
	}
	root := spec.Dir()
	if !rebuild && spec.problem(root) == "" {
		return root, nil
	}
	if os.Geteuid() != 0 {
		return "", ErrNotRoot
	}
	if err := os.MkdirAll(RootCacheDir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", RootCacheDir, err)
	}
	unlock, err := lockFile(ctx, filepath.Join(RootCacheDir, ".lock"), func() {
		fmt.Fprintf(progress, "lab: another process is building a root in %s; waiting for it\n", RootCacheDir)
	})
	if err != nil {
		return "", err
	}
	defer unlock()
	problem := spec.problem(root)
	if rebuild {
		if users := rootUsers(); spec.Suite == NewestSuite && len(users) > 0 {
			return "", fmt.Errorf("the newest root is in use by %s: stop those labs first (lab down)", strings.Join(users, ", "))
		}
		problem = "a rebuild was asked for"
	} else if problem == "" {
		return root, nil
	}
	if err := buildRoot(ctx, spec, root, problem, progress); err != nil {
		return "", fmt.Errorf("build the root of %s (%s, debootstrap of Debian %s): %w", spec.Purpose, root, spec.Suite, err)
	}
	return root, nil
}

// rootUsers names the recorded labs with a running gateway of the newest
// daemon.
func rootUsers() []string {
	reg, err := openRegistry()
	if err != nil {
		return nil
	}
	var users []string
	for _, st := range reg.list() {
		for _, g := range st.Gateways {
			if g.Daemon == NewestDaemon && isLabDaemon(g.PID, st.ID, g.Name) {
				users = append(users, fmt.Sprintf("lab %s (%s)", st.ID, st.Dir))
				break
			}
		}
	}
	return users
}

// lockFile takes an exclusive flock on path, calling waiting once if another
// holder makes it wait. It gives up when ctx ends.
func lockFile(ctx context.Context, path string, waiting func()) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !told {
			waiting()
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the lock %s: %w", path, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// buildRoot runs debootstrap for spec into a temporary directory beside
// root (spec.Dir() but in tests) and renames it into place. The caller holds
// the build lock.
func buildRoot(ctx context.Context, spec RootSpec, root, problem string, progress io.Writer) error {
	debootstrap, err := exec.LookPath("debootstrap")
	if err != nil {
		return ErrNoDebootstrap
	}
	mirror, source, err := findMirror()
	if err != nil {
		return err
	}
	removeStaleBuilds(root)
	if err := checkFreeSpace(filepath.Dir(root)); err != nil {
		return err
	}
	if err := checkReachable(ctx, mirror); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(root), filepath.Base(root)+".build-")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	fmt.Fprintf(progress, "lab: building the root of %s in %s (%s)\n", spec.Purpose, root, problem)
	fmt.Fprintf(progress, "lab: debootstrap --variant=minbase %s from %s (mirror from %s); this takes a few minutes, once per machine\n", spec.Suite, mirror, source)
	begin := time.Now()
	// Its own mount namespace: the proc and sys debootstrap mounts in the
	// target vanish with it even when it is killed.
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", debootstrap,
		"--variant=minbase", "--include="+strings.Join(spec.Packages, ","), spec.Suite, tmp, mirror)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	tail := &lineTail{max: 15}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			tail.add(line)
			fmt.Fprintf(progress, "lab: debootstrap: %s\n", line)
		}
		io.Copy(io.Discard, pr)
	}()
	err = cmd.Run()
	pw.Close()
	<-copied
	if err != nil {
		return classifyBuildError(ctx, err, tail.String(), mirror)
	}
	if p := spec.filesProblem(tmp); p != "" {
		return fmt.Errorf("debootstrap finished but the root is incomplete: %s; last output:\n%s", p, tail.String())
	}
	debian, _ := os.ReadFile(filepath.Join(tmp, "etc/debian_version"))
	marker := fmt.Sprintf("suite %s\nmirror %s\nbuilt %s\ndebian %s\n", spec.Suite, mirror, time.Now().UTC().Format(time.RFC3339), strings.TrimSpace(string(debian)))
	what := "Debian " + spec.Suite + " " + strings.TrimSpace(string(debian))
	if slices.Contains(spec.Packages, "strongswan-charon") {
		version, err := RootVersion(tmp)
		if err != nil {
			return err
		}
		marker += "strongswan " + version + "\n"
		what += ", strongSwan " + version
	}
	if err := os.WriteFile(filepath.Join(tmp, rootMarker), []byte(marker), 0o644); err != nil {
		return classifyBuildError(ctx, err, "", mirror)
	}
	if _, err := os.Stat(root); err == nil {
		old := root + ".old-" + newID()
		if err := os.Rename(root, old); err != nil {
			return err
		}
		fmt.Fprintf(progress, "lab: removing the previous root (%s)\n", problem)
		if !mountedUnder(old) {
			os.RemoveAll(old)
		}
	}
	if err := os.Rename(tmp, root); err != nil {
		return err
	}
	ok = true
	fmt.Fprintf(progress, "lab: root of %s ready in %v: %s in %s\n", spec.Purpose, time.Since(begin).Round(time.Second), what, root)
	return nil
}

// classifyBuildError turns a failed build into an error that names the cause.
func classifyBuildError(ctx context.Context, err error, output, mirror string) error {
	low := strings.ToLower(output + " " + err.Error())
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted (%v); a later run starts the build again", ctx.Err())
	case strings.Contains(low, "no space left"):
		return fmt.Errorf("%w: the disk under %s is full; free some space and run again; last output:\n%s", ErrDiskFull, RootCacheDir, output)
	case strings.Contains(low, "failed getting release file"), strings.Contains(low, "couldn't download"),
		strings.Contains(low, "temporary failure"), strings.Contains(low, "could not resolve"),
		strings.Contains(low, "unable to resolve"), strings.Contains(low, "network is unreachable"):
		return fmt.Errorf("%w (%s); last output:\n%s", ErrMirrorUnreachable, mirror, output)
	}
	return fmt.Errorf("debootstrap failed: %v; last output:\n%s", err, output)
}

// removeStaleBuilds deletes temporary build directories of earlier builds
// that were interrupted (the caller holds the build lock, so none is live).
func removeStaleBuilds(root string) {
	for _, pattern := range []string{root + ".build-*", root + ".old-*"} {
		dirs, _ := filepath.Glob(pattern)
		for _, d := range dirs {
			if !mountedUnder(d) {
				os.RemoveAll(d)
			}
		}
	}
}

// mountedUnder reports whether anything is mounted at or below dir in this
// mount namespace (then it is not removed: it could reach the host's files).
func mountedUnder(dir string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			return true
		}
	}
	return false
}

// checkFreeSpace fails with ErrDiskFull when dir's file system is short.
func checkFreeSpace(dir string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return nil // unknown: let the build try
	}
	free := st.Bavail * uint64(st.Bsize)
	if free < rootFreeBytes {
		return fmt.Errorf("%w: %d MB free on the file system of %s, the build needs about %d MB", ErrDiskFull, free>>20, dir, rootFreeBytes>>20)
	}
	return nil
}

// checkReachable opens and closes a TCP connection to the mirror's host, so
// that "no network" is said plainly before debootstrap starts.
func checkReachable(ctx context.Context, mirror string) error {
	u, err := url.Parse(mirror)
	if err != nil || u.Host == "" {
		return fmt.Errorf("mirror %q is not a URL: %v", mirror, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil // file:, or an apt transport debootstrap knows better
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return fmt.Errorf("%w (%s: %v)", ErrMirrorUnreachable, mirror, err)
	}
	c.Close()
	return nil
}

// findMirror returns the Debian archive the host's apt uses (not its
// security archive), and the file it came from. $VICISH_LAB_MIRROR wins.
func findMirror() (mirror, source string, err error) {
	if m := strings.TrimSpace(os.Getenv(MirrorEnv)); m != "" {
		return m, "$" + MirrorEnv, nil
	}
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if m := mirrorFromDeb822(string(b)); m != "" {
			return m, f, nil
		}
	}
	lists, _ := filepath.Glob("/etc/apt/sources.list.d/*.list")
	for _, f := range append([]string{"/etc/apt/sources.list"}, lists...) {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if m := mirrorFromList(string(b)); m != "" {
			return m, f, nil
		}
	}
	return "", "", ErrNoMirror
}

// mirrorFromDeb822 picks the first URI of a "Types: deb" stanza whose suites
// are not a security archive's, from a deb822 .sources file.
func mirrorFromDeb822(s string) string {
	for _, stanza := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, " ") {
				fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
		if !strings.Contains(" "+fields["types"]+" ", " deb ") || strings.EqualFold(fields["enabled"], "no") {
			continue
		}
		if strings.Contains(fields["suites"], "security") {
			continue
		}
		for _, u := range strings.Fields(fields["uris"]) {
			if !strings.Contains(u, "security") {
				return strings.TrimRight(u, "/")
			}
		}
	}
	return ""
}

// mirrorFromList does the same for one-line "deb [opts] URI suite ..." files.
func mirrorFromList(s string) string {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") {
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) > 0 {
				f = f[1:]
			}
		}
		if len(f) < 2 || strings.Contains(f[0], "security") || strings.Contains(f[1], "security") {
			continue
		}
		return strings.TrimRight(f[0], "/")
	}
	return ""
}

// lineTail keeps the last max lines written to it.
type lineTail struct {
	max   int
	lines []string
}

func (t *lineTail) add(line string) {
	t.lines = append(t.lines, line)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *lineTail) String() string { return strings.Join(t.lines, "\n") }
