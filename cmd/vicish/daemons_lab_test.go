package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
)

// TestLabUpThenScript does what a user does with either strongSwan, as
// separate vicish processes: `vicish lab up --daemon D`, then, with the
// VICI_URI the banner gives, `vicish -c` printing vici.version()["version"]
// (the banner's version: 6.1.x for newest, the host's 5.9.x for system)
// and reading the global counters, which charon names "" (get-counters
// without a name), and `vicish lab down`.
func TestLabUpThenScript(t *testing.T) {
	if err := lab.Check(); err != nil {
		labtest.Start(t, lab.OneGateway) // fails or skips with the reason
	}
	newest, err := lab.RootVersion(lab.NewestRoot())
	if err != nil {
		labtest.StartConfig(t, lab.Config{Topology: lab.OneGateway, Daemon: lab.NewestDaemon}) // builds the root or fails saying why
		if newest, err = lab.RootVersion(lab.NewestRoot()); err != nil {
			t.Fatal(err)
		}
	}
	newest, _, _ = strings.Cut(newest, "-") // the package's 6.1.0-2 is charon's 6.1.0
	for _, daemon := range []string{"system", "newest"} {
		t.Run(daemon, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "lab")
			up, err := vicishCmd(t, nil, "lab", "up", "--dir", dir, "--topology", "1", "--daemon", daemon).CombinedOutput()
			if err != nil {
				t.Fatalf("vicish lab up --daemon %s: %v\n%s", daemon, err, up)
			}
			t.Cleanup(func() {
				if out, err := vicishCmd(t, nil, "lab", "down", "--dir", dir).CombinedOutput(); err != nil {
					t.Errorf("vicish lab down: %v\n%s", err, out)
				}
			})
			banner := regexp.MustCompile(`gateway a  strongSwan (\S+) \(` + daemon + `\)`).FindSubmatch(up)
			export := regexp.MustCompile(`export (VICI_URI=\S+)`).FindSubmatch(up)
			if banner == nil || export == nil {
				t.Fatalf("lab up banner without the gateway's version or the export line:\n%s", up)
			}
			version := string(banner[1])
			if daemon == "newest" && (version != newest || !strings.HasPrefix(version, "6.")) {
				t.Errorf("the newest gateway runs strongSwan %s; its root has %s", version, newest)
			}
			if daemon == "system" && !strings.HasPrefix(version, "5.") {
				t.Errorf("the system gateway runs strongSwan %s; this host has 5.9.x", version)
			}
			out, err := vicishCmd(t, []string{string(export[1])}, "-c", `print(vici.version()["version"])
c = vici.get_counters()
print(sorted(c["counters"].keys()), c["counters"][""]["ike-init-out-req"])`).CombinedOutput()
			if want := fmt.Sprintf("%s\n[\"\"] 0\n", version); err != nil || string(out) != want {
				t.Errorf("vicish -c against the %s gateway: %v\n%s\nwant:\n%s", daemon, err, out, want)
			}
		})
	}
}
