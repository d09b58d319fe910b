package json

import (
	libjson "go.starlark.net/lib/json"
	"go.starlark.net/starlark"

	"github.com/vicish/vicish/registry"
)

// Spec is the module's table: each builtin's parameters, doc and function.
func Spec() registry.Module {
	return registry.Module{
		Name:    "json",
		Summary: "encode(x), encode_indent(x), decode(s), indent(s): JSON of any vici reply (bytes as base64, the daemon's key order)",
		Builtins: []registry.Builtin{
			{Name: "encode", Params: registry.MustParams("x, /"), Fn: encode,
				Doc: "JSON text of x: dicts in their own order, bytes as base64, times as RFC 3339, structs as objects."},
			{Name: "encode_indent", Params: registry.MustParams(`x, *, prefix="", indent="\t"`), Fn: encodeIndent,
				Doc: "encode(x) with one element per line, each starting with prefix and indented by indent per level."},
			{Name: "decode", Params: registry.MustParams("s, /, default=<fail>"), Fn: decode,
				Doc: "The value of JSON text s (new dicts and lists); on bad input return default if given, else fail."},
			{Name: "indent", Params: registry.MustParams(`s, /, *, prefix="", indent="\t"`), Fn: lib("indent"),
				Doc: "JSON text s re-indented: one element per line."},
		},
	}
}

// lib returns the function of go.starlark.net/lib/json's builtin name.
func lib(name string) registry.Func {
	b := libjson.Module.Members[name].(*starlark.Builtin)
	return func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		return b.CallInternal(thread, args, kwargs)
	}
}
