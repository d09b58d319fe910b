// Package x509 decodes the certificates, CRLs and public keys a strongSwan
// daemon holds (what vici.list_certs returns) into the details swanctl
// --list-certs shows, and more. It has a Go API, used by the table module
// to print swanctl's listing, and the Starlark "x509" module (module.go).
//
// Names are written the way strongSwan writes them: a distinguished name
// in the certificate's order with strongSwan's attribute abbreviations
// ("C=CH, O=strongSwan, CN=moon.strongswan.org"), byte strings (serials,
// key identifiers, fingerprints) as lowercase hex with colons
// ("01:a3:ff"). Unlike swanctl, which prints every byte outside printable
// ASCII as '?', names keep their UTF-8 text; only control characters
// become '?' (ASCII gives swanctl's text).
//
// Parsing uses Go's crypto/x509 and encoding/asn1, plus a walk of the raw
// encoding where crypto/x509 drops something strongSwan shows (the serial
// as encoded, subject alternative names in certificate order, the CRL
// number). No input can make it panic or loop; work is linear in the input.
package x509

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Kinds of object Parse recognises, spelt as the "type" of the daemon's
// list-certs entries.
const (
	KindCert   = "X509"     // an X.509 certificate
	KindCRL    = "X509_CRL" // a certificate revocation list
	KindPubkey = "PUBKEY"   // a bare public key (SubjectPublicKeyInfo or PKCS#1 RSA)
)

// Certificate is what vicish shows of an X.509 certificate.
type Certificate struct {
	Raw                 []byte    // DER encoding
	Subject, Issuer     string    // distinguished names, strongSwan's notation
	Serial              []byte    // the serial number's bytes as encoded, without a leading sign byte (as swanctl prints it)
	NotBefore, NotAfter time.Time // validity
	// AltNames are the subject alternative names strongSwan uses, in the
	// certificate's order: DNS names, email addresses (and xmppAddr / UPN
	// other names), URIs, IP addresses and directory names.
	AltNames    []string
	IsCA        bool
	PathLen     int // the CA's path length constraint; -1 when there is none
	Key         PublicKey
	KeyUsage    []string // key usage bits by their RFC 5280 names ("digitalSignature", "cRLSign", ...)
	ExtKeyUsage []string // extended key usages by name ("serverAuth", "ikeIntermediate", ...) or dotted OID
	// Flags are the words of swanctl's "flags:" line, in its order: CA,
	// CRLSign, ocspSigning, serverAuth, clientAuth, ikeIntermediate,
	// msSmartcardLogon, self-signed.
	Flags      []string
	SelfSigned bool // issuer equals subject and the certificate's own key verifies its signature
	// IKECompliant is strongSwan's X509_IKE_COMPLIANT (RFC 4945): no key
	// usage extension, or one with digitalSignature or nonRepudiation.
	// swanctl prints no word for it, but its "flags:" line appears (empty
	// when no other flag is set).
	IKECompliant   bool
	SubjectKeyID   []byte // the extension's, or like strongSwan the key's SHA-1 (Key.SubjKey) when absent
	AuthorityKeyID []byte // nil when the extension is absent
	CRLURIs        []string
	OCSPURIs       []string
	SHA1, SHA256   []byte // fingerprints of Raw
}

// PublicKey describes a public key as swanctl's "pubkey:" lines do.
type PublicKey struct {
	Raw   []byte // SubjectPublicKeyInfo DER
	Type  string // RSA, ECDSA, ED25519, ED448 or DSA; the algorithm's dotted OID otherwise
	Bits  int    // key size as strongSwan counts it (modulus bits, curve size, 256 for Ed25519, 456 for Ed448)
	Curve string // ECDSA only: the curve's name ("prime256v1", "secp384r1", ...) or dotted OID
	// KeyID is the SHA-1 of the SubjectPublicKeyInfo (swanctl's "keyid"),
	// SubjKey the SHA-1 of the key bits alone (swanctl's "subjkey", what
	// pki puts into a subjectKeyIdentifier).
	KeyID, SubjKey []byte
	SHA256         []byte // SHA-256 of Raw
}

