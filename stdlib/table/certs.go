package table

import (
	"fmt"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/stdlib/x509"
)

// writeCerts renders what vici.list_certs returns as swanctl --list-certs
// does (with its default plugins, which decode with the x509 plugin): a
// caption whenever the kind of certificate changes ("List of X.509 CA
// Certificates"), then each one decoded — subject, issuer, validity,
// serial, subject alternative names, flags, CRL and OCSP URIs, path
// length, key identifiers and public key; a CRL with its revoked
// certificates; a raw public key. Times are local, as swanctl shows them.
// With pem, each one is its PEM text instead (raw public keys are left
// out: swanctl fails on them).
// strongSwan 6 indents further CRL and OCSP URIs by 13 spaces (5.x by 11)
// and counts a CA certificate without a keyUsage extension as allowed to
// sign CRLs (its flags show CRLSign).
func writeCerts(w *strings.Builder, data starlark.Value, r *listRun) error {
	evs, err := events(data, "vici.list_certs")
	if err != nil {
		return err
	}
	// strongSwan counts in whole seconds.
	now := time.Unix(time.Now().Unix(), 0)
	st := certStyle{v6: r.v6, short: r.flags["short"], utc: r.flags["utc"]}
	var lastCaption string
	for i, ev := range evs {
		if err := r.tick(); err != nil {
			return err
		}
		if r.flags["pem"] {
			// --pem: each certificate's PEM text, nothing else. swanctl
			// cannot write a raw public key as PEM (it says so on stderr).
			if find(ev, "", "type") == x509.KindPubkey {
				continue
			}
			der, ok := certData(ev)
			if !ok {
				return fmt.Errorf("certificate %d: no data", i)
			}
			text, err := x509.PEM(der)
			if err != nil {
				return fmt.Errorf("certificate %d: %w", i, err)
			}
			w.WriteString(text)
			continue
		}
		if err := writeCert(w, ev, st, now, &lastCaption); err != nil {
			return fmt.Errorf("certificate %d: %w", i, err)
		}
	}
	return nil
}

// certStyle is how swanctl --list-certs prints: for a 6.x or a 5.x
// daemon, --short (no flags, URIs or path length; CRLs without their
// revoked certificates) and --utc (times in UTC).
type certStyle struct{ v6, short, utc bool }

// writeCert writes one list-cert event, preceded by a caption when it
// differs from the last one.
func writeCert(w *strings.Builder, ev starlark.Mapping, st certStyle, now time.Time, lastCaption *string) error {
	typ, flag := find(ev, "ANY", "type"), find(ev, "ANY", "flag")
	der, ok := certData(ev)
	if !ok {
		return fmt.Errorf("no data")
	}
	var caption string
	switch typ {
	case x509.KindCert:
		caption = map[string]string{"NONE": "X.509 End Entity Certificate", "CA": "X.509 CA Certificate",
			"AA": "X.509 AA Certificate", "OCSP": "X.509 OCSP Signer Certificate"}[flag]
		if caption == "" {
			return fmt.Errorf("unsupported certificate flag '%s'", flag)
		}
	case x509.KindCRL:
		caption = "X.509 CRL"
	case x509.KindPubkey:
		caption = "Raw Public Key"
	default:
		// swanctl decodes these too; vicish names them and goes on, so one
		// cached OCSP response does not hide the other certificates.
		caption = map[string]string{"X509_AC": "X.509 Attribute Certificate", "OCSP_RESPONSE": "OCSP Response",
			"OCSP_REQUEST": "OCSP Request", "PGP": "PGP End Entity Certificate"}[typ]
		if caption == "" {
			return fmt.Errorf("unsupported certificate type '%s'", typ)
		}
	}
	hasPrivkey := find(ev, "no", "has_privkey") == "yes"
	var body strings.Builder
	switch typ {
	default:
		fmt.Fprintf(&body, "  (%d bytes; vicish decodes X509, X509_CRL and PUBKEY, not %s)\n", len(der), typ)
	case x509.KindCert:
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		writeX509(&body, c, hasPrivkey, st, now)
	case x509.KindCRL:
		c, err := x509.ParseCRL(der)
		if err != nil {
			return err
		}
		writeCRL(&body, c, st, now)
	case x509.KindPubkey:
		k, err := x509.ParsePublicKey(der)
		if err != nil {
			return err
		}
		if err := writeRawKey(&body, ev, k, hasPrivkey, st, now); err != nil {
			return err
		}
	}
	if caption != *lastCaption {
		fmt.Fprintf(w, "\nList of %ss\n", caption)
		*lastCaption = caption
	}
	w.WriteString("\n")
	w.WriteString(body.String())
	return nil
}

