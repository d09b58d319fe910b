package x509_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	gox509 "crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	libtime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"

	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/stdlib/x509"
)

// need finds a program the test compares against; without it the test
// fails under CI=true and is skipped on a developer machine.
func need(t *testing.T, prog string) {
	t.Helper()
	if _, err := exec.LookPath(prog); err != nil {
		labtest.SkipOffCI(t, prog+" is not installed (apt-get install strongswan-pki openssl)")
	}
}

// run runs a program in dir and returns its standard output; stderr (pki
// prints plugin warnings there) goes into the error only.
func run(t *testing.T, dir string, stdin []byte, prog string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// pkiSet is a small PKI made with strongSwan's pki: a root CA, an
// intermediate CA with a path length, a server certificate with SANs of
// every kind pki writes and a serial with its first bit set, its public
// key, and a CRL revoking two serials.
type pkiSet struct {
	dir                    string
	ca, sub, srv, crl, pub []byte
}

func makePKI(t *testing.T) *pkiSet {
	t.Helper()
	need(t, "pki")
	need(t, "openssl")
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := &pkiSet{dir: dir}
	write("ca.key", run(t, dir, nil, "pki", "--gen", "--type", "rsa", "--size", "2048"))
	p.ca = run(t, dir, nil, "pki", "--self", "--ca", "--lifetime", "3650", "--in", "ca.key", "--type", "rsa",
		"--dn", "C=CH, O=vicish test, CN=vicish Root CA")
	write("ca.der", p.ca)
	write("sub.key", run(t, dir, nil, "pki", "--gen", "--type", "ecdsa", "--size", "256"))
	subPub := run(t, dir, nil, "pki", "--pub", "--in", "sub.key", "--type", "ecdsa")
	p.sub = run(t, dir, subPub, "pki", "--issue", "--cacert", "ca.der", "--cakey", "ca.key", "--type", "pub",
		"--ca", "--pathlen", "0", "--serial", "02", "--lifetime", "30",
		"--dn", "C=CH, O=vicish test, OU=Intermediate, CN=vicish Sub CA")
	write("srv.key", run(t, dir, nil, "pki", "--gen", "--type", "ecdsa", "--size", "384"))
	p.pub = run(t, dir, nil, "pki", "--pub", "--in", "srv.key", "--type", "ecdsa")
	p.srv = run(t, dir, p.pub, "pki", "--issue", "--cacert", "ca.der", "--cakey", "ca.key", "--type", "pub",
		"--dn", "C=CH, O=vicish test, CN=moon.vicish.test",
		"--san", "moon.vicish.test", "--san", "192.0.2.1", "--san", "moon@vicish.test", "--san", "2001:db8::1",
		"--flag", "serverAuth", "--flag", "ikeIntermediate",
		"--crl", "http://crl.vicish.test/root.crl", "--ocsp", "http://ocsp.vicish.test",
		"--serial", "8badcafe01")
	write("srv.der", p.srv)
	p.crl = run(t, dir, nil, "pki", "--signcrl", "--cacert", "ca.der", "--cakey", "ca.key",
		"--reason", "key-compromise", "--cert", "srv.der", "--serial", "0102", "--lifetime", "15")
	return p
}

// parse runs x509.parse(data) in Starlark and returns the dict.
func parse(t *testing.T, data []byte) *starlark.Dict {
	t.Helper()
	v, err := starlark.Call(&starlark.Thread{}, x509.NewModule().Members["parse"], starlark.Tuple{starlark.Bytes(data)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v.(*starlark.Dict)
}

func get(t *testing.T, d *starlark.Dict, key string) starlark.Value {
	t.Helper()
	v, found, _ := d.Get(starlark.String(key))
	if !found {
		t.Fatalf("no %q in %s", key, d)
	}
	return v
}

func str(t *testing.T, d *starlark.Dict, key string) string {
	t.Helper()
	s, ok := starlark.AsString(get(t, d, key))
	if !ok {
		t.Fatalf("%s is %s, want str", key, get(t, d, key).Type())
	}
	return s
}

func strs(t *testing.T, d *starlark.Dict, key string) []string {
	t.Helper()
	var out []string
	list := get(t, d, key).(*starlark.List)
	for i := range list.Len() {
		s, _ := starlark.AsString(list.Index(i))
		out = append(out, s)
	}
	return out
}

func timeOf(t *testing.T, d *starlark.Dict, key string) time.Time {
	t.Helper()
	v, ok := get(t, d, key).(libtime.Time)
	if !ok {
		t.Fatalf("%s is %s, want time", key, get(t, d, key).Type())
	}
	return time.Time(v)
}

// openssl runs "openssl x509" or "openssl crl" on DER and returns its
// "name=value" lines and the lines after "X509v3 Subject Alternative Name:".
func openssl(t *testing.T, dir, cmd string, der []byte, args ...string) map[string]string {
	t.Helper()
	out := run(t, dir, der, "openssl", append([]string{cmd, "-inform", "der", "-noout"}, args...)...)
	m := map[string]string{}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i, line := range lines {
		if strings.HasPrefix(line, "X509v3 Subject Alternative Name") && i+1 < len(lines) {
			m["san"] = strings.TrimSpace(lines[i+1])
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// dn turns openssl's default "C = CH, O = x" into strongSwan's "C=CH, O=x".
func dn(s string) string { return strings.ReplaceAll(s, " = ", "=") }

func opensslTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse("Jan _2 15:04:05 2006 MST", s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// sameNumber compares a colon-hex serial with openssl's hex.
func sameNumber(colonHex, opensslHex string) bool {
	a, ok1 := new(big.Int).SetString(strings.ReplaceAll(colonHex, ":", ""), 16)
	b, ok2 := new(big.Int).SetString(strings.TrimPrefix(opensslHex, "0x"), 16)
	return ok1 && ok2 && a.Cmp(b) == 0
}

// opensslSANs normalises openssl's SAN line: "DNS:x, IP Address:y" to the
// names alone, IPv6 addresses in their short form.
func opensslSANs(line string) []string {
	var out []string
	for _, part := range strings.Split(line, ", ") {
		_, v, _ := strings.Cut(part, ":")
		if ip := net.ParseIP(v); ip != nil && strings.HasPrefix(part, "IP Address:") {
			v = ip.String()
		}
		out = append(out, v)
	}
	return out
}

// TestPKI checks x509 on a PKI made by strongSwan's pki against openssl
// and against strongSwan's own printer.
func TestPKI(t *testing.T) {
	p := makePKI(t)
	t.Run("openssl", func(t *testing.T) { againstOpenSSL(t, p) })
	t.Run("pki-print", func(t *testing.T) { againstPKIPrint(t, p) })
	t.Run("pem", func(t *testing.T) { pemAgainstOpenSSL(t, p) })
}

// againstOpenSSL: x509.parse agrees with openssl on subject, issuer,
// serial, dates and SANs of certificates made by pki, and on the CRL.
func againstOpenSSL(t *testing.T, p *pkiSet) {
	for name, der := range map[string][]byte{"root CA": p.ca, "sub CA": p.sub, "server": p.srv} {
		d := parse(t, der)
		o := openssl(t, p.dir, "x509", der, "-subject", "-issuer", "-serial", "-dates", "-ext", "subjectAltName")
		if got, want := str(t, d, "subject"), dn(o["subject"]); got != want {
			t.Errorf("%s: subject %q, openssl %q", name, got, want)
		}
		if got, want := str(t, d, "issuer"), dn(o["issuer"]); got != want {
			t.Errorf("%s: issuer %q, openssl %q", name, got, want)
		}
		if got := str(t, d, "serial"); !sameNumber(got, o["serial"]) {
			t.Errorf("%s: serial %q, openssl %q", name, got, o["serial"])
		}
		if got, want := timeOf(t, d, "not_before"), opensslTime(t, o["notBefore"]); !got.Equal(want) {
			t.Errorf("%s: not_before %v, openssl %v", name, got, want)
		}
		if got, want := timeOf(t, d, "not_after"), opensslTime(t, o["notAfter"]); !got.Equal(want) {
			t.Errorf("%s: not_after %v, openssl %v", name, got, want)
		}
		var want []string
		if o["san"] != "" {
			want = opensslSANs(o["san"])
		}
		if got := strs(t, d, "alt_names"); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: alt_names %q, openssl %q", name, got, want)
		}
	}
	if got := strs(t, parse(t, p.srv), "alt_names"); len(got) != 4 {
		t.Errorf("server: want 4 SANs (DNS, IPv4, email, IPv6), got %q", got)
	}

	d := parse(t, p.crl)
	o := openssl(t, p.dir, "crl", p.crl, "-issuer", "-lastupdate", "-nextupdate", "-crlnumber")
	if got, want := str(t, d, "issuer"), dn(o["issuer"]); got != want {
		t.Errorf("CRL issuer %q, openssl %q", got, want)
	}
	if got, want := timeOf(t, d, "this_update"), opensslTime(t, o["lastUpdate"]); !got.Equal(want) {
		t.Errorf("CRL this_update %v, openssl %v", got, want)
	}
	if got, want := timeOf(t, d, "next_update"), opensslTime(t, o["nextUpdate"]); !got.Equal(want) {
		t.Errorf("CRL next_update %v, openssl %v", got, want)
	}
	if got := str(t, d, "serial"); !sameNumber(got, o["crlNumber"]) {
		t.Errorf("CRL number %q, openssl %q", got, o["crlNumber"])
	}
	text := string(run(t, p.dir, p.crl, "openssl", "crl", "-inform", "der", "-noout", "-text"))
	wantSerials := regexp.MustCompile(`Serial Number: ([0-9A-F]+)`).FindAllStringSubmatch(text, -1)
	revoked := get(t, d, "revoked").(*starlark.List)
	if revoked.Len() != 2 || len(wantSerials) != 2 {
		t.Fatalf("revoked: %s; openssl lists %d", revoked, len(wantSerials))
	}
	for i := range 2 {
		if got := str(t, revoked.Index(i).(*starlark.Dict), "serial"); !sameNumber(got, wantSerials[i][1]) {
			t.Errorf("revoked[%d] serial %q, openssl %q", i, got, wantSerials[i][1])
		}
	}
}

// againstPKIPrint: the details swanctl shows agree with what
// strongSwan's own printer (pki --print, the code behind swanctl
// --list-certs) prints for the same files: serial, altNames, flags, CRL and
// OCSP URIs, pathlen, key ids, key type and size, and the CRL's revocations.
func againstPKIPrint(t *testing.T, p *pkiSet) {
	// And a certificate pki does not make: UTF-8 and control characters and
	// an attribute strongSwan has no name for in the subject, a CA without
	// a keyUsage extension (no CRLSign flag then), an email SAN.
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	odd := selfSigned(t, &gox509.Certificate{
		Subject: pkix.Name{Organization: []string{"Zürich AG"}, CommonName: "tab\there",
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: "x"}}},
		IsCA: true, BasicConstraintsValid: true, EmailAddresses: []string{"ops@example.org"},
	}, caKey)
	for name, der := range map[string][]byte{"root CA": p.ca, "sub CA": p.sub, "server": p.srv, "Go-made CA": odd} {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		got := []string{
			`  subject:  "` + x509.ASCII(c.Subject) + `"`,
			`  issuer:   "` + x509.ASCII(c.Issuer) + `"`,
			"  serial:    " + x509.Hex(c.Serial),
		}
		if len(c.AltNames) > 0 {
			got = append(got, "  altNames:  "+x509.ASCII(strings.Join(c.AltNames, ", ")))
		}
		if len(c.Flags) > 0 {
			got = append(got, "  flags:     "+strings.Join(c.Flags, " ")+" ")
		}
		for i, u := range c.CRLURIs {
			got = append(got, map[bool]string{true: "  CRL URIs:  ", false: "             "}[i == 0]+u)
		}
		for i, u := range c.OCSPURIs {
			got = append(got, map[bool]string{true: "  OCSP URIs: ", false: "             "}[i == 0]+u)
		}
		if c.PathLen >= 0 {
			got = append(got, "  pathlen:   "+big.NewInt(int64(c.PathLen)).String())
		}
		if c.AuthorityKeyID != nil {
			got = append(got, "  authkeyId: "+x509.Hex(c.AuthorityKeyID))
		}
		got = append(got, "  subjkeyId: "+x509.Hex(c.SubjectKeyID),
			"  pubkey:    "+c.Key.Type+" "+big.NewInt(int64(c.Key.Bits)).String()+" bits",
			"  keyid:     "+x509.Hex(c.Key.KeyID),
			"  subjkey:   "+x509.Hex(c.Key.SubjKey))
		want := withoutValidity(run(t, p.dir, der, "pki", "--print", "--type", "x509"))
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n got:\n%s\n pki --print:\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}

	crl, err := x509.ParseCRL(p.crl)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{
		`  issuer:   "` + crl.Issuer + `"`,
		"  serial:    " + x509.Hex(crl.Number),
		"  authKeyId: " + x509.Hex(crl.AuthorityKeyID),
		"  2 revoked certificates:",
	}
	for _, r := range crl.Revoked {
		got = append(got, "    "+x509.Hex(r.Serial)+": "+r.Time.Local().Format("Jan 02 15:04:05 2006")+", "+r.Reason)
	}
	if want := withoutValidity(run(t, p.dir, p.crl, "pki", "--print", "--type", "crl")); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("CRL:\n got:\n%s\n pki --print:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	key, err := x509.ParsePublicKey(p.pub)
	if err != nil {
		t.Fatal(err)
	}
	keyid := string(run(t, p.dir, p.pub, "pki", "--keyid", "--type", "pub"))
	for _, id := range [][]byte{key.KeyID, key.SubjKey} {
		if !strings.Contains(keyid, x509.Hex(id)) {
			t.Errorf("key id %s not in pki --keyid:\n%s", x509.Hex(id), keyid)
		}
	}
	if key.Type != "ECDSA" || key.Bits != 384 || key.Curve != "secp384r1" {
		t.Errorf("public key: %+v", key)
	}
}

// withoutValidity drops the validity/update lines of pki --print, which
// depend on the clock.
func withoutValidity(out []byte) []string {
	var lines []string
	skip := false
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if strings.HasPrefix(line, "  validity:") || strings.HasPrefix(line, "  update:") {
			skip = true
			continue
		}
		if skip && strings.HasPrefix(line, "             not after") || skip && strings.HasPrefix(line, "             next on") {
			skip = false
			continue
		}
		lines = append(lines, line)
	}
	return lines
}

// pemAgainstOpenSSL: x509.pem writes what openssl writes for the same
// certificate and CRL, and parse reads PEM as well as DER.
func pemAgainstOpenSSL(t *testing.T, p *pkiSet) {
	pemOf := func(data []byte) string {
		v, err := starlark.Call(&starlark.Thread{}, x509.NewModule().Members["pem"], starlark.Tuple{starlark.Bytes(data)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return string(v.(starlark.String))
	}
	if got, want := pemOf(p.srv), string(run(t, p.dir, p.srv, "openssl", "x509", "-inform", "der")); got != want {
		t.Errorf("pem(cert):\n%s\nopenssl:\n%s", got, want)
	}
	if got, want := pemOf(p.crl), string(run(t, p.dir, p.crl, "openssl", "crl", "-inform", "der")); got != want {
		t.Errorf("pem(crl):\n%s\nopenssl:\n%s", got, want)
	}
	if got, want := pemOf(p.pub), string(run(t, p.dir, p.pub, "openssl", "pkey", "-pubin", "-inform", "der")); got != want {
		t.Errorf("pem(pubkey):\n%s\nopenssl:\n%s", got, want)
	}
	fromPEM := parse(t, []byte(pemOf(p.srv)))
	if got, want := fromPEM.String(), parse(t, p.srv).String(); got != want {
		t.Errorf("parse(PEM) %s\n!= parse(DER) %s", got, want)
	}
}

// TestPrivateKeyIsNotAPublicKey: x509.parse and x509.pem refuse a private
// key. Found by the red team: an RSA private key from pki --gen (PKCS#1
// DER) was taken for a PKCS#1 public key (its version 0 as the modulus)
// and x509.pem printed the private key inside "BEGIN PUBLIC KEY".
func TestPrivateKeyIsNotAPublicKey(t *testing.T) {
	need(t, "pki")
	dir := t.TempDir()
	for _, typ := range []string{"rsa", "ecdsa", "ed25519"} {
		key := run(t, dir, nil, "pki", "--gen", "--type", typ)
		for _, fn := range []string{"parse", "pem"} {
			_, err := starlark.Call(&starlark.Thread{}, x509.NewModule().Members[fn], starlark.Tuple{starlark.Bytes(key)}, nil)
			if err == nil || !strings.Contains(err.Error(), "not a certificate, CRL or public key") {
				t.Errorf("x509.%s(pki --gen --type %s) = %v, want an error saying it is none of them", fn, typ, err)
			}
		}
	}
}

// TestPEMAfterText: PEM with text before the block, as openssl x509 -text
// writes it, is read like openssl reads it (it was taken for DER).
func TestPEMAfterText(t *testing.T) {
	p := makePKI(t)
	text := run(t, p.dir, p.srv, "openssl", "x509", "-inform", "der", "-text")
	if bytes.HasPrefix(text, []byte("-----BEGIN")) {
		t.Fatalf("openssl x509 -text wrote no text before the PEM block:\n%s", text)
	}
	if got := str(t, parse(t, text), "sha256"); got != str(t, parse(t, p.srv), "sha256") {
		t.Errorf("PEM after text: fingerprint %s, want the certificate's", got)
	}
}
