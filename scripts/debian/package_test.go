package main

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab/labtest"
)

// built is the package this test binary builds once, from this checkout.
type built struct {
	deb  string // the .deb
	src  source
	tree string // its files, unpacked with dpkg-deb -x
	err  error
}

// A builder builds the package once for all the tests that need it.
type builder struct {
	once sync.Once
	dir  string
	pkg  built
}

var theBuilder builder

func TestMain(m *testing.M) {
	code := m.Run()
	if theBuilder.dir != "" {
		os.RemoveAll(theBuilder.dir)
	}
	os.Exit(code)
}

// buildOnce returns the package built from this checkout (once per test
// binary), unpacked.
func buildOnce(t *testing.T) built {
	t.Helper()
	for _, tool := range []string{"git", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			labtest.SkipOffCI(t, tool+" is needed to build the package: "+installHint(tool))
		}
	}
	b := &theBuilder
	b.once.Do(func() {
		b.dir, b.pkg.err = os.MkdirTemp("", "vicish-debian-test-")
		if b.pkg.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		var log bytes.Buffer
		b.pkg.deb, b.pkg.err = buildPackage(ctx, "../..", filepath.Join(b.dir, "dist"), &log)
		if b.pkg.err != nil {
			return
		}
		b.pkg.src, b.pkg.err = readSource(ctx, "../..")
		if b.pkg.err != nil {
			return
		}
		b.pkg.tree = filepath.Join(b.dir, "tree")
		if out, err := exec.Command("dpkg-deb", "-x", b.pkg.deb, b.pkg.tree).CombinedOutput(); err != nil {
			b.pkg.err = fmt.Errorf("dpkg-deb -x: %v\n%s", err, out)
		}
	})
	if b.pkg.err != nil {
		t.Fatalf("building the package: %v", b.pkg.err)
	}
	return b.pkg
}

// TestLintian: Debian's package checker finds no error and no warning (an
// override with its reason covers the static binary).
func TestLintian(t *testing.T) {
	lintian, err := exec.LookPath("lintian")
	if err != nil {
		labtest.SkipOffCI(t, "lintian checks the package: "+installHint("lintian"))
	}
	pkg := buildOnce(t)
	out, _ := exec.Command(lintian, "--display-level", ">=warning", "--show-overrides", pkg.deb).CombinedOutput()
	var bad []string
	overridden := false
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "E:"), strings.HasPrefix(line, "W:"):
			bad = append(bad, line)
		case strings.HasPrefix(line, "O: vicish: statically-linked-binary [usr/bin/vicish]"):
			overridden = true
		}
	}
	if len(bad) > 0 {
		t.Errorf("lintian %s:\n%s", filepath.Base(pkg.deb), strings.Join(bad, "\n"))
	}
	if !overridden {
		t.Errorf("lintian did not apply the override for the static binary:\n%s", out)
	}
}

