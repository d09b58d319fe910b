// Package json provides the Starlark "json" module: go.starlark.net/lib/json's
// decode and indent, and an encoder of its own that works on every vici
// reply:
//
//	json.encode(x)                              → string
//	json.encode_indent(x, *, prefix="", indent="\t") → string
//	json.decode(s[, default])                   → value (new, unfrozen dicts and lists)
//	json.indent(s, *, prefix="", indent="\t")   → string
//
// encode (see Encode, which hosts call for --json output) keeps dicts in
// their own order (the daemon's, for vici replies), writes bytes as base64
// strings (certificates), time values as RFC 3339 strings, and structs such
// as exec.run's as objects; go.starlark.net's encoder sorts keys and fails
// on bytes.
//
// decode refuses input whose arrays and objects nest deeper than MaxDepth
// levels, whether or not a default is given, before decoding anything.
package json

// Module is the Starlark "json" module (made from Spec):
// go.starlark.net/lib/json.Module with decode bounded in depth and
// vicish's encoder.
var Module = Spec().Build(nil)
