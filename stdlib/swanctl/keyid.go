package swanctl

import (
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
)

// keyID returns the id charon gives a private key (load-key's "id",
// get-keys' "keys"): the SHA-1 of the subjectPublicKey bit string of its
// public key (KEYID_PUBKEY_SHA1), in lower-case hex. It returns "" when the
// key cannot be parsed here; apply then learns the id from load-key.
func keyID(data []byte) string {
	der := data
	if b, _ := pem.Decode(data); b != nil {
		der = b.Bytes
	}
	var key any
	var err error
	if key, err = x509.ParsePKCS8PrivateKey(der); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(der); err != nil {
			if key, err = x509.ParseECPrivateKey(der); err != nil {
				return ""
			}
		}
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return ""
	}
	spki, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return ""
	}
	var info struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return ""
	}
	sum := sha1.Sum(info.PublicKey.Bytes)
	return hex.EncodeToString(sum[:])
}
