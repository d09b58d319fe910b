package table_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/display"
	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/starlarkvici"
	"github.com/vicish/vicish/stdlib/table"
)

// listingsConfA is loaded on gateway a beside the lab's own connection: a
// connection asking b for a virtual IP (so that b's pool has a lease),
// children whose trap, drop and bypass policies are installed, and a
// certification authority with CRL and OCSP URIs.
const listingsConfA = `connections {
  vip {
    remote_addrs = %[1]s
    vips = 0.0.0.0
    local {
      auth = psk
      id = vip-a
    }
    remote {
      auth = psk
      id = vip-b
    }
    children {
      vipnet {
        remote_ts = 10.2.0.0/24
      }
    }
  }
  pols {
    remote_addrs = 192.0.2.50
    local {
      auth = psk
      id = a
    }
    remote {
      auth = psk
      id = far
    }
    children {
      t {
        local_ts = 10.1.0.0/24
        remote_ts = 10.9.1.0/24
        start_action = trap
        label = system_u:object_r:ipsec_spd_t:s0
        label_mode = simple
      }
      d {
        local_ts = 10.1.0.0/24
        remote_ts = 10.9.2.0/24, 10.9.22.0/24
        mode = drop
        start_action = trap
      }
      p {
        local_ts = 10.1.0.0/24
        remote_ts = 10.9.3.0/24
        mode = pass
        start_action = trap
      }
    }
  }
}
authorities {
  lab-ca {
    cacert = ca.pem
    crl_uris = http://crl.example.org/ca.crl, http://crl2.example.org/ca.crl
    ocsp_uris = http://ocsp.example.org, http://ocsp2.example.org
    cert_uri_base = http://certs.example.org/
  }
}
`

// listingsConfB is loaded on gateway b: the responder side of "vip" with
// the pool it hands an address from, and a second pool without leases.
const listingsConfB = `connections {
  vip {
    remote_addrs = %[1]s
    pools = rw-pool
    local {
      auth = psk
      id = vip-b
    }
    remote {
      auth = psk
      id = vip-a
    }
    children {
      vipnet {
        local_ts = 10.2.0.0/24
      }
    }
  }
}
pools {
  rw-pool {
    addrs = 10.9.0.0/28
    dns = 10.2.0.53
  }
  spare-pool-with-a-long-name {
    addrs = 10.8.0.10-10.8.0.20
  }
}
`

// listingLab is a two-gateway lab prepared for every swanctl listing: an
// established IKE_SA with a CHILD_SA that carried traffic, a virtual IP
// lease, trap/drop/pass policies, certificates made with pki (a CA, a
// server certificate with SANs and its private key, a peer certificate,
// a CRL revoking one certificate), an authority, pools, and counters
// that moved.
type listingLab struct {
	l    *lab.Lab
	ctx  context.Context
	a, b *lab.Gateway
}

func startListingLab(t *testing.T) *listingLab {
	t.Helper()
	l := labtest.Start(t, lab.TwoGateways)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	ll := &listingLab{l: l, ctx: ctx, a: l.Gateway("a"), b: l.Gateway("b")}
	makeCerts(t, ctx, ll.a.ConfDir)
	for _, c := range []struct {
		g    *lab.Gateway
		conf string
	}{{ll.a, fmt.Sprintf(listingsConfA, ll.b.Addr)}, {ll.b, fmt.Sprintf(listingsConfB, ll.a.Addr)}} {
		if err := os.WriteFile(filepath.Join(c.g.ConfDir, "conf.d", "listings.conf"), []byte(c.conf), 0o600); err != nil {
			t.Fatal(err)
		}
		swanctl(ctx, t, c.g, "--load-all", "--noprompt")
	}
	swanctl(ctx, t, ll.a, "--initiate", "--ike", "ab", "--child", "net", "--timeout", "30")
	if err := ll.a.SendUDP(ctx, lab.LocalA, lab.LocalB, []byte("counted")); err != nil {
		t.Fatal(err)
	}
	// The virtual IP's CHILD_SA may not install here; the IKE_SA and its
	// lease are what the pool listing needs.
	if out, err := ll.a.Swanctl(ctx, "--initiate", "--ike", "vip", "--child", "vipnet", "--timeout", "30"); err != nil {
		t.Logf("initiating vip: %v\n%s", err, out)
	}
	return ll
}

