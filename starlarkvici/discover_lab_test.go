package starlarkvici

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/vici"
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
	if got, err := vici.Discover(getenv); err != nil || got != gw.URI {
		t.Fatalf("vici.Discover with STRONGSWAN_CONF=%s: got %q, %v; want %q", conf, got, err, gw.URI)
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

// TestDiscoverInvalidConf: a strongswan.conf that does not parse stops the
// default session with the file's error (swanctl refuses to start then),
// instead of a connection error about a socket the file did not name.
func TestDiscoverInvalidConf(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "strongswan.conf")
	if err := os.WriteFile(conf, []byte("swanctl {\n\tsocket = unix:///tmp/x.vici\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mod := NewModule(Config{Getenv: func(k string) string {
		if k == "STRONGSWAN_CONF" {
			return conf
		}
		return ""
	}})
	defer mod.Close()
	thread := &starlark.Thread{}
	defer starctx.Attach(thread, context.Background())()
	_, err := starlark.EvalOptions(fileOptions, thread, "discover", `vici.version()`, starlark.StringDict{"vici": mod})
	want := "vici.version: vici: finding the daemon's socket: " + conf + ":3: syntax error: unexpected end of file, expecting '}' (a section is not closed); fix the file, or name the socket with --uri or $VICI_URI"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
}