// TestPackageControl: the package depends on nothing, recommends ssh,
// suggests swanctl and prometheus, and its version is the commit's.
func TestPackageControl(t *testing.T) {
	pkg := buildOnce(t)
	want := map[string]string{
		"Package":      "vicish",
		"Version":      pkg.src.Debian,
		"Architecture": pkg.src.Arch,
		"Depends":      "",
		"Pre-Depends":  "",
		"Recommends":   "openssh-client",
		"Suggests":     "strongswan-swanctl, prometheus",
	}
	for field, value := range want {
		out, err := exec.Command("dpkg-deb", "--field", pkg.deb, field).Output()
		if err != nil {
			t.Fatalf("dpkg-deb --field %s: %v", field, err)
		}
		if got := strings.TrimSpace(string(out)); got != value {
			t.Errorf("%s: %q, want %q", field, got, value)
		}
	}
	if name := fmt.Sprintf("vicish_%s_%s.deb", pkg.src.Debian, pkg.src.Arch); filepath.Base(pkg.deb) != name {
		t.Errorf("the package is %s, want %s", filepath.Base(pkg.deb), name)
	}
	if strings.Contains(pkg.src.Version, pkg.src.Revision[:12]) { // not a tagged release
		if want := "git" + pkg.src.Time.Format("20060102") + "." + pkg.src.Revision[:7]; !strings.Contains(pkg.src.Debian, want) {
			t.Errorf("Debian version %q does not name the commit (%s)", pkg.src.Debian, want)
		}
	}
	ctl := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "--control", pkg.deb, ctl).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --control: %v\n%s", err, out)
	}
	conffiles, err := os.ReadFile(filepath.Join(ctl, "conffiles"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(conffiles), "/etc/vicish/fleet\n/etc/vicish/hooks/ike-updown.env\n"; got != want {
		t.Errorf("conffiles:\n%s\nwant\n%s", got, want)
	}
	for _, script := range []string{"preinst", "postinst", "prerm", "postrm"} {
		if _, err := os.Stat(filepath.Join(ctl, script)); err == nil {
			t.Errorf("the package has a %s; it needs none (the units are not enabled)", script)
		}
	}
}

// TestPackageFiles: what goes where, owned by root, the binary static and
// stamped, the runbooks finding their lib/.
func TestPackageFiles(t *testing.T) {
	pkg := buildOnce(t)
	out, err := exec.Command("dpkg-deb", "--contents", pkg.deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) < 6 || f[1] != "root/root" {
			t.Errorf("not owned by root/root: %s", line)
		}
	}
	has := func(p string) {
		t.Helper()
		if _, err := os.Stat(filepath.Join(pkg.tree, p)); err != nil {
			t.Errorf("the package lacks %s", p)
		}
	}
	for _, p := range []string{
		"usr/bin/vicish", "usr/share/man/man1/vicish.1.gz", "usr/share/man/man1/vicish-lab.1.gz",
		"usr/share/bash-completion/completions/vicish", "usr/share/doc/vicish/copyright",
		"usr/share/doc/vicish/changelog.gz", "usr/share/doc/vicish/examples/fleet",
		"usr/share/lintian/overrides/vicish", "etc/vicish/fleet", "etc/vicish/hooks/ike-updown.env",
	} {
		has(p)
	}
	// Every runbook, hook and lib of scripts/ (not their tests), every
	// unit, every example.
	for pattern, dir := range map[string]string{
		"../*.star": "usr/share/vicish", "../hooks/*.star": "usr/share/vicish/hooks", "../lib/*.star": "usr/share/vicish/lib",
		"../../examples/systemd/*": "usr/lib/systemd/system", "../../examples/*.star": "usr/share/doc/vicish/examples",
		"../../examples/prometheus/*.yml": "usr/share/doc/vicish/examples/prometheus",
	} {
		files, _ := filepath.Glob(pattern)
		if len(files) == 0 {
			t.Errorf("no %s", pattern)
		}
		for _, f := range files {
			p := filepath.Join(dir, filepath.Base(f))
			if !strings.HasSuffix(f, "_test.star") {
				has(p)
			} else if _, err := os.Stat(filepath.Join(pkg.tree, p)); err == nil {
				t.Errorf("the package ships the test %s", p)
			}
		}
	}

	bin := filepath.Join(pkg.tree, "usr/bin/vicish")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("usr/bin/vicish is dynamically linked (%v)", p.Type)
		}
	}
	v, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.HasPrefix(string(v), "vicish "+pkg.src.Version+" (") {
		t.Errorf("vicish --version = %q, %v; want it to name %s", v, err, pkg.src.Version)
	}
	if strings.Contains(string(v), "(devel)") {
		t.Errorf("vicish --version = %q", v)
	}

	// The runbooks load lib/ from where the package puts them: each prints
	// its usage after its load() statements ran.
	for _, script := range []string{"status.star", "fleet-status.star", "metrics.star", "failover.star", "hooks/fleet-updown.star", "hooks/ike-updown.star"} {
		cmd := exec.Command(bin, filepath.Join(pkg.tree, "usr/share/vicish", script), "--help")
		cmd.Dir = t.TempDir() // not beside scripts/
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "usage") {
			t.Errorf("vicish /usr/share/vicish/%s --help: %v\n%s", script, err, out)
		}
	}

	// The copyright file names every module linked into the binary.
	copyright, err := os.ReadFile(filepath.Join(pkg.tree, "usr/share/doc/vicish/copyright"))
	if err != nil {
		t.Fatal(err)
	}
	_, mods, err := linkedModules(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range append(mods, &debugModule{Path: "go"}) {
		if !strings.Contains(string(copyright), "\nFiles: "+m.Path+"/*\n") {
			t.Errorf("the copyright file has no paragraph for %s", m.Path)
		}
	}
}

