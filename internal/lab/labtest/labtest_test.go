package labtest_test

import (
	"strings"
	"testing"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
)

// TestDocExample runs docs/lab.md's example as written and checks what it
// promises: a tunnel between a and b, a mixed lab, a star of 20 spokes.
func TestDocExample(t *testing.T) {
	ctx := t.Context()

	l := labtest.Start(t, lab.TwoGateways) // torn down in t.Cleanup
	a := l.Gateway("a")                    // a.URI is "unix:///.../a/charon.vici"
	out, err := a.Swanctl(ctx, "--initiate", "--child", "net", "--ike", "ab")

	mixed := labtest.StartConfig(t, lab.Config{Topology: lab.TwoGateways,
		Daemons: map[string]lab.Daemon{"a": lab.NewestDaemon}}) // a 6.1, b 5.9.8
	star := labtest.StartConfig(t, lab.Config{Topology: lab.Star, Spokes: 20})

	if err != nil || !strings.Contains(string(out), "initiate completed successfully") {
		t.Errorf("swanctl --initiate: %v\n%s", err, out)
	}
	if !strings.HasPrefix(a.URI, "unix:///") || !strings.HasSuffix(a.URI, "/a/charon.vici") {
		t.Errorf("a.URI = %q", a.URI)
	}
	if !labtest.AtLeast(t, mixed.Gateway("a"), "6.0.0") {
		t.Errorf("the mixed lab's a runs %s, want the newest strongSwan", mixed.Gateway("a").Version())
	}
	if got := len(star.Gateways); got != 21 {
		t.Errorf("the star has %d gateways, want the hub and 20 spokes", got)
	}
}
