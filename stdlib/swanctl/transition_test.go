package swanctl

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// loadText writes text as dir/swanctl.conf and loads it.
func loadText(t *testing.T, dir, text string) *Conf {
	t.Helper()
	writeFile(t, filepath.Join(dir, "swanctl.conf"), text)
	c, err := loadConf(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const transitionBase = `connections {
  psk-ab {
    remote_addrs = 192.0.2.2
    dpd_timeout = 150s
    local { auth = psk
      id = a }
    remote { auth = psk
      id = b }
    children { net { local_ts = 10.1.0.0/24 } }
  }
  psk-cd {
    remote_addrs = 192.0.2.3
    local { auth = psk
      id = c }
    remote { auth = psk
      id = d }
    children { net { local_ts = 10.3.0.0/24 } }
  }
  cert {
    remote_addrs = %any
    local { certs = gw.pem }
    children { net { local_ts = 10.5.0.0/24 } }
  }
}
secrets {
  ike-ab { id = a
    secret = one }
  ike-all { secret = every }
}
`

// TestTransition: the differences a plan reports, and which connections
// a changed credential touches, without a daemon.
func TestTransition(t *testing.T) {
	dir := t.TempDir()
	goCerts(t, filepath.Join(dir, "prev"))
	goCerts(t, filepath.Join(dir, "next"))
	prev := loadText(t, filepath.Join(dir, "prev"), transitionBase)
	edit := func(pairs ...string) *Conf {
		return loadText(t, filepath.Join(dir, "next"), strings.NewReplacer(pairs...).Replace(transitionBase))
	}
	changes := func(tr *transition) []string {
		var out []string
		for _, d := range tr.diffs {
			if d.Verdict != Unchanged {
				s := d.Verdict + " " + d.String()
				if len(d.Ignored) > 0 {
					s += " ignored " + strings.Join(d.Ignored, ",")
				}
				out = append(out, s)
			}
		}
		return out
	}
	creds := func(tr *transition) []string {
		var out []string
		for name, c := range tr.conns {
			if len(c.cred) > 0 {
				out = append(out, name+": "+strings.Join(c.cred, ", "))
			}
		}
		slices.Sort(out)
		return out
	}

	// A secret naming a: only the PSK connection with identity a. The
	// private key and certificates (goCerts made new ones) touch the
	// connection authenticating with them.
	tr := newTransition(prev, edit("secret = one", "secret = two"), false)
	want := []string{
		"changed key private/gw.pem (data)",
		"changed cert x509/gw.pem (data)",
		"changed cert x509ca/ca.pem (data)",
		"changed conn cert (local.certs)",
		"changed secret ike-ab (data)",
	}
	if got := changes(tr); !sameSet(got, want) {
		t.Errorf("changes:\n%q\nwant\n%q", got, want)
	}
	if got := creds(tr); !slices.Equal(got, []string{
		"cert: cert x509/gw.pem changed, cert x509ca/ca.pem changed, key private/gw.pem changed",
		"psk-ab: secret ike-ab changed",
	}) {
		t.Errorf("credentials: %q", got)
	}
	if tr.conns["psk-ab"].credOnly != true || tr.conns["cert"].credOnly != false || tr.conns["cert"].initiable {
		t.Errorf("psk-ab credOnly %v, cert credOnly %v initiable %v", tr.conns["psk-ab"].credOnly, tr.conns["cert"].credOnly, tr.conns["cert"].initiable)
	}

	// From here on both configurations have the same credential files.
	// A secret naming nobody touches every PSK connection.
	prevSame := loadText(t, filepath.Join(dir, "next"), transitionBase)
	tr = newTransition(prevSame, edit("secret = every", "secret = changed"), false)
	if got := creds(tr); !slices.Equal(got, []string{"psk-ab: secret ike-all changed", "psk-cd: secret ike-all changed"}) {
		t.Errorf("credentials of an ownerless secret: %q", got)
	}

	// dpd_timeout alone is ignored by charon; with another key the
	// connection is replaced and the new value counts.
	tr = newTransition(prevSame, edit("dpd_timeout = 150s", "dpd_timeout = 300s"), false)
	if got := changes(tr); !slices.Equal(got, []string{"changed conn psk-ab (dpd_timeout) ignored dpd_timeout"}) || tr.conns["psk-ab"].peerReplaced() {
		t.Errorf("dpd_timeout alone: %q", got)
	}
	tr = newTransition(prevSame, edit("dpd_timeout = 150s", "dpd_timeout = 300s\n    rekey_time = 2h"), false)
	if got := changes(tr); !slices.Equal(got, []string{"changed conn psk-ab (dpd_timeout, rekey_time)"}) || !tr.conns["psk-ab"].peerReplaced() {
		t.Errorf("dpd_timeout and rekey_time: %q", got)
	}

	// A removed connection, an added child and a changed one.
	tr = newTransition(prevSame, edit(
		"children { net { local_ts = 10.3.0.0/24 } }", "children { net { local_ts = 10.3.0.0/25 }\n other { start_action = start } }",
		"  cert {\n    remote_addrs = %any\n    local { certs = gw.pem }\n    children { net { local_ts = 10.5.0.0/24 } }\n  }\n", ""), false)
	want = []string{"removed conn cert", "removed child cert/net", "changed child psk-cd/net (local_ts)", "added child psk-cd/other"}
	if got := changes(tr); !sameSet(got, want) {
		t.Errorf("changes:\n%q\nwant\n%q", got, want)
	}
	if got := tr.initiates(); !slices.Equal(got, []string{"psk-cd/other"}) {
		t.Errorf("charon initiates %q", got)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