// certData returns the DER data of a list-cert event.
func certData(ev starlark.Mapping) ([]byte, bool) {
	switch v, _, _ := lookup(ev, "data"); v := v.(type) {
	case starlark.Bytes:
		return []byte(v), true
	case starlark.String:
		return []byte(v), true
	}
	return nil, false
}

// time formats t as strongSwan's %T: local time, "Nov 29 12:42:52 2026",
// or with utc "Nov 29 12:42:52 UTC 2026".
func (st certStyle) time(t time.Time) string {
	zone := " "
	if st.utc {
		t, zone = t.UTC(), " UTC "
	} else {
		t = t.Local()
	}
	return fmt.Sprintf("%s %02d %02d:%02d:%02d%s%04d", t.Month().String()[:3], t.Day(), t.Hour(), t.Minute(), t.Second(), zone, t.Year())
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
func writeValidity(w *strings.Builder, st certStyle, label, first, second string, notBefore, notAfter, now time.Time) {
	fmt.Fprintf(w, "  %s  %s %s, ", label, first, st.time(notBefore))
	if now.Before(notBefore) {
		fmt.Fprintf(w, "not valid yet (valid in %s)\n", strongDelta(now, notBefore))
	} else {
		w.WriteString("ok\n")
	}
	fmt.Fprintf(w, "             %s %s, ", second, st.time(notAfter))
	if now.After(notAfter) {
		fmt.Fprintf(w, "expired (%s ago)\n", strongDelta(now, notAfter))
	} else {
		fmt.Fprintf(w, "ok (expires in %s)\n", strongDelta(now, notAfter))
	}
}

// writeURIs writes a labelled list of URIs, further ones indented under
// the first.
func writeURIs(w *strings.Builder, label string, uris []string, st certStyle) {
	indent := strings.Repeat(" ", 11)
	if st.v6 {
		indent = strings.Repeat(" ", 13)
	}
	for i, uri := range uris {
		if i == 0 {
			fmt.Fprintf(w, "  %s %s\n", label, uri)
		} else {
			fmt.Fprintf(w, "%s%s\n", indent, uri)
		}
	}
}

// writeX509 writes one X.509 certificate as strongSwan's certificate
// printer does in its detailed form.
func writeX509(w *strings.Builder, c *x509.Certificate, hasPrivkey bool, st certStyle, now time.Time) {
	fmt.Fprintf(w, "  subject:  \"%s\"\n", x509.ASCII(c.Subject))
	fmt.Fprintf(w, "  issuer:   \"%s\"\n", x509.ASCII(c.Issuer))
	writeValidity(w, st, "validity:", "not before", "not after ", c.NotBefore, c.NotAfter, now)
	fmt.Fprintf(w, "  serial:    %s\n", x509.Hex(c.Serial))
	if len(c.AltNames) > 0 {
		names := make([]string, len(c.AltNames))
		for i, n := range c.AltNames {
			names[i] = x509.ASCII(n)
		}
		fmt.Fprintf(w, "  altNames:  %s\n", strings.Join(names, ", "))
	}
	if !st.short {
		writeDetails(w, c, st)
	}
	if c.AuthorityKeyID != nil {
		fmt.Fprintf(w, "  authkeyId: %s\n", x509.Hex(c.AuthorityKeyID))
	}
	if len(c.SubjectKeyID) > 0 {
		fmt.Fprintf(w, "  subjkeyId: %s\n", x509.Hex(c.SubjectKeyID))
	}
	writePubkey(w, &c.Key, hasPrivkey)
}

// writeDetails writes what swanctl --list-certs --short leaves out: the
// flags, CRL and OCSP URIs and the path length.
func writeDetails(w *strings.Builder, c *x509.Certificate, st certStyle) {
	flags := c.Flags
	if st.v6 && c.IsCA && len(c.KeyUsage) == 0 {
		flags = append([]string{"CA", "CRLSign"}, flags[1:]...)
	}
	if len(flags) > 0 || c.IKECompliant {
		w.WriteString("  flags:     ")
		for _, f := range flags {
			w.WriteString(f)
			if f != "msSmartcardLogon" { // strongSwan writes no space after this one
				w.WriteString(" ")
			}
		}
		w.WriteString("\n")
	}
	writeURIs(w, "CRL URIs: ", c.CRLURIs, st)
	writeURIs(w, "OCSP URIs:", c.OCSPURIs, st)
	if c.PathLen >= 0 {
		fmt.Fprintf(w, "  pathlen:   %d\n", c.PathLen)
	}
}

// writePubkey writes the public key lines: type and size, and its two
// SHA-1 key identifiers.
func writePubkey(w *strings.Builder, k *x509.PublicKey, hasPrivkey bool) {
	fmt.Fprintf(w, "  pubkey:    %s %d bits", k.Type, k.Bits)
	if hasPrivkey {
		w.WriteString(", has private key")
	}
	w.WriteString("\n")
	fmt.Fprintf(w, "  keyid:     %s\n", x509.Hex(k.KeyID))
	fmt.Fprintf(w, "  subjkey:   %s\n", x509.Hex(k.SubjKey))
}

// writeCRL writes one certificate revocation list.
func writeCRL(w *strings.Builder, c *x509.CRL, st certStyle, now time.Time) {
	fmt.Fprintf(w, "  issuer:   \"%s\"\n", x509.ASCII(c.Issuer))
	if !c.NextUpdate.IsZero() {
		writeValidity(w, st, "update:  ", "this on", "next on", c.ThisUpdate, c.NextUpdate, now)
	}
	fmt.Fprintf(w, "  serial:    %s\n", x509.Hex(c.Number))
	if c.DeltaBase != nil {
		fmt.Fprintf(w, "  delta CRL: for serial %s\n", x509.Hex(c.DeltaBase))
	}
	fmt.Fprintf(w, "  authKeyId: %s\n", x509.Hex(c.AuthorityKeyID))
	plural, colon := "s", ""
	if len(c.Revoked) == 1 {
		plural = ""
	}
	if len(c.Revoked) > 0 && !st.short {
		colon = ":"
	}
	fmt.Fprintf(w, "  %d revoked certificate%s%s\n", len(c.Revoked), plural, colon)
	if st.short {
		return
	}
	for _, r := range c.Revoked {
		fmt.Fprintf(w, "    %s: %s, %s\n", x509.Hex(r.Serial), st.time(r.Time), r.Reason)
	}
}

// writeRawKey writes a raw (trusted) public key: its subject when the
// daemon has one, its validity when it has both ends, then the key.
func writeRawKey(w *strings.Builder, ev starlark.Mapping, k *x509.PublicKey, hasPrivkey bool, st certStyle, now time.Time) error {
	if s, ok := printable(mustGet(ev, "subject")); ok {
		fmt.Fprintf(w, "  subject:  \"%s\"\n", s)
	}
	nb, okB := printable(mustGet(ev, "not-before"))
	na, okA := printable(mustGet(ev, "not-after"))
	if okB && okA {
		notBefore, err := time.Parse("20060102150405Z", nb)
		if err != nil {
			return fmt.Errorf("not-before: %w", err)
		}
		notAfter, err := time.Parse("20060102150405Z", na)
		if err != nil {
			return fmt.Errorf("not-after: %w", err)
		}
		writeValidity(w, st, "validity:", "not before", "not after ", notBefore, notAfter, now)
	}
	writePubkey(w, k, hasPrivkey)
	return nil
}

// mustGet returns the value of key in m, or None.
func mustGet(m starlark.Mapping, key string) starlark.Value {
	if v, found, _ := lookup(m, key); found {
		return v
	}
	return starlark.None
}
