package table

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"

	"go.starlark.net/starlark"
)

// writeCerts renders what vici.list_certs returns as swanctl --list-certs
// does: a caption whenever the kind of certificate changes ("List of X.509
// CA Certificates"), then each certificate decoded — subject, issuer,
// validity, serial, subject alternative names, flags, CRL and OCSP URIs,
// path length, key identifiers and public key — or each CRL with its
// revoked certificates. Times are local, as swanctl shows them.
func writeCerts(w *strings.Builder, data starlark.Value) error {
	evs, err := events(data, "vici.list_certs")
	if err != nil {
		return err
	}
	// strongSwan counts in whole seconds.
	now := time.Unix(time.Now().Unix(), 0)
	var lastCaption string
	for i, ev := range evs {
		typ, flag := find(ev, "ANY", "type"), find(ev, "ANY", "flag")
		der, ok := certData(ev)
		if !ok {
			return fmt.Errorf("certificate %d has no data", i)
		}
		var caption string
		switch typ {
		case "X509":
			caption = map[string]string{"NONE": "X.509 End Entity Certificate", "CA": "X.509 CA Certificate",
				"AA": "X.509 AA Certificate", "OCSP": "X.509 OCSP Signer Certificate"}[flag]
			if caption == "" {
				return fmt.Errorf("certificate %d: unsupported certificate flag '%s'", i, flag)
			}
		case "X509_CRL":
			caption = "X.509 CRL"
		default:
			return fmt.Errorf("certificate %d: %s certificates are not rendered (X509 and X509_CRL are)", i, typ)
		}
		if caption != lastCaption {
			fmt.Fprintf(w, "\nList of %ss\n", caption)
			lastCaption = caption
		}
		w.WriteString("\n")
		if typ == "X509_CRL" {
			if err := writeCRL(w, der, now); err != nil {
				return fmt.Errorf("certificate %d: %w", i, err)
			}
			continue
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("certificate %d: %w", i, err)
		}
		writeX509(w, cert, find(ev, "no", "has_privkey") == "yes", now)
	}
	return nil
}

// certData returns the DER data of a list-cert event.
func certData(ev starlark.Mapping) ([]byte, bool) {
	v, found, _ := lookup(ev, "data")
	if !found {
		return nil, false
	}
	switch v := v.(type) {
	case starlark.Bytes:
		return []byte(v), true
	case starlark.String:
		return []byte(v), true
	}
	return nil, false
}

// hexColon formats b as strongSwan's %#B: lower-case hex bytes joined by ":".
func hexColon(b []byte) string {
	var s strings.Builder
	for i, c := range b {
		if i > 0 {
			s.WriteByte(':')
		}
		fmt.Fprintf(&s, "%02x", c)
	}
	return s.String()
}

// strongTime formats t as strongSwan's %T in local time: "Nov 29 12:42:52 2026".
func strongTime(t time.Time) string {
	t = t.Local()
	return fmt.Sprintf("%s %02d %02d:%02d:%02d %04d", t.Month().String()[:3], t.Day(), t.Hour(), t.Minute(), t.Second(), t.Year())
}

// strongDelta formats the distance between a and b as strongSwan's %V:
// seconds, minutes, hours or days, whichever keeps the number above two.
func strongDelta(a, b time.Time) string {
	d := int64(a.Sub(b) / time.Second)
	if d < 0 {
		d = -d
	}
	unit := "second"
	switch {
	case d > 2*60*60*24:
		d, unit = d/(60*60*24), "day"
	case d > 2*60*60:
		d, unit = d/(60*60), "hour"
	case d > 2*60:
		d, unit = d/60, "minute"
	}
	if d != 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d %s", d, unit)
}

// writeValidity writes the two validity lines of a certificate or the two
// update lines of a CRL.
func writeValidity(w *strings.Builder, label, first, second string, notBefore, notAfter, now time.Time) {
	fmt.Fprintf(w, "  %s  %s %s, ", label, first, strongTime(notBefore))
	if now.Before(notBefore) {
		fmt.Fprintf(w, "not valid yet (valid in %s)\n", strongDelta(now, notBefore))
	} else {
		w.WriteString("ok\n")
	}
	fmt.Fprintf(w, "             %s %s, ", second, strongTime(notAfter))
	if now.After(notAfter) {
		fmt.Fprintf(w, "expired (%s ago)\n", strongDelta(now, notAfter))
	} else {
		fmt.Fprintf(w, "ok (expires in %s)\n", strongDelta(now, notAfter))
	}
}

// Object identifiers strongSwan looks for.
var (
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidSubjectAltName   = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidDeltaCRL         = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIKEIntermediate  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 8, 2, 2}
	oidMSSmartcardLogon = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 2}
)

