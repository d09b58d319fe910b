// Package version says which vicish a binary is: its module version (a
// release tag, or a pseudo-version naming the commit and its time), the Go
// toolchain that built it and go.starlark.net's version. It also maps a
// module version to the Debian package version the same build ships as.
//
// A binary built by `go install MODULE@VERSION` knows its module version;
// one built in a git checkout knows its commit when the go command stamps
// VCS information (-buildvcs=true, the default outside these machines, not
// done in a git worktree). scripts/package.sh computes the pseudo-version
// itself and stamps it with
//
//	-ldflags "-X github.com/vicish/vicish/internal/version.stamp=v0.0.0-20261206031613-8640f18abcde"
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// stamp is the module version set at link time (see the package comment);
// empty when the build did not set it.
var stamp string

// Devel is the version of a build that knows neither its module version nor
// its commit, as the go command writes it.
const Devel = "(devel)"

// Info names a build.
type Info struct {
	// Version is the module version: "v1.2.3", or a pseudo-version such as
	// "v0.0.0-20261206031613-8640f18abcde", with "+dirty" when built from a
	// tree with uncommitted changes; Devel when unknown.
	Version string
	// Go is the toolchain's version, e.g. "go1.26.8".
	Go string
	// Platform is GOOS/GOARCH, e.g. "linux/amd64".
	Platform string
	// Starlark is go.starlark.net's module version ("?" when unknown).
	Starlark string
}

// Current returns the running binary's Info.
func Current() Info {
	bi, _ := debug.ReadBuildInfo()
	return FromBuild(bi, stamp)
}

// FromBuild returns the Info of a build with build information bi (may be
// nil) and link-time stamp (may be empty). The stamp wins; then the module
// version the go command recorded; then a pseudo-version made from the
// recorded VCS revision and time.
func FromBuild(bi *debug.BuildInfo, stamp string) Info {
	info := Info{Version: Devel, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, Starlark: "?"}
	if bi == nil {
		if stamp != "" {
			info.Version = stamp
		}
		return info
	}
	if bi.GoVersion != "" {
		info.Go = bi.GoVersion
	}
	var revision, goos, goarch string
	var at time.Time
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.time":
			at, _ = time.Parse(time.RFC3339, s.Value)
		case "vcs.modified":
			modified = s.Value == "true"
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if goos != "" && goarch != "" {
		info.Platform = goos + "/" + goarch
	}
	for _, dep := range bi.Deps {
		if dep.Path == "go.starlark.net" {
			info.Starlark = dep.Version
		}
	}
	switch {
	case stamp != "":
		info.Version = stamp
	case bi.Main.Version != "" && bi.Main.Version != Devel:
		info.Version = bi.Main.Version
	case revision != "" && !at.IsZero():
		info.Version = Pseudo("", at, revision, modified)
	}
	return info
}

// String is what `vicish --version` prints, e.g.
// "vicish v0.0.0-20261206031613-8640f18abcde (go1.26.8 linux/amd64, go.starlark.net v0.0.0-20260908191801-89a6a09411d5)".
func (i Info) String() string {
	return fmt.Sprintf("vicish %s (%s %s, go.starlark.net %s)", i.Version, i.Go, i.Platform, i.Starlark)
}

// Short is the version alone, as the REPL's banner and `vicish lab status`
// show it: "vicish v0.0.0-20261206031613-8640f18abcde".
func (i Info) Short() string { return "vicish " + i.Version }

// Pseudo returns the pseudo-version of commit revision made at t, as the go
// command writes it, for a commit after the release or pre-release base
// ("" when no tag precedes it). dirty appends "+dirty" (uncommitted
// changes). A tagged commit's version is its tag, not a pseudo-version.
func Pseudo(base string, t time.Time, revision string, dirty bool) string {
	rev := revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	ts := t.UTC().Format("20060102150405")
	var v string
	if major, minor, patch, pre, ok := semver(base); !ok {
		v = "v0.0.0-" + ts + "-" + rev
	} else if pre != "" {
		// After a pre-release: vX.Y.Z-pre.0.TIME-REV.
		v = fmt.Sprintf("v%d.%d.%d-%s.0.%s-%s", major, minor, patch, pre, ts, rev)
	} else {
		// After a release: the next patch release's pre-release.
		v = fmt.Sprintf("v%d.%d.%d-0.%s-%s", major, minor, patch+1, ts, rev)
	}
	if dirty {
		v += "+dirty"
	}
	return v
}

