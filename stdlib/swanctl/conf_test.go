package swanctl

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/vici"
)

// copyTestdata copies testdata/lab into a fresh directory.
func copyTestdata(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join("testdata", "lab")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// goCerts writes x509ca/ca.pem, x509/gw.pem and private/gw.pem made with
// Go's crypto (the lab tests make them with pki instead).
func goCerts(t *testing.T, dir string) (gwKeyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	gwKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Lab CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	gwTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "gw.lab.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	gwDER, err := x509.CreateCertificate(rand.Reader, gwTmpl, caTmpl, &gwKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(gwKey)
	gwKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	writeFile(t, filepath.Join(dir, "x509ca", "ca.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})))
	writeFile(t, filepath.Join(dir, "x509", "gw.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: gwDER})))
	writeFile(t, filepath.Join(dir, "private", "gw.pem"), string(gwKeyPEM))
	return gwKeyPEM
}

func item(t *testing.T, c *Conf, kind, name string) Item {
	t.Helper()
	for _, it := range c.Items {
		if it.Kind == kind && it.Name == name {
			if it.Err != nil {
				t.Fatalf("%s %s: %v", kind, name, it.Err)
			}
			return it
		}
	}
	t.Fatalf("no %s %s in %v", kind, name, c.Items)
	return Item{}
}

// dump renders a message compactly for comparisons: k=v, k=[a|b], k{…}.
func dump(m *vici.Message) string {
	var parts []string
	for _, e := range m.Entries() {
		switch e.Kind {
		case vici.KindSection:
			parts = append(parts, e.Name+"{"+dump(e.Section)+"}")
		case vici.KindList:
			var items []string
			for _, it := range e.List {
				items = append(items, string(it))
			}
			parts = append(parts, e.Name+"=["+strings.Join(items, "|")+"]")
		default:
			parts = append(parts, e.Name+"="+string(e.Value))
		}
	}
	return strings.Join(parts, " ")
}

func TestLoadTranslation(t *testing.T) {
	dir := copyTestdata(t)
	keyPEM := goCerts(t, dir)
	c, err := loadConf(context.Background(), dir) // a directory means its swanctl.conf
	if err != nil {
		t.Fatal(err)
	}
	if c.Dir != dir || c.Path != filepath.Join(dir, "swanctl.conf") {
		t.Fatalf("dir %q path %q", c.Dir, c.Path)
	}
	var order []string
	for _, it := range c.Items {
		if it.Err != nil {
			t.Errorf("%s %s: %v", it.Kind, it.Name, it.Err)
		}
		order = append(order, it.Kind+" "+it.Name)
	}
	want := []string{"cert x509/gw.pem", "cert x509ca/ca.pem", "key private/enc.pem", "key private/gw.pem", "key ecdsa/legacy.pem",
		"secret ike-gw", "secret ike-hex", "secret eap-carol", "secret ike-extra",
		"authority lab-ca", "pool p1", "pool p2", "conn gw", "conn rw", "conn extra"}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("items\n got %q\nwant %q", order, want)
	}

	gw := item(t, c, KindConn, "gw")
	wantGW := "gw{local_addrs=[192.0.2.1] remote_addrs=[192.0.2.2|192.0.2.3] " +
		"version=2 proposals=[aes128-sha256-modp2048|aes256-sha384-ecp384] rekey_time=4h " +
		"local{auth=psk id=gw-a} remote{auth=psk id=gw-b} children{" +
		"net{local_ts=[10.1.0.0/24|10.1.1.0/24] remote_ts=[10.2.0.0/24] esp_proposals=[aes128gcm16-modp2048|aes256gcm16] start_action=none} " +
		"web{local_ts=[10.1.2.0/24] remote_ts=[10.2.2.0/24[tcp/80]] mode=tunnel}}}"
	if got := dump(gw.Body); got != wantGW {
		t.Fatalf("conn gw\n got %s\nwant %s", got, wantGW)
	}

	rw := item(t, c, KindConn, "rw").Body.Section("rw")
	gwCert, _ := os.ReadFile(filepath.Join(dir, "x509", "gw.pem"))
	caCert, _ := os.ReadFile(filepath.Join(dir, "x509ca", "ca.pem"))
	if e, _ := rw.Section("local").Lookup("certs"); e.Kind != vici.KindList || len(e.List) != 1 || !bytes.Equal(e.List[0], gwCert) {
		t.Fatalf("rw.local.certs is not the contents of x509/gw.pem: %+v", e)
	}
	if e, _ := rw.Section("remote").Lookup("cacerts"); len(e.List) != 1 || !bytes.Equal(e.List[0], caCert) {
		t.Fatal("rw.remote.cacerts is not the contents of x509ca/ca.pem")
	}
	if got := rw.List("pools"); !reflect.DeepEqual(got, []string{"p1"}) {
		t.Fatalf("rw.pools = %q", got)
	}

	if got := dump(item(t, c, KindPool, "p1").Body); got != "p1{addrs=10.3.0.0/28 dns=[10.3.0.53|10.3.0.54]}" {
		t.Fatalf("pool p1: %s", got)
	}
	if got := dump(item(t, c, KindPool, "p2").Body); got != "p2{addrs=10.4.0.1-10.4.0.9 split_include=[10.1.0.0/16]}" {
		t.Fatalf("pool p2: %s", got)
	}
	auth := item(t, c, KindAuthority, "lab-ca").Body.Section("lab-ca")
	if e, _ := auth.Lookup("cacert"); e.Kind != vici.KindValue || !bytes.Equal(e.Value, caCert) {
		t.Fatal("authority cacert is not the contents of x509ca/ca.pem")
	}
	if got := auth.List("crl_uris"); !reflect.DeepEqual(got, []string{"http://crl.example.org/lab.crl", "http://crl2.example.org/lab.crl"}) {
		t.Fatalf("crl_uris %q", got)
	}
	if got := auth.List("ocsp_uris"); !reflect.DeepEqual(got, []string{"http://ocsp.example.org"}) {
		t.Fatalf("ocsp_uris %q", got)
	}

	for name, want := range map[string]string{
		"ike-gw":    "id=ike-gw type=ike data=a psk with blanks # and a hash owners=[gw-a|gw-b]",
		"ike-hex":   "id=ike-hex type=ike data=secret owners=[hex-peer]",
		"eap-carol": "id=eap-carol type=eap data=carol-password owners=[carol]",
	} {
		if got := dump(item(t, c, KindShared, name).Body); got != want {
			t.Errorf("secret %s\n got %s\nwant %s", name, got, want)
		}
	}
	ca := item(t, c, KindCert, "x509ca/ca.pem")
	if got := ca.Body.Get("type") + "/" + ca.Body.Get("flag"); got != "X509/CA" {
		t.Fatalf("ca cert type %s", got)
	}
	key := item(t, c, KindKey, "private/gw.pem")
	if key.Body.Get("type") != "any" || key.Body.Get("data") != string(keyPEM) || len(key.KeyID) != 40 {
		t.Fatalf("key: type %q id %q", key.Body.Get("type"), key.KeyID)
	}
}

func TestLoadProblems(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "swanctl.conf"), `
connections { c { local { certs = missing.pem } } }
authorities { a { cacert = /nonexistent/ca.pem } }
secrets {
	ike-nosecret { id = x }
	bogus { secret = y }
	ike-badhex { secret = 0xzz }
}`)
	writeFile(t, filepath.Join(dir, "private", "enc.pem"), "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")
	c, err := loadConf(context.Background(), filepath.Join(dir, "swanctl.conf"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"conn c":              "missing.pem",
		"authority a":         "/nonexistent/ca.pem",
		"secret ike-nosecret": "has no secret",
		"secret bogus":        "unsupported secret section",
		"secret ike-badhex":   "invalid 0x hex",
		"key private/enc.pem": "is encrypted",
	}
	for _, it := range c.Items {
		w, ok := want[it.Kind+" "+it.Name]
		if !ok {
			t.Errorf("unexpected item %s %s", it.Kind, it.Name)
			continue
		}
		delete(want, it.Kind+" "+it.Name)
		if it.Err == nil || !strings.Contains(it.Err.Error(), w) {
			t.Errorf("%s %s: err %v, want it to mention %q", it.Kind, it.Name, it.Err, w)
		}
	}
	for k := range want {
		t.Errorf("missing item %s", k)
	}
}

func TestEncryptedKeys(t *testing.T) {
	read := func(name string) []byte {
		t.Helper()
		data, err := os.ReadFile(filepath.Join("testdata", "keys", name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	des3 := read("des3-sha1.pem")
	wantID := strings.TrimSpace(string(read("des3-sha1.keyid"))) // by openssl: SHA-1 of the RSAPublicKey
	if !encryptedKey(des3) {
		t.Fatal("des3-sha1.pem is not recognised as encrypted")
	}
	if _, err := decryptKey(des3, []byte("wrong")); !errors.Is(err, errWrongPassphrase) {
		t.Fatalf("wrong passphrase: err %v", err)
	}
	der, err := decryptKey(des3, []byte("des3-pass"))
	if err != nil {
		t.Fatal(err)
	}
	if got := keyID(der); got != wantID {
		t.Fatalf("key id %s, openssl says %s", got, wantID)
	}
	if encryptedKey(der) {
		t.Fatal("the decrypted key is still seen as encrypted")
	}
	if _, err := decryptKey(read("pbe-sha1-3des.pem"), []byte("x")); err == nil || !strings.Contains(err.Error(), "only PKCS#5 v2 PBES2") {
		t.Fatalf("PKCS#12 PBE: err %v", err)
	}

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "private", "k.pem"), string(des3))
	writeFile(t, filepath.Join(dir, "pkcs8", "k.der"), string(toDER(des3)))
	writeFile(t, filepath.Join(dir, "swanctl.conf"), `secrets {
		private-k { file = K.PEM
		            secret = wrong
		            secret_2 = des3-pass }
		pkcs8-k { file = k.der
		          secret = wrong }
		rsa-k { file = k.pem
		        secret = des3-pass }
	}`)
	c, err := loadConf(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if it := item(t, c, KindKey, "private/k.pem"); it.KeyID != wantID || !bytes.Equal([]byte(it.Body.Get("data")), der) {
		t.Fatalf("private/k.pem: id %s", it.KeyID)
	}
	for _, secret := range []string{string(der), "des3-pass", "wrong"} {
		if !slices.Contains(c.Secrets, secret) {
			t.Errorf("Secrets lack %.20q", secret)
		}
	}
	for _, it := range c.Items {
		if it.Name == "pkcs8/k.der" && (it.Err == nil || !strings.Contains(it.Err.Error(), "decryption secret for k.der is wrong")) {
			t.Fatalf("pkcs8/k.der with a wrong passphrase: %v", it.Err)
		}
	}
}

// TestConfSecrets: Conf.Secrets holds every secret the file gives, as
// written and decoded (a host redacts them, also in the file's own text):
// shared secrets in each form, key file passphrases and token PINs; not
// the ids and files that name them.
func TestConfSecrets(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "swanctl.conf"), `secrets {
		ike-hex { id = hex@lab
		          secret = 0x68:75:6E:74 }
		eap-b64 { id = carol
		          secret = 0saHVudGVyMg== }
		xauth-q { id = dave
		          secret = "with \"quotes\"" }
		private-k { file = k.pem
		            secret = pass-one
		            secret_2 = pass-two }
		token-t { handle = 0a0b
		          pin = 123456 }
	}`)
	c, err := loadConf(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"0x68:75:6E:74", "hunt", "0saHVudGVyMg==", "hunter2", `with "quotes"`,
		"pass-one", "pass-two", "123456"}
	if !reflect.DeepEqual(c.Secrets, want) {
		t.Errorf("Secrets = %q, want %q", c.Secrets, want)
	}
}

func TestSplitList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"a,b", []string{"a", "b"}},
		{" a , b ,c ", []string{"a", "b", "c"}},
		{"a,,b,", []string{"a", "b"}},
		{"", []string{}},
		{" , ", []string{}},
		{"10.1.0.0/24 , 10.2.0.0/24[tcp/80]", []string{"10.1.0.0/24", "10.2.0.0/24[tcp/80]"}},
		{"aes128-sha256-modp2048, default", []string{"aes128-sha256-modp2048", "default"}},
		{`'a,b', "c, d",e`, []string{"a,b", "c, d", "e"}},
		{"a b, c", []string{"a b", "c"}},
	} {
		if got := splitList(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// writeFile writes text to path, creating its directory.
func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
