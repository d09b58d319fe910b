package starlarkvici

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vicish/vicish/vici"
)

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	charonOnly := write("charon.conf", `# comment
charon {
	load_modular = yes # trailing
	plugins {
		include d/*.conf
	}
}
`)
	write("d/vici.conf", "vici {\n  socket = unix:///tmp/from-include.vici\n  load = yes\n}\n")
	both := write("both.conf", `charon { plugins { vici { socket = "unix:///tmp/charon.vici" } } }
swanctl {
	socket = unix:///tmp/swanctl.vici
}
`)
	cleared := write("cleared.conf", "swanctl {\n socket =\n}\ncharon.plugins.vici.socket = tcp://127.0.0.1:4502\n")
	broken := write("broken.conf", "charon { plugins { vici { socket = unix:///tmp/ok.vici } } }\n= oops {\n")
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name   string
		getenv func(string) string
		want   string
	}{
		{"VICI_URI wins", env("VICI_URI", "tcp://h:1", "STRONGSWAN_CONF", both), "tcp://h:1"},
		{"swanctl.socket before charon's", env("STRONGSWAN_CONF", both), "unix:///tmp/swanctl.vici"},
		{"charon.plugins.vici.socket via include", env("STRONGSWAN_CONF", charonOnly), "unix:///tmp/from-include.vici"},
		{"empty value clears, dotted key", env("STRONGSWAN_CONF", cleared), "tcp://127.0.0.1:4502"},
		{"syntax error keeps what was read", env("STRONGSWAN_CONF", broken), "unix:///tmp/ok.vici"},
		{"missing file", env("STRONGSWAN_CONF", filepath.Join(dir, "none.conf")), vici.DefaultURI},
	} {
		if got := Discover(tc.getenv); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}
