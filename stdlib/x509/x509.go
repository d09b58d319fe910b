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
	"net"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
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
		Subject:        FormatDN(c.RawSubject),
		Issuer:         FormatDN(c.RawIssuer),
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
		Issuer:         FormatDN(rl.RawIssuer),
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

// dnName is strongSwan's abbreviation of a distinguished name attribute
// (its oid.txt); other attributes are written as strongSwan writes them,
// the hex bytes of the encoded OID ("2a:03:04" for 1.2.3.4).
func dnName(oid asn1.ObjectIdentifier) string {
	switch oid.String() {
	case "2.5.4.3":
		return "CN"
	case "2.5.4.4":
		return "SN"
	case "2.5.4.5":
		return "serialNumber"
	case "2.5.4.6":
		return "C"
	case "2.5.4.7":
		return "L"
	case "2.5.4.8":
		return "ST"
	case "2.5.4.9":
		return "STREET"
	case "2.5.4.10":
		return "O"
	case "2.5.4.11":
		return "OU"
	case "2.5.4.12":
		return "T"
	case "2.5.4.13":
		return "D"
	case "2.5.4.16":
		return "postalAddress"
	case "2.5.4.17":
		return "postalCode"
	case "2.5.4.41":
		return "N"
	case "2.5.4.42":
		return "G"
	case "2.5.4.43":
		return "I"
	case "2.5.4.45":
		return "ID"
	case "2.5.4.46":
		return "dnQualifier"
	case "2.5.4.54":
		return "dmdName"
	case "2.5.4.65":
		return "pseudonym"
	case "2.5.4.72":
		return "role"
	case "1.2.840.113549.1.9.1":
		return "E"
	case "1.2.840.113549.1.9.2":
		return "unstructuredName"
	case "1.2.840.113549.1.9.8":
		return "unstructuredAddress"
	case "0.9.2342.19200300.100.1.1":
		return "UID"
	case "0.9.2342.19200300.100.1.25":
		return "DC"
	case "0.2.262.1.10.7.20":
		return "ND"
	}
	var raw asn1.RawValue
	if der, err := asn1.Marshal(oid); err == nil {
		if _, err := asn1.Unmarshal(der, &raw); err == nil {
			return Hex(raw.Bytes)
		}
	}
	return oid.String()
}

type attribute struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// rdnSET is one relative distinguished name (the name's suffix tells
// encoding/asn1 it is a SET OF).
type rdnSET []attribute

// FormatDN writes a DER distinguished name the way strongSwan does: every
// attribute in encoded order, "name=value", separated by ", ". A name that
// does not decode is shown as hex.
func FormatDN(der []byte) string {
	var seq []rdnSET
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) > 0 {
		return "#" + hex.EncodeToString(der)
	}
	var b strings.Builder
	for _, rdn := range seq {
		for _, a := range rdn {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(dnName(a.Type))
			b.WriteByte('=')
			b.WriteString(attrValue(a.Value))
		}
	}
	return b.String()
}

// attrValue renders one attribute value: string types as text, anything
// else as "#" and the hex of its encoding.
func attrValue(v asn1.RawValue) string {
	if v.Class != asn1.ClassUniversal {
		return "#" + hex.EncodeToString(v.FullBytes)
	}
	switch v.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagT61String,
		asn1.TagNumericString, 26 /* VisibleString */ :
		return printable(string(v.Bytes))
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			break
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return printable(string(utf16.Decode(u)))
	case 28: // UniversalString: UTF-32BE
		if len(v.Bytes)%4 != 0 {
			break
		}
		r := make([]rune, len(v.Bytes)/4)
		for i := range r {
			b := v.Bytes[4*i:]
			r[i] = rune(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
		}
		return printable(string(r))
	}
	return "#" + hex.EncodeToString(v.FullBytes)
}

