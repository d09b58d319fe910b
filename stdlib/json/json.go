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
//
// decode refuses input whose arrays and objects nest deeper than MaxDepth
// levels, whether or not a default is given, before decoding anything.
package json

import (
	libjson "go.starlark.net/lib/json"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Module is the Starlark "json" module: go.starlark.net/lib/json.Module
// with decode bounded in depth.
var Module = &starlarkstruct.Module{
	Name: "json",
	Members: starlark.StringDict{
		"encode":        libjson.Module.Members["encode"],
		"encode_indent": libjson.Module.Members["encode_indent"],
		"decode":        starlark.NewBuiltin("json.decode", decode),
		"indent":        libjson.Module.Members["indent"],
	},
}