// TestManPages: the manual pages render without a warning and say what
// the binary's help says: each entry's term is in the page.
func TestManPages(t *testing.T) {
	if _, err := exec.LookPath("man"); err != nil {
		labtest.SkipOffCI(t, "man renders the manual pages: "+installHint("man"))
	}
	pkg := buildOnce(t)
	bin := filepath.Join(pkg.tree, "usr/bin/vicish")
	for page, args := range map[string][]string{"vicish": {"--help"}, "vicish-lab": {"lab", "help"}} {
		cmd := exec.Command("man", "--warnings", "-l", filepath.Join(pkg.tree, "usr/share/man/man1", page+".1.gz"))
		cmd.Env = append(os.Environ(), "MANWIDTH=200", "MANPAGER=cat", "PAGER=cat", "LC_ALL=C.UTF-8")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("man -l %s: %v\n%s", page, err, stderr.String())
		}
		text := strings.Join(strings.Fields(stdout.String()), " ")
		help, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatal(err)
		}
		p, err := parseHelp(string(help))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"NAME", "SYNOPSIS", "EXIT STATUS", "ENVIRONMENT", "FILES", "SEE ALSO"} {
			if !strings.Contains(text, " "+want+" ") {
				t.Errorf("%s(1) has no %s section", page, want)
			}
		}
		for _, sec := range p.Sections {
			for _, e := range sec.Entries {
				term := strings.Join(strings.Fields(e.Term), " ")
				if !strings.Contains(text, term) {
					t.Errorf("%s(1) lacks %q (section %s of the help)", page, term, sec.Title)
				}
			}
		}
	}
}

// TestCompletion drives the package's bash completion with its binary:
// flags, commands, a lab command's flags, and .star files.
func TestCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		labtest.SkipOffCI(t, "bash runs the completion: "+installHint("bash"))
	}
	pkg := buildOnce(t)
	work := t.TempDir()
	for _, p := range []string{"run.star", "runbook.star", "notes.txt", "rules/x.star"} {
		os.MkdirAll(filepath.Dir(filepath.Join(work, p)), 0o755)
		if err := os.WriteFile(filepath.Join(work, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		line string // what is typed before TAB
		want string
	}{
		{"vicish --al", "--allow-exec --allow-listen --allow-net --allow-write"},
		{"vicish ", "check fmt lab rules run.star runbook.star test"},
		{"vicish test -", "-h -run -short -timeout -v"},
		{"vicish check -", "--json -h"},
		{"vicish fmt -", "-d -h -l -w"},
		{"vicish fmt -w ", "rules run.star runbook.star"},
		{"vicish ru", "rules run.star runbook.star"},
		{"vicish rules/", "rules/x.star"},
		{"vicish la", "lab"},
		{"vicish lab ", "down help kill restart root status swanctl up"},
		{"vicish lab up --d", "--daemon --dir"},
		{"vicish lab up --dir ", "rules"},
		{"vicish --uri ", "notes.txt rules run.star runbook.star"},
		{"vicish run.star ", "notes.txt rules run.star runbook.star"},
		{"vicish --deadline ", ""},
	} {
		script := `. "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_vicish
printf '%s\n' "${COMPREPLY[@]}"`
		words := strings.Fields(tc.line)
		if strings.HasSuffix(tc.line, " ") {
			words = append(words, "")
		}
		cmd := exec.Command(bash, append([]string{"--norc", "--noprofile", "-c", script, "bash",
			filepath.Join(pkg.tree, "usr/share/bash-completion/completions/vicish")}, words...)...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "PATH="+filepath.Join(pkg.tree, "usr/bin")+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%q: %v\n%s", tc.line, err, out)
			continue
		}
		got := strings.Fields(string(out))
		sort.Strings(got)
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%q<TAB> offers %q, want %q", tc.line, strings.Join(got, " "), tc.want)
		}
	}
}
