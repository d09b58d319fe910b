package swanctl

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/vicish/vicish/internal/settings"
)

// keyID returns the id charon gives a private key (load-key's "id",
// get-keys' "keys"): the SHA-1 of the subjectPublicKey bit string of its
// public key (KEYID_PUBKEY_SHA1), in lower-case hex. It returns "" when the
// key cannot be parsed here; apply then learns the id from load-key.
func keyID(data []byte) string {
	key, err := parsePrivateKey(data)
	if err != nil {
		return ""
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

// parsePrivateKey parses an unencrypted PKCS#8, PKCS#1 or SEC1 key, PEM or
// DER.
func parsePrivateKey(data []byte) (any, error) {
	der := data
	if b, _ := pem.Decode(data); b != nil {
		der = b.Bytes
	}
	if key, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return key, nil
	}
	if key, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return key, nil
	}
	return x509.ParseECPrivateKey(der)
}

// encryptedKey reports whether data is an encrypted private key: PEM
// "ENCRYPTED PRIVATE KEY" or legacy PEM encryption (Proc-Type), or a DER
// EncryptedPrivateKeyInfo.
func encryptedKey(data []byte) bool {
	if b, _ := pem.Decode(data); b != nil {
		//lint:ignore SA1019 legacy PEM encryption is what such key files use
		return b.Type == "ENCRYPTED PRIVATE KEY" || x509.IsEncryptedPEMBlock(b)
	}
	var epki encryptedPrivateKeyInfo
	rest, err := asn1.Unmarshal(data, &epki)
	return err == nil && len(rest) == 0 && len(epki.EncryptedData) > 0
}

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type encryptedPrivateKeyInfo struct {
	Algorithm     algorithmIdentifier
	EncryptedData []byte
}

var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidScrypt     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

type pbes2Params struct {
	KeyDerivationFunc algorithmIdentifier
	EncryptionScheme  algorithmIdentifier
}

type pbkdf2Params struct {
	Salt           []byte
	IterationCount int
	KeyLength      int                 `asn1:"optional"`
	PRF            algorithmIdentifier `asn1:"optional"`
}

// errWrongPassphrase is a passphrase that does not decrypt the key.
var errWrongPassphrase = errors.New("wrong passphrase")

// decryptKey decrypts an encrypted private key with passphrase and returns
// the key as unencrypted PKCS#8 DER. It handles PKCS#8 PBES2 (PBKDF2 with
// HMAC-SHA1/2, AES-CBC or 3DES-CBC), as openssl and most tools write, and
// legacy PEM encryption. PBES2 with scrypt as its key derivation (openssl
// pkcs8 -scrypt) and the PKCS#5 v1.5 and PKCS#12 schemes are not
// supported: the error says so, and how to re-encrypt the key.
func decryptKey(data []byte, passphrase []byte) ([]byte, error) {
	der := data
	if b, _ := pem.Decode(data); b != nil {
		//lint:ignore SA1019 legacy PEM encryption is what such key files use
		if x509.IsEncryptedPEMBlock(b) {
			//lint:ignore SA1019 see above
			plain, err := x509.DecryptPEMBlock(b, passphrase)
			if err != nil {
				return nil, errWrongPassphrase
			}
			return toPKCS8(plain)
		}
		der = b.Bytes
	}
	scheme, err := parsePBES2(der)
	if err != nil {
		return nil, err
	}
	return scheme.decrypt(passphrase)
}

// pbes2 is a PKCS#8 key encrypted with PBES2, ready to decrypt.
type pbes2 struct {
	prf        func() hash.Hash // PBKDF2's pseudo-random function
	salt       []byte
	iterations int
	keyLen     int
	newCipher  func([]byte) (cipher.Block, error)
	iv         []byte
	ciphertext []byte
}

