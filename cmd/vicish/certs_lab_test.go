package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
)

// TestListCertsJSONPipeline: issue 11's done-when, as an operator types it
// in a shell: vicish --json -e 'vici.list_certs(type="X509")' | jq -r
// '.[0].data' | base64 -d | openssl x509 -inform der -noout -subject reads
// the certificate a real daemon holds, and x509.parse in vicish -e agrees.
// Without type="X509" the first entry is a connection's raw public key
// (charon lists PUBKEY entries first), which openssl cannot read as a
// certificate (issue 17).
func TestListCertsJSONPipeline(t *testing.T) {
	for _, prog := range []string{"jq", "base64", "openssl"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Fatalf("%s is not installed (apt-get install jq coreutils openssl)", prog)
		}
	}
	l := labtest.Start(t, lab.OneGateway)
	uri := l.Gateway("a").URI
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x5eed), Subject: pkix.Name{Country: []string{"CH"}, CommonName: "vicish pipeline CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	r := runVicish("", "--uri", uri, "-c", `vici.load_cert(type="x509", flag="ca", data=sys.argv[1])`, certPEM)
	if r.code != 0 {
		t.Fatalf("load_cert: code %d, stderr %q", r.code, r.stderr)
	}

	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	r = runVicish("", "--uri", uri, "-c", `vici.load_conn({"pk": {"local": {"auth": "pubkey", "pubkeys": [sys.argv[1]]}}})
print([c["type"] for c in vici.list_certs()])`, pubPEM)
	if r.code != 0 || r.stdout != "[\"PUBKEY\", \"X509\"]\n" {
		t.Fatalf("a raw public key first, then the certificate: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	pipeline := func(list string) (string, error) {
		cmd := exec.Command("bash", "-c", `set -o pipefail; "$VICISH" --uri "$URI" --json -e '`+list+`' | jq -r '.[0].data' | base64 -d | openssl x509 -inform der -noout -subject`)
		cmd.Env = append(vicishCmd(t, nil).Env, "VICISH="+os.Args[0], "URI="+uri)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if got, err := pipeline(`vici.list_certs(type="X509")`); err != nil || got != "subject=C = CH, CN = vicish pipeline CA" {
		t.Errorf("pipeline with type=\"X509\": %v\n%s", err, got)
	}
	if got, err := pipeline(`vici.list_certs()`); err == nil {
		t.Errorf("pipeline without a type read the public key as a certificate: %s", got)
	}

	r = runVicish("", "--uri", uri, "-e", `[(x["subject"], x["serial"], x["is_ca"]) for x in [x509.parse(c) for c in vici.list_certs(type="X509")]]`)
	if r.code != 0 || strings.Join(strings.Fields(r.stdout), " ") != `[("C=CH, CN=vicish pipeline CA", "5e:ed", True)]` {
		t.Errorf("-e x509.parse: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