// makeCerts creates with pki, under the gateway's swanctl directory, an
// ECDSA CA, an RSA server certificate with SANs, extended key usages, two
// CRL and two OCSP URIs (and its private key), a peer certificate without
// private key and with a non-ASCII name, the peer's raw public key, and a
// CRL revoking a third certificate.
func makeCerts(t *testing.T, ctx context.Context, dir string) {
	t.Helper()
	// pki runs pki with args and writes what it prints to path, relative
	// to dir unless absolute.
	pki := func(path string, args ...string) {
		t.Helper()
		out, err := exec.CommandContext(ctx, "pki", args...).Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			t.Fatalf("pki %s: %v\n%s", strings.Join(args, " "), err, msg)
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tmp := t.TempDir()
	caKey := filepath.Join(dir, "private", "ca.key")
	pki("private/ca.key", "--gen", "--type", "ecdsa", "--size", "384", "--outform", "pem")
	pki("x509ca/ca.pem", "--self", "--ca", "--in", caKey, "--type", "ecdsa", "--lifetime", "3650",
		"--dn", "C=CH, O=vicish lab, CN=vicish Root CA", "--outform", "pem")
	ca := filepath.Join(dir, "x509ca", "ca.pem")
	pki("private/server.key", "--gen", "--type", "rsa", "--size", "2048", "--outform", "pem")
	pki("x509/server.pem", "--issue", "--cacert", ca, "--cakey", caKey, "--type", "priv",
		"--in", filepath.Join(dir, "private", "server.key"), "--lifetime", "730",
		"--dn", "C=CH, O=vicish lab, OU=gateways, CN=gw-a.example.org",
		"--san", "gw-a.example.org", "--san", "192.0.2.1", "--san", "admin@example.org", "--san", "2001:db8::1",
		"--flag", "serverAuth", "--flag", "ikeIntermediate",
		"--crl", "http://crl.example.org/ca.crl", "--crl", "http://crl2.example.org/ca.crl",
		"--ocsp", "http://ocsp.example.org", "--ocsp", "http://ocsp2.example.org", "--outform", "pem")
	peerKey := filepath.Join(tmp, "peer.key")
	pki(peerKey, "--gen", "--type", "ecdsa", "--size", "256", "--outform", "pem")
	pki("x509/peer.pem", "--issue", "--cacert", ca, "--cakey", caKey, "--type", "priv", "--in", peerKey,
		"--dn", "C=CH, L=Zürich, O=vicish lab, CN=peer@example.org", "--san", "peer@example.org", "--flag", "clientAuth",
		"--outform", "pem")
	pki("pubkey/peer.pub", "--pub", "--in", peerKey, "--outform", "pem")
	// no key usage and no flags: strongSwan still sets its hidden
	// X509_IKE_COMPLIANT flag, so swanctl prints an empty "flags:" line
	pki("x509/plain.pem", "--issue", "--cacert", ca, "--cakey", caKey, "--type", "priv", "--in", peerKey,
		"--dn", "C=CH, O=vicish lab, CN=plain.example.org", "--outform", "pem")
	revoked := filepath.Join(tmp, "revoked.pem")
	pki(revoked, "--issue", "--cacert", ca, "--cakey", caKey, "--type", "priv", "--in", peerKey,
		"--dn", "C=CH, O=vicish lab, CN=revoked.example.org", "--outform", "pem")
	pki("x509crl/ca.crl", "--signcrl", "--cacert", ca, "--cakey", caKey, "--lifetime", "15",
		"--reason", "key-compromise", "--cert", revoked, "--outform", "pem")
}

// vicish evaluates expr with the vici module connected to g (as the
// default session) and the table module, and returns the text it yields.
func vicish(t *testing.T, ctx context.Context, g *lab.Gateway, expr string) string {
	t.Helper()
	mod := starlarkvici.NewModule(starlarkvici.Config{URI: g.URI})
	defer mod.Close()
	thread := &starlark.Thread{Name: "test"}
	defer starctx.Attach(thread, ctx)()
	v, err := starlark.EvalOptions(&syntax.FileOptions{}, thread, "test.star", expr,
		starlark.StringDict{"vici": mod, "table": table.NewModule(mod)})
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	switch v := v.(type) {
	case display.Text:
		return string(v)
	case starlark.String:
		return string(v)
	}
	t.Fatalf("%s returned %s, want text or a string", expr, v.Type())
	return ""
}

// same compares what expr renders on g with what swanctl prints for args,
// retrying when the two were taken at different moments (uptimes, expiry
// countdowns, busy workers and memory in use), and returns the text.
func same(t *testing.T, ll *listingLab, g *lab.Gateway, expr string, args ...string) string {
	t.Helper()
	var got, want string
	for attempt := 0; attempt < 20; attempt++ {
		if attempt > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		got = vicish(t, ll.ctx, g, expr)
		want = strings.TrimSuffix(swanctl(ll.ctx, t, g, args...), "\n")
		if got == want {
			return got
		}
	}
	t.Errorf("gateway %s: %s differs from swanctl %s\ngot:\n%s\nwant:\n%s\ndiff:\n%s",
		g.Name, expr, strings.Join(args, " "), got, want, lineDiff(got, want))
	return got
}

// maskAsker replaces the digits of the --stats lines that depend on the
// asking client (busy workers, memory in use) with "#".
func maskAsker(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "worker threads:") || strings.HasPrefix(l, "mallinfo:") || strings.HasPrefix(l, "memory usage:") {
			lines[i] = strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return '#'
				}
				return r
			}, l)
		}
	}
	return strings.Join(lines, "\n")
}

