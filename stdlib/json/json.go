// Package json provides the Starlark "json" module. It is the module of
// go.starlark.net/lib/json, re-exported so that vicish and embedders import
// every standard module from one place:
//
//	json.encode(x)                              → string
//	json.encode_indent(x, *, prefix="", indent="\t") → string
//	json.decode(s[, default])                   → value (new, unfrozen dicts and lists)
//	json.indent(s, *, prefix="", indent="\t")   → string
//
// encode accepts None, bools, ints, finite floats, strings, dicts with string
// keys (written with sorted keys), lists and tuples, and values with
// attributes such as the structs that exec.run and http.post return.
package json

import libjson "go.starlark.net/lib/json"

// Module is the Starlark "json" module (go.starlark.net/lib/json.Module).
var Module = libjson.Module