// writeX509 writes one X.509 certificate as strongSwan's certificate
// printer does in its detailed form.
func writeX509(w *strings.Builder, c *x509.Certificate, hasPrivkey bool, now time.Time) {
	fmt.Fprintf(w, "  subject:  \"%s\"\n", dnText(c.RawSubject))
	fmt.Fprintf(w, "  issuer:   \"%s\"\n", dnText(c.RawIssuer))
	writeValidity(w, "validity:", "not before", "not after ", c.NotBefore, c.NotAfter, now)
	fmt.Fprintf(w, "  serial:    %s\n", hexColon(serialBytes(c.SerialNumber)))
	if names := altNames(c); len(names) > 0 {
		fmt.Fprintf(w, "  altNames:  %s\n", strings.Join(names, ", "))
	}

	var flags strings.Builder
	isCA := c.BasicConstraintsValid && c.IsCA
	if isCA {
		flags.WriteString("CA ")
	}
	if hasExtension(c, oidKeyUsage) && c.KeyUsage&x509.KeyUsageCRLSign != 0 ||
		!hasExtension(c, oidKeyUsage) && isCA {
		flags.WriteString("CRLSign ")
	}
	eku := map[string]bool{}
	for _, u := range c.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageServerAuth:
			eku["serverAuth"] = true
		case x509.ExtKeyUsageClientAuth:
			eku["clientAuth"] = true
		case x509.ExtKeyUsageOCSPSigning:
			eku["ocspSigning"] = true
		}
	}
	for _, u := range c.UnknownExtKeyUsage {
		switch {
		case u.Equal(oidIKEIntermediate):
			eku["ikeIntermediate"] = true
		case u.Equal(oidMSSmartcardLogon):
			eku["msSmartcardLogon"] = true
		}
	}
	for _, name := range []string{"ocspSigning", "serverAuth", "clientAuth", "ikeIntermediate"} {
		if eku[name] {
			flags.WriteString(name + " ")
		}
	}
	if eku["msSmartcardLogon"] {
		flags.WriteString("msSmartcardLogon") // strongSwan prints no space after this one
	}
	if bytes.Equal(c.RawIssuer, c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil {
		flags.WriteString("self-signed ")
	}
	if flags.Len() > 0 {
		fmt.Fprintf(w, "  flags:     %s\n", flags.String())
	}
	for i, uri := range c.CRLDistributionPoints {
		if i == 0 {
			fmt.Fprintf(w, "  CRL URIs:  %s\n", uri)
		} else {
			fmt.Fprintf(w, "             %s\n", uri)
		}
	}
	for i, uri := range c.OCSPServer {
		if i == 0 {
			fmt.Fprintf(w, "  OCSP URIs: %s\n", uri)
		} else {
			fmt.Fprintf(w, "             %s\n", uri)
		}
	}
	if isCA && (c.MaxPathLen > 0 || c.MaxPathLenZero) {
		fmt.Fprintf(w, "  pathlen:   %d\n", c.MaxPathLen)
	}
	if len(c.AuthorityKeyId) > 0 {
		fmt.Fprintf(w, "  authkeyId: %s\n", hexColon(c.AuthorityKeyId))
	}
	keyBits := publicKeyBits(c.RawSubjectPublicKeyInfo)
	if len(c.SubjectKeyId) > 0 {
		fmt.Fprintf(w, "  subjkeyId: %s\n", hexColon(c.SubjectKeyId))
	} else if keyBits != nil {
		sum := sha1.Sum(keyBits)
		fmt.Fprintf(w, "  subjkeyId: %s\n", hexColon(sum[:]))
	}
	writePubkey(w, c.PublicKey, c.RawSubjectPublicKeyInfo, keyBits, hasPrivkey)
}

// writePubkey writes the public key lines: type and size, and its two
// SHA-1 key identifiers (of the whole SubjectPublicKeyInfo, and of the
// key itself).
func writePubkey(w *strings.Builder, pub any, spki, keyBits []byte, hasPrivkey bool) {
	var typ string
	var size int
	switch k := pub.(type) {
	case *rsa.PublicKey:
		typ, size = "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		typ, size = "ECDSA", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		typ, size = "ED25519", 256
	default:
		return
	}
	fmt.Fprintf(w, "  pubkey:    %s %d bits", typ, size)
	if hasPrivkey {
		w.WriteString(", has private key")
	}
	w.WriteString("\n")
	sum := sha1.Sum(spki)
	fmt.Fprintf(w, "  keyid:     %s\n", hexColon(sum[:]))
	if keyBits != nil {
		sum = sha1.Sum(keyBits)
		fmt.Fprintf(w, "  subjkey:   %s\n", hexColon(sum[:]))
	}
}

// publicKeyBits returns the subjectPublicKey bits of a SubjectPublicKeyInfo.
func publicKeyBits(spki []byte) []byte {
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil
	}
	return info.PublicKey.Bytes
}

// serialBytes returns a serial number's bytes without leading zeros.
func serialBytes(n *big.Int) []byte {
	if n == nil {
		return nil
	}
	return n.Bytes()
}

func hasExtension(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}