// printable keeps UTF-8 text and replaces each byte of a control
// character or of invalid UTF-8 with '?', so a name cannot break the line
// it is printed on.
func printable(s string) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n <= 1 || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			b.WriteString(strings.Repeat("?", n))
		} else {
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

// ASCII replaces every byte outside printable ASCII with '?', turning the
// Subject, Issuer and AltNames of this package into the text swanctl
// prints (strongSwan's chunk_printable): "O=Zürich" becomes "O=Z??rich".
func ASCII(s string) string {
	if isPlain(s) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c >= 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}

func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// certSerial returns the serial number's content bytes from a
// TBSCertificate, exactly as encoded.
func certSerial(tbs []byte) ([]byte, error) {
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(tbs, &seq); err != nil {
		return nil, err
	}
	var first asn1.RawValue
	rest, err := asn1.Unmarshal(seq.Bytes, &first)
	if err != nil {
		return nil, err
	}
	if first.Class == asn1.ClassContextSpecific && first.Tag == 0 { // [0] version
		if _, err := asn1.Unmarshal(rest, &first); err != nil {
			return nil, err
		}
	}
	if first.Class != asn1.ClassUniversal || first.Tag != asn1.TagInteger {
		return nil, errors.New("certificate has no serial number")
	}
	return skipZero(first.Bytes), nil
}

// skipZero drops the sign byte DER puts before an integer whose first
// bit is set, as strongSwan does before printing serials.
func skipZero(b []byte) []byte {
	if len(b) > 1 && b[0] == 0 {
		return b[1:]
	}
	return b
}

// entrySerial returns the serial of a CRL entry (SEQUENCE {INTEGER, ...})
// as encoded, or nil.
func entrySerial(raw []byte) []byte {
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(raw, &seq); err != nil {
		return nil
	}
	var serial asn1.RawValue
	if _, err := asn1.Unmarshal(seq.Bytes, &serial); err != nil || serial.Tag != asn1.TagInteger {
		return nil
	}
	return skipZero(serial.Bytes)
}

// integerBytes returns the content bytes of a DER INTEGER, or nil.
func integerBytes(der []byte) []byte {
	var v asn1.RawValue
	if _, err := asn1.Unmarshal(der, &v); err != nil || v.Class != asn1.ClassUniversal || v.Tag != asn1.TagInteger {
		return nil
	}
	return skipZero(v.Bytes)
}

// altNames decodes a subjectAltName extension in order, keeping the kinds
// of name strongSwan uses.
func altNames(ext []byte) []string {
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(ext, &seq); err != nil {
		return nil
	}
	var out []string
	rest := seq.Bytes
	for len(rest) > 0 {
		var gn asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
			break
		}
		if gn.Class != asn1.ClassContextSpecific {
			continue
		}
		switch gn.Tag {
		case 1, 2, 6: // rfc822Name, dNSName, uniformResourceIdentifier
			out = append(out, printable(string(gn.Bytes)))
		case 4: // directoryName: explicit Name
			out = append(out, FormatDN(gn.Bytes))
		case 7: // iPAddress
			if len(gn.Bytes) == net.IPv4len || len(gn.Bytes) == net.IPv6len {
				out = append(out, net.IP(gn.Bytes).String())
			}
		case 0: // otherName: xmppAddr and UPN count as email addresses
			var on struct {
				Type  asn1.ObjectIdentifier
				Value asn1.RawValue `asn1:"explicit,tag:0"`
			}
			if _, err := asn1.UnmarshalWithParams(gn.FullBytes, &on, "tag:0"); err != nil {
				continue
			}
			if (on.Type.String() == oidXMPPAddr || on.Type.String() == oidUPN) && on.Value.Tag == asn1.TagUTF8String {
				out = append(out, printable(string(on.Value.Bytes)))
			}
		}
	}
	return out
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

// extKeyUsages decodes an extendedKeyUsage extension in order.
func extKeyUsages(ext []byte) []string {
	var oids []asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(ext, &oids); err != nil {
		return nil
	}
	out := make([]string, 0, len(oids))
	for _, oid := range oids {
		out = append(out, extKeyUsageName(oid.String()))
	}
	return out
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
