package x509

import (
	"fmt"
	"time"

	libtime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// NewModule returns the Starlark "x509" module:
//
//	x509.parse(data) → dict   data: DER bytes, PEM text, or a vici.list_certs() entry
//	x509.pem(data)   → str    the PEM text of a DER (or PEM) certificate, CRL or public key
//
// parse recognises certificates, CRLs and public keys; the dict's "type" is
// the list-certs type of what it found ("X509", "X509_CRL", "PUBKEY");
// help(x509) lists the keys (Spec).
func NewModule() *starlarkstruct.Module { return Spec().Build(nil) }

// dataArg reads the one argument of parse and pem: bytes, a str, or a dict
// with "data" (a vici.list_certs() entry).
func dataArg(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) ([]byte, error) {
	var v starlark.Value
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &v); err != nil {
		return nil, err
	}
	if m, ok := v.(starlark.Mapping); ok {
		if t, found, _ := m.Get(starlark.String("type")); found {
			switch t {
			case starlark.String("X509_AC"), starlark.String("OCSP_RESPONSE"), starlark.String("OCSP_REQUEST"), starlark.String("PGP"):
				return nil, fmt.Errorf("%s: %s entries are not decoded (certificates, CRLs and public keys are)", b.Name(), t.(starlark.String).GoString())
			}
		}
		d, found, err := m.Get(starlark.String("data"))
		if err != nil || !found {
			return nil, fmt.Errorf("%s: the dict has no \"data\" (give the DER bytes, PEM text or a vici.list_certs() entry)", b.Name())
		}
		v = d
	}
	switch v := v.(type) {
	case starlark.Bytes:
		return []byte(v), nil
	case starlark.String:
		return []byte(v), nil
	}
	return nil, fmt.Errorf("%s: got %s, want bytes (DER), str (PEM) or a vici.list_certs() entry", b.Name(), v.Type())
}

func parse(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	data, err := dataArg(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	obj, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	switch obj.Kind {
	case KindCRL:
		return crlDict(obj.CRL), nil
	case KindPubkey:
		return keyDict(obj.Key), nil
	}
	return certDict(obj.Cert), nil
}

func pemText(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	data, err := dataArg(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	der, _, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	text, err := PEM(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return starlark.String(text), nil
}

// dict builds a Starlark dict in the given key order.
type dict struct{ d *starlark.Dict }

func newDict() dict { return dict{starlark.NewDict(24)} }

func (d dict) set(k string, v starlark.Value) { _ = d.d.SetKey(starlark.String(k), v) } // fresh dict, str keys: cannot fail

func (d dict) str(k, v string)            { d.set(k, starlark.String(v)) }
func (d dict) strs(k string, v []string)  { d.set(k, strList(v)) }
func (d dict) hex(k string, v []byte)     { d.set(k, hexOrNone(v)) }
func (d dict) time(k string, t time.Time) { d.set(k, timeOrNone(t)) }

func strList(v []string) *starlark.List {
	items := make([]starlark.Value, len(v))
	for i, s := range v {
		items[i] = starlark.String(s)
	}
	return starlark.NewList(items)
}

func hexOrNone(b []byte) starlark.Value {
	if b == nil {
		return starlark.None
	}
	return starlark.String(Hex(b))
}

func timeOrNone(t time.Time) starlark.Value {
	if t.IsZero() {
		return starlark.None
	}
	return libtime.Time(t)
}

// certDict is x509.parse's dict of a certificate: type ("X509"), subject,
// issuer, serial, not_before, not_after (time values), alt_names, is_ca,
// path_len (None when unconstrained), key_type, key_size, key_curve (None
// unless ECDSA), key_usage, ext_key_usage, flags (swanctl's), self_signed,
// subject_key_id, authority_key_id (None when absent), crl_uris,
// ocsp_uris, keyid, subjkey, sha1, sha256. Byte strings are colon hex.
func certDict(c *Certificate) *starlark.Dict {
	d := newDict()
	d.str("type", KindCert)
	d.str("subject", c.Subject)
	d.str("issuer", c.Issuer)
	d.hex("serial", c.Serial)
	d.time("not_before", c.NotBefore)
	d.time("not_after", c.NotAfter)
	d.strs("alt_names", c.AltNames)
	d.set("is_ca", starlark.Bool(c.IsCA))
	if c.PathLen >= 0 {
		d.set("path_len", starlark.MakeInt(c.PathLen))
	} else {
		d.set("path_len", starlark.None)
	}
	keyFields(d, &c.Key)
	d.strs("key_usage", c.KeyUsage)
	d.strs("ext_key_usage", c.ExtKeyUsage)
	d.strs("flags", c.Flags)
	d.set("self_signed", starlark.Bool(c.SelfSigned))
	d.hex("subject_key_id", c.SubjectKeyID)
	d.hex("authority_key_id", c.AuthorityKeyID)
	d.strs("crl_uris", c.CRLURIs)
	d.strs("ocsp_uris", c.OCSPURIs)
	d.hex("keyid", c.Key.KeyID)
	d.hex("subjkey", c.Key.SubjKey)
	d.hex("sha1", c.SHA1)
	d.hex("sha256", c.SHA256)
	return d.d
}

func keyFields(d dict, k *PublicKey) {
	d.str("key_type", k.Type)
	d.set("key_size", starlark.MakeInt(k.Bits))
	if k.Curve != "" {
		d.str("key_curve", k.Curve)
	} else {
		d.set("key_curve", starlark.None)
	}
}

// crlDict is x509.parse's dict of a CRL: type ("X509_CRL"), issuer,
// serial (the CRL number, None when absent), delta_base (None unless a
// delta CRL), this_update, next_update (time values; next_update None when
// absent), authority_key_id, revoked (a list of {serial, time, reason}),
// sha1, sha256.
func crlDict(c *CRL) *starlark.Dict {
	d := newDict()
	d.str("type", KindCRL)
	d.str("issuer", c.Issuer)
	d.hex("serial", c.Number)
	d.hex("delta_base", c.DeltaBase)
	d.time("this_update", c.ThisUpdate)
	d.time("next_update", c.NextUpdate)
	d.hex("authority_key_id", c.AuthorityKeyID)
	revoked := make([]starlark.Value, len(c.Revoked))
	for i, r := range c.Revoked {
		e := dict{starlark.NewDict(3)}
		e.hex("serial", r.Serial)
		e.time("time", r.Time)
		e.str("reason", r.Reason)
		revoked[i] = e.d
	}
	d.set("revoked", starlark.NewList(revoked))
	d.hex("sha1", c.SHA1)
	d.hex("sha256", c.SHA256)
	return d.d
}

// keyDict is x509.parse's dict of a bare public key: type ("PUBKEY"),
// key_type, key_size, key_curve, keyid, subjkey, sha1 (the same as keyid),
// sha256.
func keyDict(k *PublicKey) *starlark.Dict {
	d := newDict()
	d.str("type", KindPubkey)
	keyFields(d, k)
	d.hex("keyid", k.KeyID)
	d.hex("subjkey", k.SubjKey)
	d.hex("sha1", k.KeyID)
	d.hex("sha256", k.SHA256)
	return d.d
}