// altNames returns the subject alternative names in the order of the
// extension, formatted as strongSwan prints identities.
func altNames(c *x509.Certificate) []string {
	var raw []byte
	for _, e := range c.Extensions {
		if e.Id.Equal(oidSubjectAltName) {
			raw = e.Value
		}
	}
	var seq asn1.RawValue
	if raw == nil {
		return nil
	}
	if _, err := asn1.Unmarshal(raw, &seq); err != nil {
		return nil
	}
	var out []string
	for rest := seq.Bytes; len(rest) > 0; {
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
			out = append(out, printableOr(gn.Bytes, '?'))
		case 4: // directoryName
			out = append(out, dnText(gn.Bytes))
		case 7: // iPAddress
			if len(gn.Bytes) == net.IPv4len || len(gn.Bytes) == net.IPv6len {
				out = append(out, net.IP(gn.Bytes).String())
			}
		}
	}
	return out
}

// printableOr returns b with every byte outside printable ASCII replaced
// by sub, as strongSwan's chunk_printable does.
func printableOr(b []byte, sub byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = sub
		}
		out[i] = c
	}
	return string(out)
}

// dnNames are the attribute names strongSwan prints in distinguished names.
var dnNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.5": "serialNumber", "2.5.4.6": "C", "2.5.4.7": "L",
	"2.5.4.8": "ST", "2.5.4.9": "STREET", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.12": "T",
	"2.5.4.13": "D", "2.5.4.16": "postalAddress", "2.5.4.17": "postalCode", "2.5.4.41": "N",
	"2.5.4.42": "G", "2.5.4.43": "I", "2.5.4.45": "ID", "2.5.4.46": "dnQualifier",
	"2.5.4.54": "dmdName", "2.5.4.65": "pseudonym", "2.5.4.72": "role", "2.5.4.97": "organizationIdentifier",
	"1.2.840.113549.1.9.1": "E", "1.2.840.113549.1.9.2": "unstructuredName",
	"1.2.840.113549.1.9.8":      "unstructuredAddress",
	"0.9.2342.19200300.100.1.1": "UID", "0.9.2342.19200300.100.1.25": "DC",
	"0.2.262.1.10.7.20": "ND",
}

// dnText formats a DER distinguished name as strongSwan does:
// "C=CH, O=strongSwan, CN=moon.strongswan.org", attributes in encoded order,
// unknown attribute types as the hex bytes of their OID.
func dnText(der []byte) string {
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(der, &rdns); err != nil {
		return ""
	}
	var parts []string
	for _, set := range rdns {
		for _, atv := range set {
			name, ok := dnNames[atv.Type.String()]
			if !ok {
				enc, _ := asn1.Marshal(atv.Type)
				if len(enc) > 2 {
					enc = enc[2:]
				}
				name = hexColon(enc)
			}
			var value []byte
			switch v := atv.Value.(type) {
			case string:
				value = []byte(v)
			default:
				value = []byte(fmt.Sprint(v))
			}
			parts = append(parts, name+"="+printableOr(value, '?'))
		}
	}
	return strings.Join(parts, ", ")
}

// crlReasons are strongSwan's names of CRL reason codes.
var crlReasons = []string{"unspecified", "key compromise", "ca compromise", "affiliation changed",
	"superseded", "cessation of operation", "certificate hold", "reason #7", "remove from crl"}

// writeCRL writes one certificate revocation list.
func writeCRL(w *strings.Builder, der []byte, now time.Time) error {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  issuer:   \"%s\"\n", dnText(crl.RawIssuer))
	if !crl.NextUpdate.IsZero() {
		writeValidity(w, "update:  ", "this on", "next on", crl.ThisUpdate, crl.NextUpdate, now)
	}
	fmt.Fprintf(w, "  serial:    %s\n", hexColon(serialBytes(crl.Number)))
	for _, e := range crl.Extensions {
		var base *big.Int
		if e.Id.Equal(oidDeltaCRL) {
			if _, err := asn1.Unmarshal(e.Value, &base); err == nil {
				fmt.Fprintf(w, "  delta CRL: for serial %s\n", hexColon(serialBytes(base)))
			}
		}
	}
	fmt.Fprintf(w, "  authKeyId: %s\n", hexColon(crl.AuthorityKeyId))
	revoked := crl.RevokedCertificateEntries
	plural, colon := "s", ""
	if len(revoked) == 1 {
		plural = ""
	}
	if len(revoked) > 0 {
		colon = ":"
	}
	fmt.Fprintf(w, "  %d revoked certificate%s%s\n", len(revoked), plural, colon)
	for _, r := range revoked {
		reason := "unspecified"
		if r.ReasonCode >= 0 && r.ReasonCode < len(crlReasons) {
			reason = crlReasons[r.ReasonCode]
		}
		fmt.Fprintf(w, "    %s: %s, %s\n", hexColon(serialBytes(r.SerialNumber)), strongTime(r.RevocationTime), reason)
	}
	return nil
}