// CRL is what vicish shows of a certificate revocation list.
type CRL struct {
	Raw                    []byte
	Issuer                 string
	Number                 []byte    // the cRLNumber's bytes as encoded; nil when absent
	DeltaBase              []byte    // a delta CRL's base CRL number; nil for a full CRL
	ThisUpdate, NextUpdate time.Time // NextUpdate is zero when absent
	AuthorityKeyID         []byte
	Revoked                []Revoked
	SHA1, SHA256           []byte
}

// Revoked is one entry of a CRL.
type Revoked struct {
	Serial []byte    // as encoded, without a sign byte
	Time   time.Time // revocation date
	Reason string    // strongSwan's name of the reason code ("unspecified" when absent)
}

// Object is what Parse found: Kind says which of Cert, CRL and Key is set.
type Object struct {
	Kind string
	Cert *Certificate
	CRL  *CRL
	Key  *PublicKey
}

// Parse decodes a certificate, a CRL or a public key given as DER or PEM
// (the first PEM block is used). It tries them in that order and reports
// why the data is none of them.
func Parse(data []byte) (Object, error) {
	der, label, err := Decode(data)
	if err != nil {
		return Object{}, err
	}
	switch label {
	case "X509 CRL":
		c, err := ParseCRL(der)
		return Object{Kind: KindCRL, CRL: c}, err
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		k, err := ParsePublicKey(der)
		return Object{Kind: KindPubkey, Key: k}, err
	case "CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE":
		c, err := ParseCertificate(der)
		return Object{Kind: KindCert, Cert: c}, err
	case "":
	default:
		return Object{}, fmt.Errorf("PEM block %q is not a certificate, CRL or public key", label)
	}
	cert, certErr := ParseCertificate(der)
	if certErr == nil {
		return Object{Kind: KindCert, Cert: cert}, nil
	}
	if crl, err := ParseCRL(der); err == nil {
		return Object{Kind: KindCRL, CRL: crl}, nil
	}
	if key, err := ParsePublicKey(der); err == nil {
		return Object{Kind: KindPubkey, Key: key}, nil
	}
	return Object{}, fmt.Errorf("not a certificate, CRL or public key (as a certificate: %v)", certErr)
}

// Decode returns the DER inside data: the first PEM block's bytes and its
// label when data is PEM (text before the block is skipped, as openssl
// does: openssl x509 -text writes the decoded certificate first), data
// itself and "" otherwise. Text that starts like PEM but has no complete
// block is an error.
func Decode(data []byte) (der []byte, label string, err error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] != 0x30 { // not a DER SEQUENCE
		if i := bytes.Index(trimmed, []byte("\n-----BEGIN")); i >= 0 {
			trimmed = trimmed[i+1:]
		}
	}
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		if len(data) == 0 {
			return nil, "", errors.New("no data")
		}
		return data, "", nil
	}
	block, _ := pem.Decode(trimmed)
	if block == nil {
		return nil, "", errors.New("PEM text without a complete block (BEGIN/END lines and base64 between them)")
	}
	return block.Bytes, block.Type, nil
}

// PEM returns the PEM text of a DER certificate, CRL or public key, with
// the label its kind takes ("CERTIFICATE", "X509 CRL", "PUBLIC KEY"), as
// swanctl --list-certs --pem prints it.
func PEM(der []byte) (string, error) {
	obj, err := Parse(der)
	if err != nil {
		return "", err
	}
	label, raw := "CERTIFICATE", der
	switch obj.Kind {
	case KindCRL:
		label = "X509 CRL"
	case KindPubkey:
		label, raw = "PUBLIC KEY", obj.Key.Raw
	case KindCert:
		raw = obj.Cert.Raw
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: label, Bytes: raw})), nil
}