// lineDiff lists the lines that differ between got and want.
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var b strings.Builder
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			fmt.Fprintf(&b, "line %d:\n  got  %q\n  want %q\n", i+1, gl, wl)
		}
	}
	return b.String()
}

// mustContain fails unless text has every one of subs (the listing really
// showed what the lab set up, not an empty or trivial text).
func mustContain(t *testing.T, what, text string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(text, s) {
			t.Errorf("%s does not show %q:\n%s", what, s, text)
		}
	}
}

// TestListingsMatchSwanctl renders every listing beyond list-sas and
// list-conns with the table module, asking the daemon through the vici
// module, and checks that each is byte for byte what swanctl prints on
// the same daemon.
func TestListingsMatchSwanctl(t *testing.T) {
	ll := startListingLab(t)
	a, b := ll.a, ll.b

	// list-sas and list-conns through the vici module (lab_test.go checks
	// them on swanctl's own events, with more fields).
	t.Run("sas", func(t *testing.T) {
		got := same(t, ll, a, `table.sas()`, "--list-sas")
		mustContain(t, "table.sas()", got, "ab: #", "ESTABLISHED", "net: #", "INSTALLED", "vip: #")
		same(t, ll, b, `table.sas(vici.list_sas(ike="ab"))`, "--list-sas", "--ike", "ab")
	})
	t.Run("conns", func(t *testing.T) {
		got := same(t, ll, a, `table.conns()`, "--list-conns")
		mustContain(t, "table.conns()", got, "ab: IKEv2", "pols: IKEv", "vip: IKEv") // 5.x defaults to IKEv1/2, 6.x to IKEv2
	})
	t.Run("pols", func(t *testing.T) {
		got := same(t, ll, a, `table.pols()`, "--list-pols")
		mustContain(t, "table.pols()", got, "pols/t", "TUNNEL", "  label:  system_u:object_r:ipsec_spd_t:s0\n", "DROP", "PASS", "10.9.2.0/24 10.9.22.0/24")
		same(t, ll, a, `table.pols(drop=True)`, "--list-pols", "--drop")
		// Given data, the listing tells 6.x from 5.x by the trap policy's reqid.
		same(t, ll, a, `table.pols(vici.list_policies(trap=True, drop=True))`, "--list-pols", "--trap", "--drop")
		same(t, ll, a, `table.pols(pass_=True)`, "--list-pols", "--pass")
	})
	t.Run("certs", func(t *testing.T) {
		got := same(t, ll, a, `table.certs()`, "--list-certs")
		mustContain(t, "table.certs()", got, "List of X.509 CA Certificates", "List of X.509 End Entity Certificates",
			"List of X.509 CRLs", "List of Raw Public Keys", "L=Z??rich", "altNames:  gw-a.example.org, 192.0.2.1, admin@example.org, 2001:db8::1",
			"has private key", "1 revoked certificate:", "key compromise", "self-signed")
		same(t, ll, a, `table.certs(vici.list_certs(type="X509_CRL"))`, "--list-certs", "--type", "x509_crl")
		got = same(t, ll, a, `table.certs(short=True)`, "--list-certs", "--short")
		if strings.Contains(got, "flags:") || strings.Contains(got, "key compromise") {
			t.Errorf("table.certs(short=True) shows details:\n%s", got)
		}
		// (swanctl --pem cannot write the raw public key: it says so on
		// stderr, which this comparison would read.)
		got = same(t, ll, a, `table.certs(type="X509", pem=True)`, "--list-certs", "--type", "x509", "--pem")
		mustContain(t, "table.certs(pem=True)", got, "-----BEGIN CERTIFICATE-----\n")
		got = same(t, ll, a, `table.certs(type="X509_CRL", pem=True)`, "--list-certs", "--type", "x509_crl", "--pem")
		mustContain(t, "table.certs(pem=True)", got, "-----BEGIN X509 CRL-----\n")
		if got := vicish(t, ll.ctx, a, `table.certs(type="PUBKEY", pem=True)`); got != "" {
			t.Errorf("table.certs(type=\"PUBKEY\", pem=True) = %q, want nothing (as swanctl's standard output)", got)
		}
		got = same(t, ll, a, `table.certs(type="X509", utc=True)`, "--list-certs", "--type", "x509", "--utc")
		mustContain(t, "table.certs(utc=True)", got, " UTC 20")
	})
	t.Run("authorities", func(t *testing.T) {
		got := same(t, ll, a, `table.authorities()`, "--list-authorities")
		mustContain(t, "table.authorities()", got, "lab-ca:", "crl_uris:", "ocsp_uris:", "cert_uri_base:")
	})
	t.Run("pools", func(t *testing.T) {
		got := same(t, ll, b, `table.pools()`, "--list-pools")
		mustContain(t, "table.pools()", got, "rw-pool", "spare-pool-with-a-long-name")
		got = same(t, ll, b, `table.pools(leases=True)`, "--list-pools", "--leases")
		mustContain(t, "table.pools(leases=True)", got, "10.9.0.1", "online", "'vip-a'")
		same(t, ll, b, `table.pools(vici.get_pools(leases=True, name="rw-pool"))`, "--list-pools", "--leases", "--name", "rw-pool")
	})
	t.Run("algs", func(t *testing.T) {
		got := same(t, ll, a, `table.algs()`, "--list-algs")
		mustContain(t, "table.algs()", got, "encryption:", "AES_CBC[openssl]")
	})
	t.Run("stats", func(t *testing.T) {
		// Two lines describe the asker as much as the daemon: the busy
		// workers include the reader of the asking connection, and the
		// memory in use its buffers, so swanctl and vicish never see the
		// same figures there. Those lines are compared with their digits
		// masked, and checked against the reply vicish rendered.
		var got, want string
		for attempt := 0; attempt < 20; attempt++ {
			got = vicish(t, ll.ctx, a, `table.stats()`)
			want = strings.TrimSuffix(swanctl(ll.ctx, t, a, "--stats"), "\n")
			if maskAsker(got) == maskAsker(want) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if maskAsker(got) != maskAsker(want) {
			t.Errorf("table.stats() differs from swanctl --stats\ngot:\n%s\nwant:\n%s\ndiff:\n%s", got, want, lineDiff(maskAsker(got), maskAsker(want)))
		}
		mustContain(t, "table.stats()", got, "IKE_SAs: 2 total", "loaded plugins: charon ")
		got = vicish(t, ll.ctx, a, `table.stats({"workers": {"total": "32", "idle": "20", "active": {"critical": "5", "high": "0", "medium": "7", "low": "0"}}, "mallinfo": {"sbrk": "1", "mmap": "2", "used": "3", "free": "4"}})`)
		mustContain(t, "table.stats(reply)", got, "worker threads: 32 total, 20 idle, working: 5/0/7/0\n", "mallinfo: sbrk 1, mmap 2, used 3, free 4\n")
	})
	t.Run("counters", func(t *testing.T) {
		got := same(t, ll, a, `table.counters()`, "--counters")
		mustContain(t, "table.counters()", got, "global:", "ike-init-out")
		got = same(t, ll, a, `table.counters(name="ab")`, "--counters", "--name", "ab")
		mustContain(t, `table.counters(name="ab")`, got, "ab:")
		got = same(t, ll, a, `table.counters(vici.get_counters(all=True))`, "--counters", "--all")
		mustContain(t, `--counters --all`, got, "ab:", "vip:")
	})
}

// TestMixedDaemons runs gateway a on the newest strongSwan and b on the
// system's, brings up the SA between them, and checks that on each side
// the listings match that side's own swanctl: the table module follows the
// release of the daemon it asks (6.1's ports in list-conns and reqids in
// list-pols on a, 5.9.8's layout on b).
func TestMixedDaemons(t *testing.T) {
	l := labtest.StartConfig(t, lab.Config{Topology: lab.TwoGateways,
		Daemons: map[string]lab.Daemon{"a": lab.NewestDaemon, "b": lab.SystemDaemon}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ll := &listingLab{l: l, ctx: ctx, a: l.Gateway("a"), b: l.Gateway("b")}
	swanctl(ctx, t, ll.a, "--initiate", "--ike", "ab", "--child", "net", "--timeout", "30")
	for _, g := range []*lab.Gateway{ll.a, ll.b} {
		swanctl(ctx, t, g, "--install", "--child", "net")
		got := same(t, ll, g, `table.sas()`, "--list-sas")
		mustContain(t, "gateway "+g.Name+" table.sas()", got, "ab: #", "ESTABLISHED", "INSTALLED")
		got = same(t, ll, g, `table.conns()`, "--list-conns")
		if v6 := major(t, ctx, g) >= 6; v6 != strings.Contains(got, "[500]") {
			t.Errorf("gateway %s (6.x: %v): ports in table.conns() do not follow the daemon's release:\n%s", g.Name, v6, got)
		}
		got = same(t, ll, g, `table.pols()`, "--list-pols")
		if v6 := major(t, ctx, g) >= 6; v6 != strings.Contains(got, "ab/net, reqid ") || !strings.Contains(got, "TUNNEL") {
			t.Errorf("gateway %s (6.x: %v): table.pols() does not show the trap policy in the daemon's layout:\n%s", g.Name, v6, got)
		}
	}
}
