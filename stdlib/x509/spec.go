package x509

import "github.com/vicish/vicish/registry"

// Spec is the module's table: each builtin's parameters, doc and function.
func Spec() registry.Module {
	return registry.Module{
		Name:    "x509",
		Summary: "parse(der_or_pem), pem(der): certificates, CRLs and public keys (vici.list_certs() entries too)",
		Builtins: []registry.Builtin{
			{Name: "parse", Params: registry.MustParams("data, /"), Fn: parse,
				Doc: "Decode a certificate, CRL or public key (DER bytes, PEM text or a vici.list_certs() entry) into a dict: type, subject, issuer, serial, not_before, not_after, alt_names, ... (help(x509) lists the keys)."},
			{Name: "pem", Params: registry.MustParams("data, /"), Fn: pemText,
				Doc: "The PEM text of a certificate, CRL or public key, as swanctl --list-certs --pem prints it."},
		},
		More: `Keys of a certificate (type "X509"): subject, issuer (strongSwan's notation), serial, not_before,
not_after (times), alt_names, is_ca, path_len (None: no limit), key_type, key_size, key_curve,
key_usage, ext_key_usage, flags (swanctl's), self_signed, subject_key_id, authority_key_id,
crl_uris, ocsp_uris, keyid, subjkey, sha1, sha256. A CRL (type "X509_CRL"): issuer, serial (the
CRL number), delta_base, this_update, next_update, authority_key_id, revoked ([{serial, time,
reason}]), sha1, sha256. A public key (type "PUBKEY"): key_type, key_size, key_curve, keyid,
subjkey, sha1, sha256. Byte strings are hex with colons, as swanctl prints them.`,
	}
}
