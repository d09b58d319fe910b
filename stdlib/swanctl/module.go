// Package swanctl provides the Starlark "swanctl" module: it reads
// swanctl.conf files the way strongSwan's swanctl does and applies them to
// a daemon over VICI.
//
//	conf = swanctl.load_conf(path=$SWANCTL_DIR or "/etc/swanctl")
//	report = swanctl.apply(path=$SWANCTL_DIR or "/etc/swanctl", dry_run=False, target=None)
//	plan = swanctl.plan(conf, previous, target=None)
//
// path is a swanctl.conf, or a directory holding one. Its directory is the
// swanctl directory: credentials are read from its x509/, x509ca/,
// x509ocsp/, x509aa/, x509ac/, x509crl/, pubkey/, private/, rsa/, ecdsa/,
// pkcs8/ subdirectories, and relative certs/cacerts/pubkeys/cacert file
// names are resolved there, as swanctl does.
//
// load_conf returns a dict with one dict per kind, each mapping a name to
// the request body of the command that loads it:
//
//	{
//	  "path": "/etc/swanctl/swanctl.conf",
//	  "dir": "/etc/swanctl",
//	  "certs":       {"x509ca/ca.pem": {"type": "X509", "flag": "CA", "data": b"..."}},  # load-cert
//	  "keys":        {"private/gw.pem": {"type": "any", "data": <secret>}},             # load-key
//	  "tokens":      {"token-1": {"handle": "...", "slot": "...", "pin": <secret>}},   # load-token
//	  "secrets":     {"ike-gw": {"id": "ike-gw", "type": "ike", "data": <secret>, "owners": ["gw"]}},  # load-shared
//	  "authorities": {"ca": {"ca": {"cacert": b"...", "crl_uris": ["http://..."]}}},  # load-authority
//	  "pools":       {"p1": {"p1": {"addrs": "10.3.0.0/28", "dns": ["10.3.0.53"]}}},   # load-pool
//	  "connections": {"gw": {"gw": {"remote_addrs": ["192.0.2.2"], "children": {...}}}}, # load-conn
//	}
//
// so that e.g. vici.load_conn(conf["connections"]["gw"]) loads one
// connection. Values are str, file contents bytes, and the comma lists
// swanctl splits (local_addrs, remote_addrs, proposals, esp_proposals,
// ah_proposals, local_ts, remote_ts, vips, pools, groups, cert_policy,
// certs, cacerts, pubkeys in connections; every pool attribute but addrs;
// crl_uris and ocsp_uris in authorities) are lists. Secret data (shared
// secrets, private keys, token PINs) is a value of type "swanctl.secret"
// that prints as <secret>; secret.reveal() returns its bytes. Items that
// cannot be loaded (a missing certificate file, a secrets section without
// secret, an encrypted key without a secrets section giving its
// passphrase, a PKCS#12 container) make load_conf fail with every reason.
// Encrypted keys are decrypted (PKCS#8 PBES2 and legacy PEM encryption)
// with the "secret*" values of the secrets sections naming them by "file",
// as swanctl --noprompt does, and sent as unencrypted PKCS#8.
//
// apply is described at its builtin, plan at PlanValue and in plan.go.
package swanctl

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
)

// Config is what a host gives the swanctl module.
type Config struct {
	// Client gives the VICI client apply and plan talk to when given no
	// target= (e.g. the vici module's default session); nil: they need
	// a target.
	Client func(ctx context.Context) (*vici.Client, error)
	// Stdout is where apply prints its report; nil: nowhere.
	Stdout io.Writer
	// Seen, if not nil, is given each secret of every configuration
	// load_conf, apply or plan reads (Conf.Secrets) before they return
	// or load anything: a host that redacts secrets learns them there.
	Seen func(secret string)
	// MaxListing is the most, in bytes, that one streamed listing of the
	// daemon (list-sas, list-conns, list-certs, ...) that apply, plan and
	// their proofs collect may be: what the daemon sends of it, or the
	// memory what the module keeps of it takes where that is more. One
	// entry more fails the command with an error that names it, what came
	// and the budget. 0 means no limit: the vicish
	// runtime gives the vici module's budget (vicish --max-listing,
	// starlarkvici.Module.MaxListing), so that a hostile daemon streaming
	// a listing forever cannot take the process's memory.
	MaxListing int
}

// NewModule returns the "swanctl" module for cfg.
func NewModule(cfg Config) *starlarkstruct.Module { return Spec(cfg).Build(nil) }

type module struct {
	cfg Config
}

// load reads the configuration at path (see loadConf) and tells Seen its
// secrets.
func (m *module) load(ctx context.Context, path string) (*Conf, error) {
	conf, err := loadConf(ctx, path)
	if err == nil && m.cfg.Seen != nil {
		for _, secret := range conf.Secrets {
			m.cfg.Seen(secret)
		}
	}
	return conf, err
}

