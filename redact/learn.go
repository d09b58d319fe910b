package redact

import (
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// secretNames are the keys, fields, keyword arguments and variables whose
// value is secret wherever they appear (any case). The regular expressions
// that read text (source.go) are built from this list too.
var secretNames = []string{"secret", "secrets", "psk", "password", "passphrase", "pin", "private_key", "privkey"}

// isSecretName reports whether name (any case) is one of secretNames.
func isSecretName(name string) bool {
	for _, n := range secretNames {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// publicDataTypes are the "type" values whose "data" is public
// (certificates and public keys); with any other type, "data" is a shared
// secret or a private key.
var publicDataTypes = map[string]bool{
	"x509": true, "x509_ac": true, "x509_crl": true, "ocsp_response": true,
	"pubkey": true, "x509ca": true, "x509aa": true, "x509ocsp": true,
	"x509crl": true, "x509ac": true, "crl": true, "ocsp": true,
}

// Keys tells which entries of one mapping (a dict, a struct's fields, a
// call's keyword arguments) hold secrets: those named like secrets, and
// "data" when the mapping also has a "type" that is not a certificate's or
// public key's, or is a key-loading command's arguments.
type Keys struct {
	dataIsSecret bool
}

// keysFor is the "data next to type" rule: typ is the mapping's "type"
// entry if it has one (hasType; typ is "" when the entry is not a string),
// loadsKey whether it is the arguments of a command that loads key
// material.
func keysFor(typ string, hasType, loadsKey bool) Keys {
	return Keys{dataIsSecret: loadsKey || hasType && !publicDataTypes[strings.ToLower(typ)]}
}

// KeysOf returns the Keys of the mapping whose entries are items (dict
// items, struct fields or keyword arguments).
func KeysOf(items []starlark.Tuple) Keys { return keysOf(items, false) }

func keysOf(items []starlark.Tuple, loadsKey bool) Keys {
	typ, hasType := "", false
	for _, kv := range items {
		if k, ok := starlark.AsString(kv[0]); ok && k == "type" {
			typ, _ = starlark.AsString(kv[1])
			hasType = true
		}
	}
	return keysFor(typ, hasType, loadsKey)
}

// Secret reports whether the entry named key holds a secret.
func (k Keys) Secret(key starlark.Value) bool {
	name, ok := starlark.AsString(key)
	return ok && k.secretName(name)
}

func (k Keys) secretName(name string) bool {
	return isSecretName(name) || k.dataIsSecret && strings.EqualFold(name, "data")
}

// AddValue records v as secret: a string, bytes or Secret, or every one
// inside a list, tuple or dict value (a list of PSKs), except what a dict
// inside it holds under "id", "type" or "owners": those name a secret and
// whom it belongs to (the shape of load_shared's request, and of the
// "secrets" swanctl.load_conf returns), and the identities are the ones
// the connections show too.
func (s *Secrets) AddValue(v starlark.Value) {
	walk(v, publicInSecret, func(x starlark.Value, _ []starlark.Tuple) {
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
// string, bytes (load_shared(data=b"...")) or a Secret.
func secretText(v starlark.Value) (string, bool) {
	switch v := v.(type) {
	case starlark.String:
		return string(v), true
	case starlark.Bytes:
		return string(v), true
	case Secret:
		return string(v.SecretBytes()), true
	}
	return "", false
}

// Learn records the secrets inside v: the values of secret keys in every
// dict and struct it contains, however deep, and the bytes of every Secret.
// It is bounded and safe on values that contain themselves.
func (s *Secrets) Learn(v starlark.Value) {
	walk(v, nil, func(x starlark.Value, items []starlark.Tuple) {
		if sec, ok := x.(Secret); ok {
			s.Add(string(sec.SecretBytes()))
		}
		if items != nil {
			s.learnEntries(items, false)
		}
	})
}

// LearnArgs records the secrets in a call's arguments: keyword arguments
// named like secrets, a "data" next to a non-certificate "type", and what
// Learn finds in each argument. A command that loads key material
// (load-shared, load-key, load-token, as a wire or builtin name) makes its
// data secret whatever the type.
func (s *Secrets) LearnArgs(command string, args starlark.Tuple, kwargs []starlark.Tuple) {
	for _, a := range args {
		s.Learn(a)
	}
	for _, kv := range kwargs {
		s.Learn(kv[1])
	}
	s.learnEntries(kwargs, loadsKey(command))
}

// learnEntries records the secret values among a mapping's entries.
func (s *Secrets) learnEntries(items []starlark.Tuple, loadsKey bool) {
	keys := keysOf(items, loadsKey)
	for _, kv := range items {
		if keys.Secret(kv[0]) {
			s.AddValue(kv[1])
		}
	}
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

// walk bounds: the values it visits and its depth.
const (
	maxWalk      = 1 << 20
	maxWalkDepth = 64
)

// walk calls fn for v and every value inside it, depth first, at most
// maxWalk values and maxWalkDepth levels, each container once, leaving out
// the entries of dicts and structs whose key skip reports (skip may be
// nil). fn is given the entries of a dict or struct (nil for other values).
func walk(v starlark.Value, skip func(key starlark.Value) bool, fn func(v starlark.Value, items []starlark.Tuple)) {
	var seen map[starlark.Value]bool // made at the first container: most values are scalars
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
			if seen == nil {
				seen = map[starlark.Value]bool{}
			}
			seen[x] = true
		}
		items := entries(v)
		fn(v, items)
		switch x := v.(type) {
		case starlark.IterableMapping, *starlarkstruct.Struct:
			for _, kv := range items {
				if skip == nil || !skip(kv[0]) {
					visit(kv[1], depth+1)
				}
			}
		case starlark.String, starlark.Bytes:
		case starlark.Indexable:
			for i := range x.Len() {
				visit(x.Index(i), depth+1)
			}
		}
	}
	visit(v, 0)
}