// Debian maps a module version to a Debian package version (which must
// start with a digit and sorts pre-releases before releases with "~"):
//
//	v1.2.3                                   1.2.3
//	v1.2.3-rc.1                              1.2.3~rc.1
//	v0.0.0-20261206031613-8640f18abcde       0.0.0~git20261206.8640f18
//	v1.2.4-0.20261206031613-8640f18abcde     1.2.4~git20261206.8640f18
//	v1.2.4-rc.1.0.20261206031613-8640f18abcde 1.2.4~rc.1.git20261206.8640f18
//	... +dirty                               ...+dirty
//
// A commit is named by its date and its first 7 hex digits, as Debian's
// Go packages do. Devel and anything else that is not a module version is
// an error.
func Debian(v string) (string, error) {
	base, dirty := strings.CutSuffix(v, "+dirty")
	major, minor, patch, pre, ok := semver(base)
	if !ok {
		return "", fmt.Errorf("%q is not a module version (vX.Y.Z[-pre]); build from a git checkout or a tagged module", v)
	}
	out := fmt.Sprintf("%d.%d.%d", major, minor, patch)
	if pre != "" {
		if ts, rev, rest, isPseudo := splitPseudo(pre); isPseudo {
			if rest != "" {
				out += "~" + rest + "."
			} else {
				out += "~"
			}
			out += "git" + ts[:8] + "." + rev[:7]
		} else {
			out += "~" + pre
		}
	}
	if dirty {
		out += "+dirty"
	}
	for _, r := range out {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune(".+~", r)) {
			return "", fmt.Errorf("%q maps to %q, which is not a Debian version", v, out)
		}
	}
	return out, nil
}

// splitPseudo splits a pseudo-version's pre-release part ("TIME-REV",
// "0.TIME-REV" or "PRE.0.TIME-REV") into the 14-digit time, the 12-digit
// revision and what came before (the pre-release it follows, "" for none).
func splitPseudo(pre string) (ts, rev, rest string, ok bool) {
	dash := strings.LastIndexByte(pre, '-')
	if dash < 0 || len(pre)-dash-1 != 12 || !isHex(pre[dash+1:]) {
		return "", "", "", false
	}
	rev, head := pre[dash+1:], pre[:dash]
	if len(head) < 14 || !isDigits(head[len(head)-14:]) {
		return "", "", "", false
	}
	ts, head = head[len(head)-14:], head[:len(head)-14]
	switch {
	case head == "" || head == "0.":
		return ts, rev, "", true
	case strings.HasSuffix(head, ".0."):
		return ts, rev, strings.TrimSuffix(head, ".0."), true
	}
	return "", "", "", false
}

// semver parses vMAJOR.MINOR.PATCH[-PRE] (no build metadata).
func semver(v string) (major, minor, patch int, pre string, ok bool) {
	rest, found := strings.CutPrefix(v, "v")
	if !found {
		return 0, 0, 0, "", false
	}
	rest, pre, _ = strings.Cut(rest, "-")
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return 0, 0, 0, "", false
	}
	var nums [3]int
	for i, p := range parts {
		if !isDigits(p) || len(p) > 1 && p[0] == '0' || len(p) > 9 {
			return 0, 0, 0, "", false
		}
		fmt.Sscan(p, &nums[i])
	}
	if strings.Contains(v, "-") && (pre == "" || strings.ContainsAny(pre, "+ ")) {
		return 0, 0, 0, "", false
	}
	return nums[0], nums[1], nums[2], pre, true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return s != ""
}