// Hex writes b as lowercase hex bytes separated by colons, as swanctl
// prints serials and key identifiers ("01:a3:ff"); "" for no bytes.
func Hex(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	var s strings.Builder
	s.Grow(3*len(b) - 1)
	for i, c := range b {
		if i > 0 {
			s.WriteByte(':')
		}
		s.WriteString(hex.EncodeToString([]byte{c}))
	}
	return s.String()
}

// ParseCertificate decodes one DER X.509 certificate.
func ParseCertificate(der []byte) (*Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	serial, err := certSerial(c.RawTBSCertificate)
	if err != nil {
		return nil, err
	}
	key, err := ParsePublicKey(c.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, fmt.Errorf("subject public key: %w", err)
	}
	out := &Certificate{
		Raw:            c.Raw,
		Subject:        formatDN(c.RawSubject),
		Issuer:         formatDN(c.RawIssuer),
		Serial:         serial,
		NotBefore:      c.NotBefore,
		NotAfter:       c.NotAfter,
		IsCA:           c.BasicConstraintsValid && c.IsCA,
		PathLen:        -1,
		Key:            *key,
		KeyUsage:       keyUsages(c.KeyUsage),
		SubjectKeyID:   c.SubjectKeyId,
		AuthorityKeyID: c.AuthorityKeyId,
		CRLURIs:        c.CRLDistributionPoints,
		OCSPURIs:       c.OCSPServer,
	}
	if out.IsCA && (c.MaxPathLen > 0 || c.MaxPathLenZero) {
		out.PathLen = c.MaxPathLen
	}
	for _, e := range c.Extensions {
		switch {
		case e.Id.String() == oidSubjectAltName:
			out.AltNames = altNames(e.Value)
		case e.Id.String() == oidExtKeyUsage:
			out.ExtKeyUsage = extKeyUsages(e.Value)
		}
	}
	if out.SubjectKeyID == nil {
		out.SubjectKeyID = key.SubjKey // strongSwan's fallback when the extension is absent
	}
	out.SelfSigned = bytes.Equal(c.RawIssuer, c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
	out.Flags = flags(out, c.KeyUsage)
	out.IKECompliant = !hasExtension(c, oidKeyUsage) ||
		c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) != 0
	out.SHA1, out.SHA256 = fingerprints(c.Raw)
	return out, nil
}

// hasExtension reports whether c carries the extension with that dotted OID.
func hasExtension(c *x509.Certificate, oid string) bool {
	for _, e := range c.Extensions {
		if e.Id.String() == oid {
			return true
		}
	}
	return false
}

// ParseCRL decodes one DER certificate revocation list.
func ParseCRL(der []byte) (*CRL, error) {
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, err
	}
	out := &CRL{
		Raw:            rl.Raw,
		Issuer:         formatDN(rl.RawIssuer),
		ThisUpdate:     rl.ThisUpdate,
		NextUpdate:     rl.NextUpdate,
		AuthorityKeyID: rl.AuthorityKeyId,
		Revoked:        make([]Revoked, 0, len(rl.RevokedCertificateEntries)),
	}
	for _, e := range rl.Extensions {
		switch {
		case e.Id.String() == oidCRLNumber:
			out.Number = integerBytes(e.Value)
		case e.Id.String() == oidDeltaCRLIndicator:
			out.DeltaBase = integerBytes(e.Value)
		}
	}
	for _, e := range rl.RevokedCertificateEntries {
		serial := entrySerial(e.Raw)
		if serial == nil {
			serial = e.SerialNumber.Bytes()
		}
		out.Revoked = append(out.Revoked, Revoked{Serial: serial, Time: e.RevocationTime, Reason: reasonName(e.ReasonCode)})
	}
	out.SHA1, out.SHA256 = fingerprints(rl.Raw)
	return out, nil
}

