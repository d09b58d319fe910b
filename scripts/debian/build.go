package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vicish/vicish/internal/version"
)

// The package's name and the module it is built from.
const (
	packageName = "vicish"
	modulePath  = "github.com/vicish/vicish"
)

// A source is the commit a package is built from.
type source struct {
	Repo     string    // the checkout's root
	Revision string    // the commit's full hash
	Time     time.Time // its commit time: the package's date and files' times
	Version  string    // its module version (internal/version)
	Debian   string    // Version as a Debian version
	Arch     string    // the Debian architecture built for
	// Maintainer is "Name <email>": $DEBFULLNAME and $DEBEMAIL, else the
	// commit's committer.
	Maintainer string
}

// A file is one file of the package.
type file struct {
	Path string // in the package, without the leading slash: "usr/bin/vicish"
	Mode fs.FileMode
	Data []byte
}

// buildPackage builds the package of the checkout in repo into outDir and
// returns the .deb's path. Progress goes to log.
func buildPackage(ctx context.Context, repo, outDir string, log io.Writer) (string, error) {
	for _, tool := range []string{"git", "go", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("%s is needed to build the package: %s", tool, installHint(tool))
		}
	}
	src, err := readSource(ctx, repo)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(log, "debian: vicish %s (Debian %s, %s) from commit %s\n", src.Version, src.Debian, src.Arch, src.Revision[:12])
	work, err := os.MkdirTemp("", "vicish-deb-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "vicish")
	if err := buildBinary(ctx, src, bin); err != nil {
		return "", err
	}
	files, err := packageFiles(ctx, src, bin)
	if err != nil {
		return "", err
	}
	tree := filepath.Join(work, "tree")
	if err := writeTree(tree, files, src); err != nil {
		return "", err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	deb := filepath.Join(outDir, fmt.Sprintf("%s_%s_%s.deb", packageName, src.Debian, src.Arch))
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--root-owner-group", "--build", tree, deb)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+strconv.FormatInt(src.Time.Unix(), 10))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("dpkg-deb --build: %v\n%s", err, out)
	}
	return deb, nil
}

// installHint says how to get a missing program.
func installHint(tool string) string {
	if tool == "go" {
		return "install the Go toolchain go.mod names, from https://go.dev/dl/"
	}
	pkg, ok := map[string]string{"dpkg-deb": "dpkg", "man": "man-db", "unshare": "util-linux"}[tool]
	if !ok {
		pkg = tool
	}
	return "as root: apt-get install " + pkg
}

// readSource asks git which commit repo is at and derives the versions.
func readSource(ctx context.Context, repo string) (source, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", repo}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return strings.TrimSpace(string(out)), nil
	}
	var src source
	abs, err := filepath.Abs(repo)
	if err != nil {
		return src, err
	}
	src.Repo = abs
	head, err := git("log", "-1", "--format=%H %ct%n%cn <%ce>")
	if err != nil {
		return src, fmt.Errorf("the package is built from a git checkout: %w", err)
	}
	first, committer, _ := strings.Cut(head, "\n")
	rev, ct, _ := strings.Cut(first, " ")
	secs, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return src, fmt.Errorf("git log: commit time %q: %v", ct, err)
	}
	src.Revision, src.Time = rev, time.Unix(secs, 0).UTC()
	// As the go command decides vcs.modified: any change, untracked files too.
	status, err := git("status", "--porcelain")
	if err != nil {
		return src, err
	}
	dirty := status != ""
	tag, _ := git("describe", "--tags", "--exact-match", "--match", "v[0-9]*", "HEAD")
	if _, err := version.Debian(tag); err == nil && !dirty && !strings.Contains(tag, "+") {
		src.Version = tag
	} else {
		base, _ := git("describe", "--tags", "--abbrev=0", "--match", "v[0-9]*", "HEAD")
		if _, err := version.Debian(base); err != nil {
			base = ""
		}
		src.Version = version.Pseudo(base, src.Time, src.Revision, dirty)
	}
	if src.Debian, err = version.Debian(src.Version); err != nil {
		return src, err
	}
	goarch, err := goEnv(ctx, repo, "GOARCH")
	if err != nil {
		return src, err
	}
	if src.Arch, err = debianArch(goarch); err != nil {
		return src, err
	}
	src.Maintainer = committer
	if name, email := os.Getenv("DEBFULLNAME"), os.Getenv("DEBEMAIL"); name != "" && email != "" {
		src.Maintainer = name + " <" + email + ">"
	}
	return src, nil
}

