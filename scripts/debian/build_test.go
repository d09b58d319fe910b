package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicish/vicish/internal/lab/labtest"
)

// TestReadSource: the version comes from the checkout's commit: a
// pseudo-version without a tag, the tag on a tagged commit, the next
// patch's pre-release after one, "+dirty" with changes; each maps to a
// Debian version.
func TestReadSource(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		labtest.SkipOffCI(t, "git is needed to build from a checkout (apt-get install git)")
	}
	repo := t.TempDir()
	env := append(os.Environ(), "GIT_AUTHOR_NAME=A Builder", "GIT_AUTHOR_EMAIL=a@example.org",
		"GIT_COMMITTER_NAME=C Committer", "GIT_COMMITTER_EMAIL=c@example.org",
		"GIT_COMMITTER_DATE=2026-12-06T03:16:13Z", "GIT_AUTHOR_DATE=2026-12-06T03:16:13Z",
		"GIT_CONFIG_GLOBAL=/dev/null", "DEBFULLNAME=", "DEBEMAIL=")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	t.Setenv("DEBFULLNAME", "")
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(repo, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q", "-b", "main")
	write("go.mod", "module example.org/x\n")
	git("add", ".")
	git("commit", "-q", "-m", "one")
	rev := git("rev-parse", "HEAD")
	check := func(version, debian string) {
		t.Helper()
		src, err := readSource(context.Background(), repo)
		if err != nil {
			t.Fatal(err)
		}
		if src.Version != version || src.Debian != debian {
			t.Errorf("version %q (Debian %q), want %q (%q)", src.Version, src.Debian, version, debian)
		}
		if src.Revision != git("rev-parse", "HEAD") || src.Maintainer != "C Committer <c@example.org>" {
			t.Errorf("revision %s, maintainer %q", src.Revision, src.Maintainer)
		}
	}
	check("v0.0.0-20261206031613-"+rev[:12], "0.0.0~git20261206."+rev[:7])
	write("new.go", "package x\n") // untracked: dirty, as for the go command
	check("v0.0.0-20261206031613-"+rev[:12]+"+dirty", "0.0.0~git20261206."+rev[:7]+"+dirty")
	os.Remove(filepath.Join(repo, "new.go"))
	git("tag", "v1.2.3")
	check("v1.2.3", "1.2.3")
	write("go.mod", "module example.org/x\n\ngo 1.22\n")
	git("commit", "-q", "-am", "two")
	rev = git("rev-parse", "HEAD")
	check("v1.2.4-0.20261206031613-"+rev[:12], "1.2.4~git20261206."+rev[:7])
	t.Setenv("DEBFULLNAME", "P Packager")
	t.Setenv("DEBEMAIL", "p@example.org")
	if src, err := readSource(context.Background(), repo); err != nil || src.Maintainer != "P Packager <p@example.org>" {
		t.Errorf("with $DEBFULLNAME and $DEBEMAIL: maintainer %q, %v", src.Maintainer, err)
	}
	if _, err := readSource(context.Background(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "git checkout") {
		t.Errorf("readSource outside a checkout: %v", err)
	}
}
