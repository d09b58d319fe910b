package vici_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/vici"
)

// discoverCase is a strongswan.conf and the socket Discover finds through
// it ("!" + error text when the file is invalid).
type discoverCase struct {
	name, conf, want string
	// charon is set when want comes from charon.plugins.vici.socket, where
	// charon listens: swanctl itself reads only swanctl.socket and
	// swanctl.plugins.vici.socket and would try the default socket.
	charon bool
}

// discoverCases writes the strongswan.conf files of the tests into dir.
func discoverCases(t *testing.T, dir string) []discoverCase {
	t.Helper()
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
	write("d/vici.conf", "vici {\n  socket = unix://"+dir+"/from-include.vici\n  load = yes\n}\n")
	return []discoverCase{
		{"swanctl.socket before charon's", write("both.conf", `charon { plugins { vici { socket = "unix://`+dir+`/charon.vici" } } }
swanctl {
	socket = unix://`+dir+`/swanctl.vici
}
`), "unix://" + dir + "/swanctl.vici", false},
		{"charon.plugins.vici.socket via include", write("charon.conf", `# comment
charon {
	load_modular = yes # trailing
	plugins {
		include d/*.conf
	}
}
`), "unix://" + dir + "/from-include.vici", true},
		{"empty value clears", write("cleared.conf", "swanctl {\n socket =\n}\ncharon {\n plugins {\n  vici {\n   socket = unix://"+dir+"/c.vici\n  }\n }\n}\n"),
			"unix://" + dir + "/c.vici", true},
		{"section reference", write("ref.conf", "sock {\n socket = unix://"+dir+"/ref.vici\n}\nswanctl : sock {\n}\n"),
			"unix://" + dir + "/ref.vici", false},
		{"a dotted name is a syntax error", write("dotted.conf", "swanctl.socket = unix://"+dir+"/dotted.vici\n"),
			"!dotted.conf:1: syntax error: unexpected '.', expecting '{', ':' or '='", false},
		{"a syntax error invalidates the file", write("broken.conf", "swanctl { socket = unix://"+dir+"/ok.vici }\n= oops {\n"),
			"!broken.conf:2: syntax error: unexpected '='", false},
	}
}

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
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
	cases := discoverCases(t, dir)
	for _, tc := range cases {
		got, err := vici.Discover(env("STRONGSWAN_CONF", tc.conf))
		if want, ok := strings.CutPrefix(tc.want, "!"); ok {
			if err == nil || !strings.Contains(err.Error(), want) || got != vici.DefaultURI {
				t.Errorf("%s: got %q, %v; want DefaultURI and an error containing %q", tc.name, got, err, want)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name   string
		getenv func(string) string
		want   string
	}{
		{"VICI_URI wins", env("VICI_URI", "tcp://h:1", "STRONGSWAN_CONF", cases[0].conf), "tcp://h:1"},
		{"VICI_URI wins over an invalid file", env("VICI_URI", "tcp://h:1", "STRONGSWAN_CONF", cases[len(cases)-1].conf), "tcp://h:1"},
		{"missing file", env("STRONGSWAN_CONF", filepath.Join(dir, "none.conf")), vici.DefaultURI},
		{"a directory", env("STRONGSWAN_CONF", dir), vici.DefaultURI},
		{"a device", env("STRONGSWAN_CONF", "/dev/zero"), vici.DefaultURI},
	} {
		if got, err := vici.Discover(tc.getenv); err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestDiscoverMatchesSwanctl runs strongSwan's swanctl with each
// strongswan.conf: the socket it tries to connect to is the one Discover
// finds (unless only charon's setting names it), and the files it refuses
// are the ones Discover reports. TestDiscoverLab (starlarkvici) checks
// charon's setting against a running charon.
func TestDiscoverMatchesSwanctl(t *testing.T) {
	swanctl, err := exec.LookPath("swanctl")
	if err != nil {
		t.Fatalf("swanctl (strongSwan) is needed to compare socket discovery: %v; install strongswan-swanctl", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	connecting := regexp.MustCompile(`connecting to '([^']*)' failed`)
	for _, tc := range discoverCases(t, dir) {
		cmd := exec.CommandContext(ctx, swanctl, "--stats")
		cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+tc.conf)
		out, _ := cmd.CombinedOutput()
		if strings.HasPrefix(tc.want, "!") {
			if !strings.Contains(string(out), "invalid config file") {
				t.Errorf("%s: swanctl accepted the file:\n%s", tc.name, out)
			}
			continue
		}
		want := tc.want
		if tc.charon {
			want = vici.DefaultURI
		}
		m := connecting.FindSubmatch(out)
		if m == nil || string(m[1]) != want {
			t.Errorf("%s: swanctl connects to %q, want %q\n%s", tc.name, m, want, out)
		}
	}
}
