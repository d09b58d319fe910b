package x509

import (
	"encoding/asn1"
	"errors"
	"net"
)

// Walks of the raw DER encoding, where crypto/x509 drops something
// strongSwan shows: the serial as encoded, subject alternative names in
// certificate order, the extended key usages in order.

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
			out = append(out, formatDN(gn.Bytes))
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
