package script

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/stdlib/swanctl"
)

// Redaction is done in one place: a Runtime's Secrets. What counts as a
// secret:
//
//   - the value of a dict key, struct field or keyword argument named secret, secrets,
//     psk, password, passphrase, pin, private_key or privkey (any case),
//     but not what a dict inside it holds under id, type and owners;
//   - the "data" of a dict or call that also has a "type" other than a
//     certificate's or public key's (a shared key, a private key), and the
//     data given to load_shared, load_key and load_token, or to
//     vici.call("load-shared"/"load-key"/"load-token", ...);
//   - a string assigned to a variable with one of those names
//     (psk = "..."), and a string built from literals by + where those
//     rules apply ("hunter5-" + "concat");
//   - any string the host adds (Secrets.Add).
//
// The runtime learns them from the source of every program, REPL input and
// load()ed file before it runs; from the arguments of print, pp, log.* and
// every vici command; and from every value the REPL echoes. From then on
// every byte the runtime writes — print, pp, the REPL's echo, log lines
// (text and JSON), listen() callback errors, swanctl reports, error
// messages and tracebacks, exit messages — has each known secret replaced
// by <redacted>, in its raw form and as Starlark, Go and JSON quote it; the
// REPL keeps lines holding a secret (or looking like they set one) out of
// its history.
//
// Limits: a secret is matched whole, so a part of it (k[:4]) or a
// transformation (upper(), base64, reversed) is shown; strings shorter than
// 4 bytes are not treated as secrets (they would blank out ordinary words);
// a secret the runtime has not seen yet (read from a file and printed
// before any of the rules above applied to it) is shown; a secret split
// across two writes of an embedder's own builtin is not matched.

// Redacted replaces a secret in printed values and messages.
const Redacted = "<redacted>"

// minSecret is the shortest string treated as a secret when redacting
// free text; shorter ones would blank out ordinary words.
const minSecret = 4

// Secrets is a set of strings that must not be shown: pre-shared keys,
// passwords, PINs and private key material. It is safe for concurrent use.
type Secrets struct {
	mu    sync.Mutex
	set   map[string]struct{}
	forms []string // every secret's shown forms, longest first
}

// NewSecrets returns an empty set.
func NewSecrets() *Secrets { return &Secrets{set: map[string]struct{}{}} }

