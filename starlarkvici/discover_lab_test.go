package starlarkvici

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/starctx"
	"go.starlark.net/starlark"
)

// TestDiscoverLab: a module given no URI finds a real gateway's socket
// through the strongswan.conf its daemon runs with, and talks to it.
func TestDiscoverLab(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	gw := l.Gateway("a")
	conf := filepath.Join(gw.ConfDir, "strongswan.conf")
	getenv := func(k string) string {
		if k == "STRONGSWAN_CONF" {
			return conf
		}
		return ""
	}
	if got := Discover(getenv); got != gw.URI {
		t.Fatalf("Discover with STRONGSWAN_CONF=%s: got %q, want %q", conf, got, gw.URI)
	}
	mod := NewModule(Config{Getenv: getenv})
	defer mod.Close()
	thread := &starlark.Thread{}
	defer starctx.Attach(thread, context.Background())()
	v, err := starlark.EvalOptions(fileOptions, thread, "discover", `vici.version()["daemon"]`, starlark.StringDict{"vici": mod})
	if err != nil {
		t.Fatal(err)
	}
	if v != starlark.String("charon") {
		t.Errorf("vici.version() via the discovered socket: got %v", v)
	}
	if mod.URI() != gw.URI {
		t.Errorf("module URI %q, want %q", mod.URI(), gw.URI)
	}
	c, err := mod.Client(context.Background())
	if err != nil || c.URI() != gw.URI {
		t.Errorf("Module.Client: %v, %v", c, err)
	}
}
