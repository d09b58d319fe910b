package x509_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	gox509 "crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/stdlib/x509"
)

// selfSigned makes a certificate with Go for the shapes pki does not
// write: odd names, unknown key purposes, Ed25519 keys.
func selfSigned(t *testing.T, tmpl *gox509.Certificate, key any) []byte {
	t.Helper()
	var pub any
	switch k := key.(type) {
	case ed25519.PrivateKey:
		pub = k.Public()
	case *ecdsa.PrivateKey:
		pub = k.Public()
	case *rsa.PrivateKey:
		pub = k.Public()
	}
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(1)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = time.Unix(1700000000, 0), time.Unix(1800000000, 0)
	}
	der, err := gox509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestNames(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	der := selfSigned(t, &gox509.Certificate{
		Subject: pkix.Name{
			Country: []string{"DE"}, Organization: []string{"Zürich AG"},
			CommonName: "evil\nname\x7f",
			ExtraNames: []pkix.AttributeTypeAndValue{
				{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "ops@example.org"},
				{Type: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: "x"},
			},
		},
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 8, 2, 2}, {1, 2, 3, 9}},
		ExtKeyUsage:        []gox509.ExtKeyUsage{gox509.ExtKeyUsageClientAuth},
		KeyUsage:           gox509.KeyUsageDigitalSignature | gox509.KeyUsageKeyEncipherment,
	}, edKey)
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	// Go writes ExtraNames after the standard attributes, in its own order;
	// an attribute strongSwan has no name for shows as its OID's bytes.
	if want := "C=DE, O=Zürich AG, CN=evil?name?, E=ops@example.org, 2a:03:04=x"; c.Subject != want {
		t.Errorf("subject %q, want %q", c.Subject, want)
	}
	if got, want := x509.ASCII(c.Subject), "C=DE, O=Z??rich AG, CN=evil?name?, E=ops@example.org, 2a:03:04=x"; got != want {
		t.Errorf("ASCII(subject) %q, want %q", got, want)
	}
	if c.Key.Type != "ED25519" || c.Key.Bits != 256 || c.Key.Curve != "" {
		t.Errorf("key %+v", c.Key)
	}
	if got := strings.Join(c.ExtKeyUsage, ","); got != "clientAuth,ikeIntermediate,1.2.3.9" {
		t.Errorf("ext key usage %s", got)
	}
	if got := strings.Join(c.KeyUsage, ","); got != "digitalSignature,keyEncipherment" {
		t.Errorf("key usage %s", got)
	}
	// A self-signed end-entity certificate: not a CA, but self-signed.
	if got := strings.Join(c.Flags, " "); got != "clientAuth ikeIntermediate self-signed" {
		t.Errorf("flags %q", got)
	}
	if c.PathLen != -1 || c.IsCA {
		t.Errorf("path len %d, is_ca %v", c.PathLen, c.IsCA)
	}
}

func TestKeys(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	for _, tc := range []struct {
		der        []byte
		typ, curve string
		bits       int
	}{
		{mustSPKI(t, rsaKey.Public()), "RSA", "", 1024},
		{gox509.MarshalPKCS1PublicKey(&rsaKey.PublicKey), "RSA", "", 1024},
		{mustSPKI(t, ecKey.Public()), "ECDSA", "secp521r1", 521},
	} {
		obj, err := x509.Parse(tc.der)
		if err != nil {
			t.Fatal(err)
		}
		k := obj.Key
		if obj.Kind != x509.KindPubkey || k.Type != tc.typ || k.Bits != tc.bits || k.Curve != tc.curve {
			t.Errorf("%s: %+v", tc.typ, obj)
		}
	}
	// PKCS#1 and SubjectPublicKeyInfo of the same key have the same ids.
	a, _ := x509.ParsePublicKey(mustSPKI(t, rsaKey.Public()))
	b, _ := x509.ParsePublicKey(gox509.MarshalPKCS1PublicKey(&rsaKey.PublicKey))
	if !bytes.Equal(a.KeyID, b.KeyID) || !bytes.Equal(a.SubjKey, b.SubjKey) {
		t.Errorf("PKCS#1 key ids differ from the SPKI's")
	}
}

func mustSPKI(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := gox509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestBadInput: whatever a user passes, x509.parse and x509.pem fail with
// a message that says what they wanted, and never panic.
func TestBadInput(t *testing.T) {
	assert, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	der := selfSigned(t, &gox509.Certificate{Subject: pkix.Name{CommonName: "ok"}}, edKey)
	p8, _ := gox509.MarshalPKCS8PrivateKey(edKey)
	thread := &starlark.Thread{Name: "bad"}
	starlarktest.SetReporter(thread, t)
	predeclared := starlark.StringDict{
		"x509":    x509.NewModule(),
		"assert":  assert["assert"],
		"der":     starlark.Bytes(der),
		"privkey": starlark.String(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})),
	}
	src := `
assert.fails(lambda: x509.parse(), "x509.parse: got 0 arguments, want 1")
assert.fails(lambda: x509.parse(1), "x509.parse: got int, want bytes \\(DER\\), str \\(PEM\\) or a vici.list_certs\\(\\) entry")
assert.fails(lambda: x509.parse(b""), "x509.parse: no data")
assert.fails(lambda: x509.parse(b"\x30\x03\x02\x01"), "x509.parse: not a certificate, CRL or public key")
assert.fails(lambda: x509.parse("garbage" * 1000000), "not a certificate, CRL or public key")
assert.fails(lambda: x509.parse("-----BEGIN CERTIFICATE-----\nAAAA"), "PEM text without a complete block")
assert.fails(lambda: x509.parse(privkey), 'PEM block "PRIVATE KEY" is not a certificate, CRL or public key')
assert.fails(lambda: x509.parse({"type": "X509"}), 'x509.parse: the dict has no "data"')
assert.fails(lambda: x509.parse({"type": "OCSP_RESPONSE", "data": b"\x30\x00"}), 'x509.parse: OCSP_RESPONSE entries are not decoded')
assert.fails(lambda: x509.parse(der[:-1]), "x509.parse: ")
assert.fails(lambda: x509.pem(b"nope"), "x509.pem: not a certificate")
assert.fails(lambda: x509.pem(der, der), "x509.pem: got 2 arguments, want 1")
d = {"data": der}
d["self"] = d
assert.eq(x509.parse(d)["subject"], "CN=ok")
assert.eq(x509.parse(x509.pem(der))["subject"], "CN=ok")
assert.eq(x509.parse(der)["path_len"], None)
assert.eq(x509.parse(der)["authority_key_id"], None)
`
	if _, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "bad.star", src, predeclared); err != nil {
		t.Fatal(err)
	}
}

// FuzzParse: no input makes Parse panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n"))
	f.Add([]byte{0x30, 0x82, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := x509.Parse(data)
		if err == nil && obj.Cert == nil && obj.CRL == nil && obj.Key == nil {
			t.Fatalf("no error and nothing parsed: %+v", obj)
		}
		_, _ = x509.PEM(data)
	})
}