// ParsePublicKey decodes a DER SubjectPublicKeyInfo, or a PKCS#1
// RSAPublicKey, which it wraps into one.
func ParsePublicKey(der []byte) (*PublicKey, error) {
	var spki struct {
		Algorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue `asn1:"optional"`
		}
		PublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(der, &spki)
	if err != nil || len(rest) > 0 {
		var rsa rsaKey
		// exactly two positive integers: a PKCS#1 private key starts
		// with the same (its version 0, then the modulus)
		if r, err2 := asn1.Unmarshal(der, &rsa); err2 == nil && len(r) == 0 && rsa.N != nil && rsa.N.Sign() > 0 && rsa.E.Sign() > 0 {
			if again, err := asn1.Marshal(rsa); err == nil && bytes.Equal(again, der) {
				return ParsePublicKey(wrapPKCS1(der))
			}
		}
		if err == nil {
			err = errors.New("trailing data after the key")
		}
		return nil, fmt.Errorf("not a public key: %w", err)
	}
	k := &PublicKey{Raw: der}
	bits := spki.PublicKey.RightAlign()
	switch alg := spki.Algorithm.Algorithm.String(); alg {
	case oidRSA, oidRSAPSS:
		var rsa rsaKey
		if _, err := asn1.Unmarshal(bits, &rsa); err != nil || rsa.N == nil || rsa.N.Sign() <= 0 {
			return nil, fmt.Errorf("RSA key: bad modulus: %v", err)
		}
		k.Type, k.Bits = "RSA", rsa.N.BitLen()
	case oidECPublicKey:
		var named asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(spki.Algorithm.Parameters.FullBytes, &named); err == nil {
			k.Curve, k.Bits = curve(named.String())
			if k.Curve == "" {
				k.Curve = named.String()
			}
		}
		if k.Bits == 0 && len(bits) > 1 {
			k.Bits = (len(bits) - 1) / 2 * 8 // uncompressed point: 04 || X || Y
		}
		k.Type = "ECDSA"
	case oidEd25519:
		k.Type, k.Bits = "ED25519", 256
	case oidEd448:
		k.Type, k.Bits = "ED448", 456
	case oidDSA:
		k.Type = "DSA"
		var p struct{ P, Q, G *big.Int }
		if _, err := asn1.Unmarshal(spki.Algorithm.Parameters.FullBytes, &p); err == nil && p.P != nil {
			k.Bits = p.P.BitLen()
		}
	default:
		k.Type = alg
	}
	keyID := sha1.Sum(der)
	subj := sha1.Sum(bits)
	sum := sha256.Sum256(der)
	k.KeyID, k.SubjKey, k.SHA256 = keyID[:], subj[:], sum[:]
	return k, nil
}

type rsaKey struct{ N, E *big.Int }

// wrapPKCS1 puts a PKCS#1 RSAPublicKey into a SubjectPublicKeyInfo.
func wrapPKCS1(der []byte) []byte {
	spki := struct {
		Algorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue
		}
		PublicKey asn1.BitString
	}{}
	spki.Algorithm.Algorithm = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	spki.Algorithm.Parameters = asn1.NullRawValue
	spki.PublicKey = asn1.BitString{Bytes: der, BitLength: 8 * len(der)}
	out, _ := asn1.Marshal(spki) // only well-formed values: cannot fail
	return out
}

// Object identifiers, dotted (compared with ObjectIdentifier.String).
const (
	oidSubjectAltName    = "2.5.29.17"
	oidExtKeyUsage       = "2.5.29.37"
	oidKeyUsage          = "2.5.29.15"
	oidCRLNumber         = "2.5.29.20"
	oidDeltaCRLIndicator = "2.5.29.27"
	oidRSA               = "1.2.840.113549.1.1.1"
	oidRSAPSS            = "1.2.840.113549.1.1.10"
	oidECPublicKey       = "1.2.840.10045.2.1"
	oidEd25519           = "1.3.101.112"
	oidEd448             = "1.3.101.113"
	oidDSA               = "1.2.840.10040.4.1"
	oidXMPPAddr          = "1.3.6.1.5.5.7.8.5"
	oidUPN               = "1.3.6.1.4.1.311.20.2.3"
)