// Add records s as secret.
func (s *Secrets) Add(secret string) {
	if len(secret) < minSecret {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.set[secret]; ok {
		return
	}
	s.set[secret] = struct{}{}
	// a new slice: Redact reads the old one without the lock
	forms := slices.Clone(s.forms)
	for _, f := range shownForms(secret) {
		if !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	// longest first, so a secret containing another is replaced whole
	slices.SortStableFunc(forms, func(a, b string) int { return len(b) - len(a) })
	s.forms = forms
}

// shownForms returns s as it appears in output: raw, and between the
// quotes of a Starlark string literal, a Go quoted string and a JSON string.
func shownForms(s string) []string {
	unquote := func(q string) string { return q[1 : len(q)-1] }
	forms := []string{s, unquote(starlark.String(s).String()), unquote(strconv.Quote(s))}
	if j, err := json.Marshal(s); err == nil {
		forms = append(forms, unquote(string(j)))
	}
	// json.encode and --json write bytes in base64
	forms = append(forms, base64.StdEncoding.EncodeToString([]byte(s)))
	var out []string
	for _, f := range forms {
		if len(f) >= minSecret && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// AddValue records v as secret: a string, bytes or swanctl.secret, or
// every one inside a list, tuple or dict value (a list of PSKs), except
// what a dict inside it holds under "id", "type" or "owners": those name a
// secret and whom it belongs to (the shape of load_shared's request, and of
// the "secrets" swanctl.load_conf returns), and the identities are the ones
// the connections show too.
func (s *Secrets) AddValue(v starlark.Value) {
	walk(v, publicInSecret, func(x starlark.Value) {
		if str, ok := secretText(x); ok {
			s.Add(str)
		}
	})
}

// publicInSecret reports whether the entry key of a dict inside a secret
// value names rather than holds key material (see AddValue).
func publicInSecret(key starlark.Value) bool {
	k, ok := starlark.AsString(key)
	if !ok {
		return false
	}
	switch strings.ToLower(k) {
	case "id", "type", "owners":
		return true
	}
	return false
}

// secretText returns the text a value holds when it can be a secret: a
// string, bytes (load_shared(data=b"...")) or a swanctl.secret.
func secretText(v starlark.Value) (string, bool) {
	switch v := v.(type) {
	case starlark.String:
		return string(v), true
	case starlark.Bytes:
		return string(v), true
	case *swanctl.Secret:
		return string(v.Bytes()), true
	}
	return "", false
}

// Learn records the secrets inside v: the values of secret keys (see the
// rules above) in every dict it contains, however deep, and the data of
// every swanctl.secret (read from a swanctl.conf or key file). It is
// bounded and safe on values that contain themselves.
func (s *Secrets) Learn(v starlark.Value) {
	walkValues(v, func(x starlark.Value) {
		if sec, ok := x.(*swanctl.Secret); ok {
			s.Add(string(sec.Bytes()))
		}
		if items := entries(x); items != nil {
			s.learnPairs(items, false)
		}
	})
}

// entries returns the key/value pairs of a dict, or the fields of a struct
// (struct(psk="...")), or nil.
func entries(v starlark.Value) []starlark.Tuple {
	switch v := v.(type) {
	case starlark.IterableMapping:
		return v.Items()
	case *starlarkstruct.Struct:
		names := v.AttrNames()
		items := make([]starlark.Tuple, 0, len(names))
		for _, name := range names {
			if x, err := v.Attr(name); err == nil {
				items = append(items, starlark.Tuple{starlark.String(name), x})
			}
		}
		return items
	}
	return nil
}

// LearnArgs records the secrets in a call's arguments: keyword arguments
// named like secrets, a "data" next to a non-certificate "type", and what
// Learn finds in each argument. A wire command that loads a key
// (load-shared, load-key, load-token) makes its data secret whatever the
// type.
func (s *Secrets) LearnArgs(command string, args starlark.Tuple, kwargs []starlark.Tuple) {
	for _, a := range args {
		s.Learn(a)
	}
	for _, kv := range kwargs {
		s.Learn(kv[1])
	}
	s.learnPairs(kwargs, loadsKey(command))
}

// loadsKey reports whether a command (wire or builtin name) loads key
// material, so that its "data" is secret.
func loadsKey(command string) bool {
	command = strings.ReplaceAll(command, "_", "-")
	command = command[strings.LastIndex(command, ".")+1:]
	switch command {
	case "load-shared", "load-key", "load-token":
		return true
	}
	return false
}

// learnPairs records the secret values among key/value pairs.
func (s *Secrets) learnPairs(items []starlark.Tuple, dataIsSecret bool) {
	typ, hasType := "", dataIsSecret
	for _, kv := range items {
		if k, ok := starlark.AsString(kv[0]); ok && k == "type" {
			if t, ok := starlark.AsString(kv[1]); ok && !dataIsSecret {
				typ = t
			}
			hasType = true
		}
	}
	for _, kv := range items {
		if k, ok := starlark.AsString(kv[0]); ok && isSecretKey(k, typ, hasType) {
			s.AddValue(kv[1])
		}
	}
}

// maxWalk bounds the values walkValues visits and its depth.
const (
	maxWalk      = 1 << 20
	maxWalkDepth = 64
)

// walkValues calls fn for v and every value inside it, depth first, at
// most maxWalk values and maxWalkDepth levels, each container once.
func walkValues(v starlark.Value, fn func(starlark.Value)) { walk(v, nil, fn) }

// walk is walkValues that leaves out the entries of dicts and structs
// whose key skip reports (skip may be nil).
func walk(v starlark.Value, skip func(key starlark.Value) bool, fn func(starlark.Value)) {
	seen := map[starlark.Value]bool{}
	n := 0
	var visit func(v starlark.Value, depth int)
	visit = func(v starlark.Value, depth int) {
		if n++; n > maxWalk || depth > maxWalkDepth {
			return
		}
		switch x := v.(type) {
		case *starlark.Dict, *starlark.List:
			if seen[x] {
				return
			}
			seen[x] = true
		}
		fn(v)
		switch x := v.(type) {
		case starlark.IterableMapping, *starlarkstruct.Struct:
			for _, kv := range entries(x) {
				if skip == nil || !skip(kv[0]) {
					visit(kv[1], depth+1)
				}
			}
		case starlark.Indexable:
			if _, ok := x.(starlark.String); ok {
				return
			}
			if _, ok := x.(starlark.Bytes); ok {
				return
			}
			for i := range x.Len() {
				visit(x.Index(i), depth+1)
			}
		}
	}
	visit(v, 0)
}

// Redact returns text with every known secret replaced by <redacted>.
func (s *Secrets) Redact(text string) string {
	s.mu.Lock()
	forms := s.forms
	s.mu.Unlock()
	for _, f := range forms {
		if strings.Contains(text, f) {
			text = strings.ReplaceAll(text, f, Redacted)
		}
	}
	return text
}

// Contains reports whether text holds a known secret.
func (s *Secrets) Contains(text string) bool { return s.Redact(text) != text }

// settingSecret matches text that seems to give a secret a value: a secret
// key followed by = or : and a quote, or a key-loading command.
var settingSecret = regexp.MustCompile(`(?i)\b(secrets?|psk|password|passphrase|pin|private_key|privkey|data)["']?\s*[=:]\s*[bru]*["']|load[-_](shared|key|token)\b`)

// givenSecret matches a secret key given a quoted value in text that need
// not parse; the value is the second group.
var givenSecret = regexp.MustCompile(`(?i)\b(?:secrets?|psk|password|passphrase|pin|private_key|privkey)["']?\s*[=:]\s*["']([^"'\n]+)["']`)

// givenData matches a quoted value given to a data key; the value is the
// second group.
var givenData = regexp.MustCompile(`(?i)\bdata["']?\s*[=:]\s*[bru]*["']([^"'\n]+)["']`)

// givenType matches a quoted value given to a type key; the value is the
// second group.
var givenType = regexp.MustCompile(`(?i)\btype["']?\s*[=:]\s*["']([^"'\n]*)["']`)

// loadsKeyText matches the name of a command that loads a shared or
// private key, as a builtin or as a wire name.
var loadsKeyText = regexp.MustCompile(`(?i)\bload[-_](shared|key|token)\b`)

// LearnText records the values that text, which need not parse (a line
// with a syntax error), seems to give to secret keys: psk = "...", and the
// data of a key-loading command or of a type that is not a certificate's,
// as ScanSource would had the text parsed.
func (s *Secrets) LearnText(text string) {
	for _, m := range givenSecret.FindAllStringSubmatch(text, -1) {
		s.Add(m[1])
	}
	dataIsSecret := loadsKeyText.MatchString(text)
	for _, m := range givenType.FindAllStringSubmatch(text, -1) {
		dataIsSecret = dataIsSecret || !publicDataTypes[strings.ToLower(m[1])]
	}
	if dataIsSecret {
		for _, m := range givenData.FindAllStringSubmatch(text, -1) {
			s.Add(m[1])
		}
	}
}

// Private reports whether a line of input must stay out of a history file:
// it holds a known secret, or looks like it sets one (even when it does not
// parse: a PSK with a syntax error).
func (s *Secrets) Private(line string) bool {
	return s.Contains(line) || settingSecret.MatchString(line)
}

// writer redacts every Write before passing it on.
type writer struct {
	w       io.Writer
	secrets *Secrets
}

// Writer returns w with every known secret redacted from what is written
// through it. Each Write is redacted as a whole: a secret split across two
// writes is not matched (vicish's own sinks write whole lines).
func (s *Secrets) Writer(w io.Writer) io.Writer { return &writer{w: w, secrets: s} }

func (w *writer) Write(p []byte) (int, error) {
	if _, err := io.WriteString(w.w, w.secrets.Redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
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

// ScanSource records the secrets written as literals in a parsed program
// (see the rules above): string values given to keys or keyword arguments
// named like secrets, the data of a call or dict that also names a
// non-certificate type, strings assigned to variables named like secrets,
// and strings built from literals with +. It reports whether any were
// found.
func (s *Secrets) ScanSource(f *syntax.File) bool {
	found := false
	record := func(v syntax.Expr) {
		if str, ok := constString(v, 0); ok {
			s.Add(str)
			found = true
		}
	}
	// pairs examines one dict literal's or call's key/value pairs.
	pairs := func(keys []string, vals []syntax.Expr, dataIsSecret bool) {
		typ, hasType := "", dataIsSecret
		for i, k := range keys {
			if k == "type" {
				hasType = true
				if str, ok := constString(vals[i], 0); ok && !dataIsSecret {
					typ = str
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
		dataIsSecret := false
		switch n := n.(type) {
		case *syntax.AssignStmt:
			if id, ok := n.LHS.(*syntax.Ident); ok && secretKeys[strings.ToLower(id.Name)] {
				record(n.RHS)
			}
		case *syntax.DictExpr:
			for _, e := range n.List {
				entry := e.(*syntax.DictEntry)
				if k, ok := constString(entry.Key, 0); ok {
					keys = append(keys, k)
					vals = append(vals, entry.Value)
				}
			}
		case *syntax.CallExpr:
			for i, a := range n.Args {
				if bin, ok := a.(*syntax.BinaryExpr); ok && bin.Op == syntax.EQ {
					if id, ok := bin.X.(*syntax.Ident); ok {
						keys = append(keys, id.Name)
						vals = append(vals, bin.Y)
					}
				} else if cmd, ok := constString(a, 0); ok && i == 0 && loadsKey(cmd) {
					dataIsSecret = true // vici.call("load-shared", data=...)
				}
			}
			if fn, ok := n.Fn.(*syntax.DotExpr); ok && loadsKey(fn.Name.Name) {
				dataIsSecret = true
			}
		}
		if keys != nil {
			pairs(keys, vals, dataIsSecret)
		}
		return true
	})
	return found
}

// constString returns the value of a string literal or of a sum of them
// ("a" + "b"), nested at most 64 deep.
func constString(e syntax.Expr, depth int) (string, bool) {
	if depth > 64 {
		return "", false
	}
	switch e := e.(type) {
	case *syntax.Literal:
		str, ok := e.Value.(string)
		return str, ok
	case *syntax.ParenExpr:
		return constString(e.X, depth+1)
	case *syntax.BinaryExpr:
		if e.Op == syntax.PLUS {
			x, ok1 := constString(e.X, depth+1)
			y, ok2 := constString(e.Y, depth+1)
			return x + y, ok1 && ok2
		}
	}
	return "", false
}