// goEnv returns one variable of `go env`.
func goEnv(ctx context.Context, dir, name string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", name)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// debianArch maps GOARCH to Debian's name for the architecture.
func debianArch(goarch string) (string, error) {
	arch, ok := map[string]string{
		"amd64": "amd64", "arm64": "arm64", "386": "i386", "ppc64le": "ppc64el",
		"s390x": "s390x", "riscv64": "riscv64", "loong64": "loong64", "mips64le": "mips64el",
	}[goarch]
	if !ok {
		return "", fmt.Errorf("no Debian architecture known for GOARCH=%s", goarch)
	}
	return arch, nil
}

// buildBinary builds cmd/vicish as the package ships it: static, without
// the builder's paths, its version stamped; and checks that it says so.
func buildBinary(ctx context.Context, src source, bin string) error {
	ldflags := "-s -w -X github.com/vicish/vicish/internal/version.stamp=" + src.Version
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", bin, "./cmd/vicish")
	cmd.Dir = src.Repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/vicish: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return fmt.Errorf("%s --version: %v", bin, err)
	}
	if want := "vicish " + src.Version + " "; !strings.HasPrefix(string(out), want) {
		return fmt.Errorf("the built vicish says %q, want it to start with %q", out, want)
	}
	return nil
}

// packageFiles gathers the package's files (without DEBIAN/).
func packageFiles(ctx context.Context, src source, bin string) ([]file, error) {
	var files []file
	add := func(p string, mode fs.FileMode, data []byte) {
		files = append(files, file{Path: p, Mode: mode, Data: data})
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	add("usr/bin/vicish", 0o755, data)

	// The runbooks, hooks and their lib/, as they sit in scripts/, so that
	// load("lib/...") and load("../lib/...") find the same files. Their
	// tests (*_test.star, with the recordings in testdata/) stay in the
	// source: they test the project, not a gateway.
	scripts := filepath.Join(src.Repo, "scripts")
	err = filepath.WalkDir(scripts, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".star") || strings.HasSuffix(p, "_test.star") {
			return nil
		}
		rel, _ := filepath.Rel(scripts, p)
		b, err := os.ReadFile(p)
		add(path.Join("usr/share/vicish", filepath.ToSlash(rel)), 0o644, b)
		return err
	})
	if err != nil {
		return nil, err
	}
	units, _ := filepath.Glob(filepath.Join(src.Repo, "examples/systemd/*"))
	examples, _ := filepath.Glob(filepath.Join(src.Repo, "examples/*.star"))
	if len(units) == 0 || len(examples) == 0 {
		return nil, fmt.Errorf("no units in examples/systemd or no examples/*.star in %s", src.Repo)
	}
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			return nil, err
		}
		add("usr/lib/systemd/system/"+filepath.Base(u), 0o644, b)
	}
	rules, _ := filepath.Glob(filepath.Join(src.Repo, "examples/prometheus/*.yml"))
	for _, e := range append(examples, rules...) {
		b, err := os.ReadFile(e)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(filepath.Join(src.Repo, "examples"), e)
		add("usr/share/doc/vicish/examples/"+filepath.ToSlash(rel), 0o644, b)
	}

	// Files that ship as they are, at their installed paths.
	asIs := filepath.Join(src.Repo, "scripts/debian/files")
	err = filepath.WalkDir(asIs, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(asIs, p)
		add(filepath.ToSlash(rel), 0o644|info.Mode().Perm()&0o111, b)
		return err
	})
	if err != nil {
		return nil, err
	}

	// The manual pages, from the help the binary prints.
	date := src.Time.Format("2006-01-02")
	pages := []struct{ name, args, seeAlso string }{
		{"vicish", "--help", "vicish-lab(1) swanctl(8) strongswan.conf(5)"},
		{"vicish-lab", "lab help", "vicish(1) swanctl(8)"},
	}
	for _, pg := range pages {
		out, err := exec.CommandContext(ctx, bin, strings.Fields(pg.args)...).Output()
		if err != nil {
			return nil, fmt.Errorf("vicish %s: %v", pg.args, err)
		}
		help, err := parseHelp(string(out))
		if err != nil {
			return nil, fmt.Errorf("the help of vicish %s does not follow the grammar scripts/debian/help.go reads: %v", pg.args, err)
		}
		page := manPage(help, date, "vicish "+src.Debian, strings.Fields(pg.seeAlso))
		add("usr/share/man/man1/"+pg.name+".1.gz", 0o644, gzipped([]byte(page)))
	}

	copyright, err := copyrightFile(ctx, src, bin)
	if err != nil {
		return nil, err
	}
	add("usr/share/doc/vicish/copyright", 0o644, []byte(copyright))
	add("usr/share/doc/vicish/changelog.gz", 0o644, gzipped([]byte(changelog(src))))
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for i := 1; i < len(files); i++ {
		if files[i].Path == files[i-1].Path {
			return nil, fmt.Errorf("two sources for %s", files[i].Path)
		}
	}
	return files, nil
}

