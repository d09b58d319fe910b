package x509_test

import (
	"context"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/starlarkvici"
	vtime "github.com/vicish/vicish/stdlib/time"
	"github.com/vicish/vicish/stdlib/x509"
)

// TestListCertsLab loads pki-made certificates, a CRL and a public key
// into a real charon with vici.load_cert, and parses what
// vici.list_certs() returns: the daemon hands back the same DER, and
// x509.parse reads every entry (a CRL and a bare key too).
func TestListCertsLab(t *testing.T) {
	p := makePKI(t)
	l := labtest.Start(t, lab.OneGateway)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mod := starlarkvici.NewModule(starlarkvici.Config{URI: l.Gateway("a").URI})
	defer mod.Close()
	thread := &starlark.Thread{Name: "lab"}
	starlarktest.SetReporter(thread, t)
	defer starctx.Attach(thread, ctx)()
	assert, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := x509.ParseCertificate(p.srv)
	if err != nil {
		t.Fatal(err)
	}
	predeclared := starlark.StringDict{
		"vici":       mod,
		"x509":       x509.NewModule(),
		"time":       vtime.NewModule(),
		"assert":     assert["assert"],
		"ca":         starlark.Bytes(p.ca),
		"srv":        starlark.Bytes(p.srv),
		"crl":        starlark.Bytes(p.crl),
		"pub":        starlark.Bytes(p.pub),
		"srv_sha256": starlark.String(x509.Hex(srv.SHA256)),
	}
	src := `
assert.eq(vici.load_cert(type="x509", flag="ca", data=ca)["success"], "yes")
assert.eq(vici.load_cert(type="x509", data=srv)["success"], "yes")
assert.eq(vici.load_cert(type="x509_crl", data=crl)["success"], "yes")
assert.eq(vici.load_cert(type="pubkey", data=pub)["success"], "yes")

certs = vici.list_certs()
by_type = {}
for e in certs:
    by_type.setdefault(e["type"], []).append(e)
assert.eq(sorted(by_type.keys()), ["PUBKEY", "X509", "X509_CRL"])
assert.eq(len(by_type["X509"]), 2)

# The daemon hands back the DER it was given; parse reads entries directly.
for e in by_type["X509"]:
    assert.eq(type(e["data"]), "bytes")
    c = x509.parse(e)
    assert.eq(c["type"], e["type"])
    if e["flag"] == "CA":
        assert.eq(e["data"], ca)
        assert.true(c["is_ca"])
        assert.eq(c["flags"], ["CA", "CRLSign", "self-signed"])
    else:
        assert.eq(e["data"], srv)
        assert.eq(c["subject"], "C=CH, O=vicish test, CN=moon.vicish.test")
        assert.eq(c["alt_names"], ["moon.vicish.test", "192.0.2.1", "moon@vicish.test", "2001:db8::1"])
        assert.eq(c["serial"], "8b:ad:ca:fe:01")
        assert.eq(c["sha256"], srv_sha256)
        assert.eq(c["ext_key_usage"], ["serverAuth", "ikeIntermediate"])
        assert.eq(c["key_type"], "ECDSA")
        assert.eq(c["key_size"], 384)
        assert.true(c["not_before"] < c["not_after"])

r = x509.parse(by_type["X509_CRL"][0])
assert.eq(r["type"], "X509_CRL")
assert.eq(r["issuer"], "C=CH, O=vicish test, CN=vicish Root CA")
assert.eq([x["serial"] for x in r["revoked"]], ["8b:ad:ca:fe:01", "01:02"])
assert.eq(r["revoked"][0]["reason"], "key compromise")

k = by_type["PUBKEY"][0]
assert.eq(k["data"], pub)
pk = x509.parse(k)
assert.eq(pk["type"], "PUBKEY")
assert.eq((pk["key_type"], pk["key_size"], pk["key_curve"]), ("ECDSA", 384, "secp384r1"))
assert.eq(pk["subjkey"], x509.parse(srv)["subjkey"])
assert.true(x509.pem(k).startswith("-----BEGIN PUBLIC KEY-----\n"))

# docs/modules.md's example
for c in vici.list_certs():
    x = x509.parse(c)
    if x["type"] == "X509":
        left = x["not_after"] - time.now()
        assert.true(left > 29 * 24 * time.hour)
assert.eq(x509.pem(vici.list_certs(type="X509", flag="CA")[0]), x509.pem(ca))
`
	opts := &syntax.FileOptions{Set: true, GlobalReassign: true, TopLevelControl: true}
	if _, err := starlark.ExecFileOptions(opts, thread, "lab.star", src, predeclared); err != nil {
		if e, ok := err.(*starlark.EvalError); ok {
			t.Fatal(e.Backtrace())
		}
		t.Fatal(err)
	}
}
