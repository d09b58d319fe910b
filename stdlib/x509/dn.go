package x509

import (
	"encoding/asn1"
	"encoding/hex"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Distinguished names, written as strongSwan writes them.

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

// formatDN writes a DER distinguished name the way strongSwan does: every
// attribute in encoded order, "name=value", separated by ", ". A name that
// does not decode is shown as hex.
func formatDN(der []byte) string {
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