func (m *module) loadConf(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	path := defaultPath()
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path?", &path); err != nil {
		return nil, err
	}
	conf, err := m.load(starctx.From(thread), path)
	if err := starctx.Interrupted(starctx.From(thread)); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.Name(), path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	var problems []string
	for _, it := range conf.Items {
		if it.Err != nil {
			problems = append(problems, fmt.Sprintf("%s %s: %v", it.Kind, it.Name, it.Err))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s: %s", b.Name(), conf.Path, strings.Join(problems, "; "))
	}
	return confValue(conf), nil
}

// apply is swanctl.apply(path, dry_run=False, target=None).
//
// It makes the daemon match the file as `swanctl --load-all --noprompt`
// does, prints a report to stdout and returns it as a dict:
//
//	{"path": "...", "dry_run": False,
//	 "added": ["conn gw", "pool p1", "secret ike-gw", "cert x509ca/ca.pem", ...],
//	 "changed": [...], "reloaded": [...], "unchanged": [...],
//	 "removed": ["conn old", "key 1f0a...", ...], "kept": [], "failed": []}
//
// Everything in the file is loaded again, like swanctl does, and sorted by
// what the daemon shows before and after: "added" was not loaded before;
// "changed" was, and list-conns (connections) or list-authorities
// (authorities) shows it differently now; "unchanged" shows the same (for
// certificates: the same DER was listed; for keys: the same key id);
// "reloaded" was loaded before but the daemon shows too little to compare
// (shared secrets, whose data it never reveals, and pools whose base
// address and size are the same, as get-pools lists no attributes; a pool
// whose addresses differ is "changed"). "removed" is what the daemon had
// and the file no longer has: connections (get-conns), pools (get-pools),
// authorities (get-authorities), shared secrets (get-shared, by id) and
// private keys (get-keys, by id). Certificates are never removed: VICI has
// no command for it, and swanctl doesn't either.
//
// Nothing that failed to load is removed. An item whose new version
// failed (a bad value in the file, or refused by the daemon) is listed in
// "failed", and, when the daemon had it, in "kept": the daemon keeps its
// version. When a private key file fails, which loaded key it would
// replace is unknown, so no key is removed and the daemon's keys not
// loaded again are "kept". (swanctl --load-creds unloads a shared secret
// or key whose new version the daemon refused.)
//
// target is the daemon: the vici module's default session (None), a
// session from vici.connect or a member of a vici.group (see Target); to
// apply to several daemons at once, use swanctl.plan(...).apply().
//
// With dry_run=True only queries are sent. Items in the daemon are then
// "reloaded" (whether they would change is only known by loading them),
// except certificates and keys, which compare by content.
//
// If any item failed, apply prints the report and then fails with every
// reason.
func (m *module) apply(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	path := defaultPath()
	dryRun := false
	var target starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path?", &path, "dry_run?", &dryRun, "target?", &target); err != nil {
		return nil, err
	}
	ts, many, err := m.targets(b.Name(), target)
	if err != nil {
		return nil, err
	}
	if many {
		return nil, fmt.Errorf("%s: target: a group is several daemons; apply to one member (g[\"name\"]), or plan for all with swanctl.plan(conf, previous, target=g) and apply that", b.Name())
	}
	conf, err := m.load(starctx.From(thread), path)
	if err := starctx.Interrupted(starctx.From(thread)); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.Name(), path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	ctx := starctx.From(thread)
	d, err := ts[0].daemon(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	report, err := applyConf(ctx, d, conf, dryRun)
	if report != nil && m.cfg.Stdout != nil {
		report.Print(m.cfg.Stdout)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	if err := report.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return reportValue(report), nil
}

// defaultPath is where swanctl looks when given no --file: $SWANCTL_DIR,
// else /etc/swanctl (Debian's SWANCTLDIR).
func defaultPath() string {
	if dir := os.Getenv("SWANCTL_DIR"); dir != "" {
		return dir
	}
	return "/etc/swanctl"
}

func reportValue(r *applyReport) *starlark.Dict {
	d := starlark.NewDict(8)
	_ = d.SetKey(starlark.String("path"), starlark.String(r.Path))
	_ = d.SetKey(starlark.String("dry_run"), starlark.Bool(r.DryRun))
	for _, v := range verdicts {
		var items []starlark.Value
		for _, c := range r.With(v) {
			items = append(items, starlark.String(c.String()))
		}
		_ = d.SetKey(starlark.String(v), starlark.NewList(items))
	}
	return d
}

// confValue converts a Conf into the dict load_conf returns.
func confValue(c *Conf) *starlark.Dict {
	d := starlark.NewDict(9)
	_ = d.SetKey(starlark.String("path"), starlark.String(c.Path))
	_ = d.SetKey(starlark.String("dir"), starlark.String(c.Dir))
	for _, k := range []struct{ key, kind string }{
		{"certs", KindCert}, {"keys", KindKey}, {"tokens", KindToken},
		{"secrets", KindShared}, {"authorities", KindAuthority},
		{"pools", KindPool}, {"connections", KindConn},
	} {
		items := starlark.NewDict(0)
		for _, it := range c.ByKind(k.kind) {
			_ = items.SetKey(starlark.String(it.Name), messageValue(it.Body, blobRule(k.kind), 0))
		}
		_ = d.SetKey(starlark.String(k.key), items)
	}
	return d
}

// A blob rule says how the value of a key at a depth is shown: as str,
// as file contents (bytes) or as a secret.
type valueKind int

const (
	asString valueKind = iota
	asBytes
	asSecret
)

func blobRule(kind string) func(key string, depth int) valueKind {
	switch kind {
	case KindCert:
		return func(key string, depth int) valueKind {
			if key == "data" {
				return asBytes
			}
			return asString
		}
	case KindKey, KindShared:
		return func(key string, depth int) valueKind {
			if key == "data" && depth == 0 {
				return asSecret
			}
			return asString
		}
	case KindToken:
		return func(key string, depth int) valueKind {
			if key == "pin" {
				return asSecret
			}
			return asString
		}
	case KindAuthority:
		return func(key string, depth int) valueKind {
			if key == "cacert" {
				return asBytes
			}
			return asString
		}
	case KindConn:
		return func(key string, depth int) valueKind {
			if isFileListKey(key) {
				return asBytes
			}
			return asString
		}
	}
	return func(string, int) valueKind { return asString }
}

func messageValue(msg *vici.Message, rule func(string, int) valueKind, depth int) *starlark.Dict {
	d := starlark.NewDict(msg.Len())
	conv := func(key string, b []byte) starlark.Value {
		switch rule(key, depth) {
		case asBytes:
			return starlark.Bytes(b)
		case asSecret:
			return &Secret{data: b}
		}
		return starlark.String(b)
	}
	for _, e := range msg.Entries() {
		var v starlark.Value
		switch e.Kind {
		case vici.KindSection:
			v = messageValue(e.Section, rule, depth+1)
		case vici.KindList:
			items := make([]starlark.Value, len(e.List))
			for i, it := range e.List {
				items[i] = conv(e.Name, it)
			}
			v = starlark.NewList(items)
		default:
			v = conv(e.Name, e.Value)
		}
		_ = d.SetKey(starlark.String(e.Name), v)
	}
	return d
}

// Secret is secret data read from a swanctl.conf or a key file (a shared
// secret, a private key, a token PIN). It prints as <secret> so that a
// script printing a configuration does not leak it; reveal() returns the
// bytes. It implements encoding.BinaryMarshaler for hosts that convert
// Starlark values to VICI messages.
type Secret struct {
	data []byte
}

var _ starlark.HasAttrs = (*Secret)(nil)

// SecretBytes returns the secret data. A host's redaction learns it
// through this method (package redact's Secret interface).
func (s *Secret) SecretBytes() []byte { return s.data }

// MarshalBinary returns the secret data.
func (s *Secret) MarshalBinary() ([]byte, error) { return s.data, nil }

func (s *Secret) String() string        { return "<secret>" }
func (s *Secret) Type() string          { return "swanctl.secret" }
func (s *Secret) Freeze()               {}
func (s *Secret) Truth() starlark.Bool  { return len(s.data) > 0 }
func (s *Secret) AttrNames() []string   { return []string{"reveal"} }
func (s *Secret) Hash() (uint32, error) { return 0, errors.New("unhashable type: swanctl.secret") }

// CompareSameType makes two secrets equal when their data is; comparing
// digests keeps the comparison from depending on where they differ.
func (s *Secret) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	eq := digest(s.data) == digest(y.(*Secret).data)
	switch op {
	case syntax.EQL:
		return eq, nil
	case syntax.NEQ:
		return !eq, nil
	}
	return false, fmt.Errorf("secrets cannot be ordered (%s)", op)
}

// Attr returns the reveal method.
func (s *Secret) Attr(name string) (starlark.Value, error) {
	if name != "reveal" {
		return nil, nil
	}
	return starlark.NewBuiltin("swanctl.secret.reveal", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
			return nil, err
		}
		return starlark.Bytes(s.data), nil
	}), nil
}

func digest(b []byte) [32]byte { return sha256.Sum256(b) }