// parsePBES2 reads an EncryptedPrivateKeyInfo (DER) using PBES2.
func parsePBES2(der []byte) (*pbes2, error) {
	var epki encryptedPrivateKeyInfo
	if _, err := asn1.Unmarshal(der, &epki); err != nil {
		return nil, fmt.Errorf("not an encrypted PKCS#8 key: %v", err)
	}
	if !epki.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("unsupported key encryption %v (only PKCS#5 v2 PBES2 is supported)", epki.Algorithm.Algorithm)
	}
	var params pbes2Params
	if _, err := asn1.Unmarshal(epki.Algorithm.Parameters.FullBytes, &params); err != nil {
		return nil, fmt.Errorf("bad PBES2 parameters: %v", err)
	}
	if params.KeyDerivationFunc.Algorithm.Equal(oidScrypt) {
		return nil, errors.New("scrypt-encrypted PKCS#8 keys are not supported (only PBKDF2 is); re-encrypt the key, e.g. openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out NEWKEY")
	}
	if !params.KeyDerivationFunc.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("unsupported key derivation %v (only PBKDF2 is supported)", params.KeyDerivationFunc.Algorithm)
	}
	var kdf pbkdf2Params
	if _, err := asn1.Unmarshal(params.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil {
		return nil, fmt.Errorf("bad PBKDF2 parameters: %v", err)
	}
	p := &pbes2{salt: kdf.Salt, iterations: kdf.IterationCount, ciphertext: epki.EncryptedData}
	var err error
	if p.prf, err = pbkdf2PRF(kdf.PRF.Algorithm); err != nil {
		return nil, err
	}
	if p.keyLen, p.newCipher, err = pbes2Cipher(params.EncryptionScheme.Algorithm); err != nil {
		return nil, err
	}
	if _, err := asn1.Unmarshal(params.EncryptionScheme.Parameters.FullBytes, &p.iv); err != nil {
		return nil, fmt.Errorf("bad cipher IV: %v", err)
	}
	return p, nil
}

// pbkdf2PRF returns the hash of PBKDF2's HMAC; none given means SHA-1.
func pbkdf2PRF(alg asn1.ObjectIdentifier) (func() hash.Hash, error) {
	switch {
	case len(alg) == 0 || alg.Equal(oidHMACSHA1):
		return sha1.New, nil
	case alg.Equal(oidHMACSHA224):
		return sha256.New224, nil
	case alg.Equal(oidHMACSHA256):
		return sha256.New, nil
	case alg.Equal(oidHMACSHA384):
		return sha512.New384, nil
	case alg.Equal(oidHMACSHA512):
		return sha512.New, nil
	}
	return nil, fmt.Errorf("unsupported PBKDF2 PRF %v", alg)
}

// pbes2Cipher returns the key length and block cipher of an encryption
// scheme.
func pbes2Cipher(alg asn1.ObjectIdentifier) (int, func([]byte) (cipher.Block, error), error) {
	switch {
	case alg.Equal(oidAES128CBC):
		return 16, aes.NewCipher, nil
	case alg.Equal(oidAES192CBC):
		return 24, aes.NewCipher, nil
	case alg.Equal(oidAES256CBC):
		return 32, aes.NewCipher, nil
	case alg.Equal(oidDESEDE3CBC):
		return 24, des.NewTripleDESCipher, nil
	}
	return 0, nil, fmt.Errorf("unsupported key cipher %v", alg)
}

// decrypt derives the key from passphrase and returns the PKCS#8 DER, or
// errWrongPassphrase when the padding or the result is not a key.
func (p *pbes2) decrypt(passphrase []byte) ([]byte, error) {
	key, err := pbkdf2.Key(p.prf, string(passphrase), p.salt, p.iterations, p.keyLen)
	if err != nil {
		return nil, err
	}
	block, err := p.newCipher(key)
	if err != nil {
		return nil, err
	}
	ct := p.ciphertext
	if len(p.iv) != block.BlockSize() || len(ct) == 0 || len(ct)%block.BlockSize() != 0 {
		return nil, errors.New("bad encrypted key length or IV")
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, p.iv).CryptBlocks(plain, ct)
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > block.BlockSize() || !hmac.Equal(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, errWrongPassphrase
	}
	plain = plain[:len(plain)-pad]
	if _, err := x509.ParsePKCS8PrivateKey(plain); err != nil {
		return nil, errWrongPassphrase
	}
	return plain, nil
}

// toPKCS8 re-encodes an unencrypted key as PKCS#8 DER.
func toPKCS8(der []byte) ([]byte, error) {
	key, err := parsePrivateKey(der)
	if err != nil {
		return nil, errWrongPassphrase
	}
	return x509.MarshalPKCS8PrivateKey(key)
}

// keyPassphrases returns the passphrases swanctl would try for a key file
// of a key directory: every "secret*" value of the secrets sections whose
// name starts with the directory's name and whose "file" names the file
// (case-insensitively), relative to that directory (load_creds.c
// decrypt_with_config).
func keyPassphrases(s *settings.Settings, dir, rel string) [][]byte {
	var out [][]byte
	for _, name := range s.SectionNames("secrets") {
		if !strings.HasPrefix(name, dir) {
			continue
		}
		if file, ok := s.Get("secrets." + name + ".file"); !ok || !strings.EqualFold(file, rel) {
			continue
		}
		for _, e := range s.KeyValues("secrets." + name) {
			if strings.HasPrefix(e.Key, "secret") {
				out = append(out, []byte(e.Value))
			}
		}
	}
	return out
}
