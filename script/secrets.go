package script

import (
	"slices"
	"strings"
	"sync"

	"go.starlark.net/syntax"
)

// Redacted replaces a secret in printed values and messages.
const Redacted = "<redacted>"

// minSecret is the shortest string treated as a secret when redacting
// free text; shorter ones would blank out ordinary words.
const minSecret = 4

// Secrets is a set of strings that must not be shown: pre-shared keys,
// passwords, PINs and private key material seen in code, in values printed
// by the pretty printer, or added by the host. It is safe for concurrent use.
type Secrets struct {
	mu  sync.Mutex
	set map[string]struct{}
}

// NewSecrets returns an empty set.
func NewSecrets() *Secrets { return &Secrets{set: map[string]struct{}{}} }

// Add records s as secret.
func (s *Secrets) Add(secret string) {
	if len(secret) < minSecret {
		return
	}
	s.mu.Lock()
	s.set[secret] = struct{}{}
	s.mu.Unlock()
}

// Redact returns text with every known secret replaced by <redacted>.
func (s *Secrets) Redact(text string) string {
	s.mu.Lock()
	list := make([]string, 0, len(s.set))
	for k := range s.set {
		list = append(list, k)
	}
	s.mu.Unlock()
	// longest first, so a secret containing another is replaced whole
	slices.SortFunc(list, func(a, b string) int { return len(b) - len(a) })
	for _, k := range list {
		text = strings.ReplaceAll(text, k, Redacted)
	}
	return text
}

// secretKeys are keys whose value is secret wherever they appear.
var secretKeys = map[string]bool{
	"secret": true, "secrets": true, "psk": true, "password": true,
	"passphrase": true, "pin": true, "private_key": true, "privkey": true,
}

// publicDataTypes are the "type" values whose "data" is public (certificates
// and public keys); with any other type, "data" is a shared secret or key.
var publicDataTypes = map[string]bool{
	"x509": true, "x509_ac": true, "x509_crl": true, "ocsp_response": true,
	"pubkey": true, "x509ca": true, "x509aa": true, "x509ocsp": true,
	"x509crl": true, "x509ac": true, "crl": true, "ocsp": true,
}

// isSecretKey reports whether key's value is secret in a mapping whose
// "type" entry (if any) is typ.
func isSecretKey(key, typ string, hasType bool) bool {
	k := strings.ToLower(key)
	if secretKeys[k] {
		return true
	}
	return k == "data" && hasType && !publicDataTypes[strings.ToLower(typ)]
}

// ScanSource records the secrets written as literals in a parsed program:
// string values given to keys or keyword arguments named like secrets
// (secret, psk, password, pin, ...), and the data of a call or dict that
// also names a non-certificate type, as in
// vici.load_shared(type="IKE", data="...") . It reports whether any were
// found, so a REPL can keep such a line out of its history.
func (s *Secrets) ScanSource(f *syntax.File) bool {
	found := false
	record := func(v syntax.Expr) {
		if lit, ok := v.(*syntax.Literal); ok {
			if str, ok := lit.Value.(string); ok {
				s.Add(str)
				found = true
			}
		}
	}
	// pairs examines one dict literal's or call's key/value pairs.
	pairs := func(keys []string, vals []syntax.Expr) {
		typ, hasType := "", false
		for i, k := range keys {
			if k == "type" {
				hasType = true
				if lit, ok := vals[i].(*syntax.Literal); ok {
					typ, _ = lit.Value.(string)
				}
			}
		}
		for i, k := range keys {
			if isSecretKey(k, typ, hasType) {
				record(vals[i])
			}
		}
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		var keys []string
		var vals []syntax.Expr
		switch n := n.(type) {
		case *syntax.DictExpr:
			for _, e := range n.List {
				entry := e.(*syntax.DictEntry)
				if lit, ok := entry.Key.(*syntax.Literal); ok {
					if k, ok := lit.Value.(string); ok {
						keys = append(keys, k)
						vals = append(vals, entry.Value)
					}
				}
			}
		case *syntax.CallExpr:
			for _, a := range n.Args {
				if bin, ok := a.(*syntax.BinaryExpr); ok && bin.Op == syntax.EQ {
					if id, ok := bin.X.(*syntax.Ident); ok {
						keys = append(keys, id.Name)
						vals = append(vals, bin.Y)
					}
				}
			}
			if fn, ok := n.Fn.(*syntax.DotExpr); ok && fn.Name.Name == "load_shared" {
				keys = append(keys, "type")
				vals = append(vals, &syntax.Literal{Value: ""})
			}
		}
		if keys != nil {
			pairs(keys, vals)
		}
		return true
	})
	return found
}
