package version

import (
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab/labtest"
)

func TestDebian(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"v1.2.3", "1.2.3"},
		{"v1.2.3-rc.1", "1.2.3~rc.1"},
		{"v0.0.0-20261206031613-8640f18abcde", "0.0.0~git20261206.8640f18"},
		{"v0.0.0-20261206031613-8640f18abcde+dirty", "0.0.0~git20261206.8640f18+dirty"},
		{"v1.2.4-0.20261206031613-8640f18abcde", "1.2.4~git20261206.8640f18"},
		{"v1.2.4-rc.1.0.20261206031613-8640f18abcde", "1.2.4~rc.1.git20261206.8640f18"},
		{"v10.20.30", "10.20.30"},
	} {
		got, err := Debian(c.in)
		if err != nil || got != c.want {
			t.Errorf("Debian(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{Devel, "", "1.2.3", "v1.2", "v1.2.3-", "v01.2.3", "v1.2.3-rc-1", "v1.2.3-rc 1", "vx.y.z"} {
		if got, err := Debian(bad); err == nil {
			t.Errorf("Debian(%q) = %q, want an error", bad, got)
		}
	}
}

// TestDebianOrder checks with dpkg itself that the mapping keeps the order
// of the module versions.
func TestDebianOrder(t *testing.T) {
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		labtest.SkipOffCI(t, "dpkg compares Debian versions: "+err.Error())
	}
	ordered := []string{
		"v0.0.0-20261206031613-8640f18abcde",
		"v0.0.0-20261207000000-0123456789ab",
		"v0.1.0-rc.1",
		"v0.1.0-rc.1.0.20261208000000-0123456789ab",
		"v0.1.0",
		"v0.1.1-0.20261209000000-0123456789ab",
		"v0.1.1",
	}
	var prev string
	for _, v := range ordered {
		d, err := Debian(v)
		if err != nil {
			t.Fatal(err)
		}
		if prev != "" {
			if out, err := exec.Command(dpkg, "--compare-versions", prev, "lt", d).CombinedOutput(); err != nil {
				t.Errorf("dpkg --compare-versions %s lt %s: %v %s", prev, d, err, out)
			}
		}
		prev = d
	}
}

func TestPseudo(t *testing.T) {
	at := time.Date(2026, 12, 6, 3, 16, 13, 0, time.FixedZone("CET", 3600))
	rev := "8640f18abcdef0123456789abcdef0123456789a"
	for _, c := range []struct {
		base  string
		dirty bool
		want  string
	}{
		{"", false, "v0.0.0-20261206021613-8640f18abcde"},
		{"", true, "v0.0.0-20261206021613-8640f18abcde+dirty"},
		{"v1.2.3", false, "v1.2.4-0.20261206021613-8640f18abcde"},
		{"v1.2.3-rc.1", false, "v1.2.3-rc.1.0.20261206021613-8640f18abcde"},
	} {
		got := Pseudo(c.base, at, rev, c.dirty)
		if got != c.want {
			t.Errorf("Pseudo(%q, dirty=%v) = %q, want %q", c.base, c.dirty, got, c.want)
		}
		if _, err := Debian(got); err != nil {
			t.Errorf("Debian(Pseudo(%q)): %v", c.base, err)
		}
	}
}

func TestFromBuild(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/vicish/vicish", Version: Devel},
		Deps:      []*debug.Module{{Path: "go.starlark.net", Version: "v0.0.0-20260908191801-89a6a09411d5"}},
		Settings: []debug.BuildSetting{
			{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
		},
	}
	info := FromBuild(bi, "")
	want := "vicish (devel) (go1.26.8 linux/arm64, go.starlark.net v0.0.0-20260908191801-89a6a09411d5)"
	if got := info.String(); got != want {
		t.Errorf("no VCS information, no stamp: %q, want %q", got, want)
	}
	// The go command's VCS stamp, as -buildvcs=true records it in a
	// checkout whose go command does not synthesize a version.
	bi.Settings = append(bi.Settings,
		debug.BuildSetting{Key: "vcs.revision", Value: "8640f18abcdef0123456789abcdef0123456789a"},
		debug.BuildSetting{Key: "vcs.time", Value: "2026-12-06T03:16:13Z"},
		debug.BuildSetting{Key: "vcs.modified", Value: "true"})
	if got := FromBuild(bi, "").Version; got != "v0.0.0-20261206031613-8640f18abcde+dirty" {
		t.Errorf("from VCS settings: %q", got)
	}
	bi.Main.Version = "v1.0.0"
	if got := FromBuild(bi, "").Version; got != "v1.0.0" {
		t.Errorf("go install MODULE@v1.0.0: %q", got)
	}
	if got := FromBuild(bi, "v1.0.1-0.20261206031613-8640f18abcde").Version; got != "v1.0.1-0.20261206031613-8640f18abcde" {
		t.Errorf("the link-time stamp does not win: %q", got)
	}
	if got := FromBuild(nil, "").String(); !strings.HasPrefix(got, "vicish (devel) (go") || !strings.Contains(got, "go.starlark.net ?") {
		t.Errorf("without build information: %q", got)
	}
}