// gzipped compresses b as `gzip -9n` does: best compression, no name and no
// time in the header, so the same input gives the same bytes.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	w.Close()
	out := buf.Bytes()
	out[9] = 3 // the OS field as gzip writes it on Unix
	return out
}

// changelog is the package's Debian changelog: one entry, for its commit.
func changelog(src source) string {
	return fmt.Sprintf("%s (%s) unstable; urgency=medium\n\n  * Built from commit %s of %s\n    (module version %s).\n\n -- %s  %s\n",
		packageName, src.Debian, src.Revision[:12], modulePath, src.Version, src.Maintainer, src.Time.Format(time.RFC1123Z))
}

// control is the package's DEBIAN/control.
func control(src source, installedKiB int64) string {
	return fmt.Sprintf(`Package: %s
Version: %s
Architecture: %s
Maintainer: %s
Installed-Size: %d
Recommends: openssh-client
Suggests: strongswan-swanctl, prometheus
Section: net
Priority: optional
Description: Starlark scripting for strongSwan's IKE daemon over VICI
 vicish talks to strongSwan's charon through its VICI control socket and
 runs Starlark (a small Python dialect) against it: a REPL to explore a
 live daemon, runbooks (status, failover, fleet status, metrics), and hooks
 that react to IKE_SAs going up or down, locally or on a fleet of gateways
 over ssh.
 .
 It is one static program without dependencies. The systemd units for the
 hooks and the metrics are installed but not enabled; their configuration
 is in /etc/vicish.
`, packageName, src.Debian, src.Arch, src.Maintainer, installedKiB)
}

// writeTree writes files and DEBIAN/ (control, conffiles, md5sums) below
// dir, every file and directory dated at the commit's time.
func writeTree(dir string, files []file, src source) error {
	var conffiles, md5sums strings.Builder
	dirs := map[string]bool{}
	var kib int64
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		for d := path.Dir(f.Path); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			kib++
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, f.Mode); err != nil {
			return err
		}
		if err := os.Chmod(p, f.Mode); err != nil { // whatever the umask
			return err
		}
		kib += (int64(len(f.Data)) + 1023) / 1024
		if strings.HasPrefix(f.Path, "etc/") {
			fmt.Fprintf(&conffiles, "/%s\n", f.Path)
		} else {
			fmt.Fprintf(&md5sums, "%x  %s\n", md5.Sum(f.Data), f.Path)
		}
	}
	debian := filepath.Join(dir, "DEBIAN")
	if err := os.MkdirAll(debian, 0o755); err != nil {
		return err
	}
	meta := map[string]string{"control": control(src, kib), "md5sums": md5sums.String(), "conffiles": conffiles.String()}
	for name, text := range meta {
		if text == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(debian, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	// Directories too: dpkg-deb keeps their modes and times.
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if err := os.Chmod(p, 0o755); err != nil {
				return err
			}
		}
		return os.Chtimes(p, src.Time, src.Time)
	})
}

// linkedModules returns the modules linked into bin, with their versions.
func linkedModules(bin string) (goVersion string, mods []*debugModule, err error) {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "", nil, fmt.Errorf("read the build information of %s: %v", bin, err)
	}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		mods = append(mods, &debugModule{Path: d.Path, Version: d.Version})
	}
	if len(mods) == 0 {
		return "", nil, errors.New("the binary names no modules: was it built in module mode?")
	}
	return bi.GoVersion, mods, nil
}

// A debugModule is one module linked into the binary.
type debugModule struct {
	Path, Version string
}
