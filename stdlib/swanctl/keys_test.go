package swanctl

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicish/vicish/internal/lab/labtest"
)

// opensslKey encrypts the PKCS#8 key der with openssl pkcs8 and the
// options given (-v2 aes-256-cbc, -scrypt, ...) under passphrase "pw",
// returning the PEM.
func opensslKey(t testing.TB, der []byte, opts ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		labtest.SkipOffCI(t, "openssl is not installed (apt-get install openssl; scripts/deps.sh lists it)")
	}
	in := filepath.Join(t.TempDir(), "k.der")
	if err := os.WriteFile(in, der, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"pkcs8", "-topk8", "-inform", "DER", "-in", in, "-passout", "pass:pw"}, opts...)
	out, err := exec.Command("openssl", args...).Output()
	if err != nil {
		t.Fatalf("openssl %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// testKey returns a fresh private key as PKCS#8 DER.
func testKey(t testing.TB) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestDecryptOpensslKeys decrypts what openssl pkcs8 writes with every
// cipher and PRF that decryptKey supports, PEM and DER, and refuses a
// wrong passphrase; a key encrypted with scrypt is refused, saying so and
// how to re-encrypt it.
func TestDecryptOpensslKeys(t *testing.T) {
	der := testKey(t)
	for _, cipher := range []string{"aes-128-cbc", "aes-192-cbc", "aes-256-cbc", "des-ede3-cbc"} {
		for _, prf := range []string{"hmacWithSHA1", "hmacWithSHA224", "hmacWithSHA256", "hmacWithSHA384", "hmacWithSHA512"} {
			enc := opensslKey(t, der, "-v2", cipher, "-v2prf", prf, "-iter", "1000")
			block, _ := pem.Decode(enc)
			for form, data := range map[string][]byte{"PEM": enc, "DER": block.Bytes} {
				if !encryptedKey(data) {
					t.Errorf("%s/%s %s: not seen as encrypted", cipher, prf, form)
				}
				got, err := decryptKey(data, []byte("pw"))
				if err != nil || !bytes.Equal(got, der) {
					t.Errorf("%s/%s %s: %v", cipher, prf, form, err)
				}
				if _, err := decryptKey(data, []byte("wrong")); !errors.Is(err, errWrongPassphrase) {
					t.Errorf("%s/%s %s with a wrong passphrase: %v", cipher, prf, form, err)
				}
			}
		}
	}
	scrypt := opensslKey(t, der, "-scrypt")
	if _, err := decryptKey(scrypt, []byte("pw")); err == nil || !strings.Contains(err.Error(), "scrypt-encrypted PKCS#8 keys are not supported") || !strings.Contains(err.Error(), "openssl pkcs8") {
		t.Errorf("scrypt: %v", err)
	}
}

// FuzzDecryptKey gives the encrypted-key code (PEM, PKCS#8 PBES2 and
// legacy PEM encryption) arbitrary bytes and passphrases: it never
// panics, and whatever it returns without an error is a PKCS#8 key.
func FuzzDecryptKey(f *testing.F) {
	for _, name := range []string{"des3-sha1.pem", "pbe-sha1-3des.pem"} {
		data, err := os.ReadFile(filepath.Join("testdata", "keys", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, []byte("des3-pass"))
	}
	if _, err := exec.LookPath("openssl"); err == nil {
		der := testKey(f)
		for _, opts := range [][]string{{"-v2", "aes-256-cbc", "-iter", "10"}, {"-v2", "des-ede3-cbc", "-v2prf", "hmacWithSHA512", "-iter", "10"}, {"-scrypt"}} {
			enc := opensslKey(f, der, opts...)
			block, _ := pem.Decode(enc)
			f.Add(enc, []byte("pw"))
			f.Add(block.Bytes, []byte("pw"))
		}
	}
	f.Fuzz(func(t *testing.T, data, passphrase []byte) {
		if p, err := parsePBES2(data); err == nil && p.iterations > 1<<12 {
			t.Skip() // a slow derivation is the file's cost, not a fault; keep the fuzzer fast
		}
		if b, _ := pem.Decode(data); b != nil {
			if p, err := parsePBES2(b.Bytes); err == nil && p.iterations > 1<<12 {
				t.Skip()
			}
		}
		encryptedKey(data)
		der, err := decryptKey(data, passphrase)
		if err != nil {
			return
		}
		if _, err := x509.ParsePKCS8PrivateKey(der); err != nil {
			t.Fatalf("decryptKey returned %x without an error, which is not a PKCS#8 key: %v", der, err)
		}
	})
}