// curve returns the name strongSwan prints for a named curve and the key
// size it reports; "" and 0 for a curve it does not name.
func curve(oid string) (string, int) {
	switch oid {
	case "1.2.840.10045.3.1.1":
		return "prime192v1", 192
	case "1.3.132.0.33":
		return "secp224r1", 224
	case "1.2.840.10045.3.1.7":
		return "prime256v1", 256
	case "1.3.132.0.34":
		return "secp384r1", 384
	case "1.3.132.0.35":
		return "secp521r1", 521
	case "1.3.36.3.3.2.8.1.1.7":
		return "brainpoolP256r1", 256
	case "1.3.36.3.3.2.8.1.1.11":
		return "brainpoolP384r1", 384
	case "1.3.36.3.3.2.8.1.1.13":
		return "brainpoolP512r1", 512
	}
	return "", 0
}

// keyUsages names the key usage bits set, in bit order.
func keyUsages(ku x509.KeyUsage) []string {
	names := [...]string{"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
		"keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"}
	var out []string
	for i, name := range names {
		if ku&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	return out
}

// extKeyUsageName names a key purpose; unknown ones keep their dotted OID.
func extKeyUsageName(oid string) string {
	switch oid {
	case "2.5.29.37.0":
		return "anyExtendedKeyUsage"
	case "1.3.6.1.5.5.7.3.1":
		return "serverAuth"
	case "1.3.6.1.5.5.7.3.2":
		return "clientAuth"
	case "1.3.6.1.5.5.7.3.3":
		return "codeSigning"
	case "1.3.6.1.5.5.7.3.4":
		return "emailProtection"
	case "1.3.6.1.5.5.7.3.5":
		return "ipsecEndSystem"
	case "1.3.6.1.5.5.7.3.6":
		return "ipsecTunnel"
	case "1.3.6.1.5.5.7.3.7":
		return "ipsecUser"
	case "1.3.6.1.5.5.7.3.8":
		return "timeStamping"
	case "1.3.6.1.5.5.7.3.9":
		return "ocspSigning"
	case "1.3.6.1.5.5.7.3.17":
		return "ipsecIKE"
	case "1.3.6.1.5.5.8.2.2":
		return "ikeIntermediate"
	case "1.3.6.1.4.1.311.20.2.2":
		return "msSmartcardLogon"
	}
	return oid
}

// flags computes swanctl's flags line from what strongSwan derives them
// from: basicConstraints, the cRLSign key usage, the extended key usages
// and self-signature.
func flags(c *Certificate, ku x509.KeyUsage) []string {
	var out []string
	has := func(eku string) bool {
		for _, e := range c.ExtKeyUsage {
			if e == eku {
				return true
			}
		}
		return false
	}
	if c.IsCA {
		out = append(out, "CA")
	}
	if ku&x509.KeyUsageCRLSign != 0 {
		out = append(out, "CRLSign")
	}
	for _, eku := range []string{"ocspSigning", "serverAuth", "clientAuth", "ikeIntermediate", "msSmartcardLogon"} {
		if has(eku) {
			out = append(out, eku)
		}
	}
	if c.SelfSigned {
		out = append(out, "self-signed")
	}
	return out
}

// reasonName is strongSwan's name of a CRL reason code.
func reasonName(code int) string {
	names := []string{"unspecified", "key compromise", "ca compromise", "affiliation changed", "superseded",
		"cessation of operation", "certificate hold", "reason #7", "remove from crl"}
	if code >= 0 && code < len(names) {
		return names[code]
	}
	return fmt.Sprintf("reason #%d", code)
}

func fingerprints(der []byte) (s1, s256 []byte) {
	a, b := sha1.Sum(der), sha256.Sum256(der)
	return a[:], b[:]
}
