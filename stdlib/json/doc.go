package json

import "github.com/vicish/vicish/stdlib/doc"

// Doc describes the module for help().
func Doc() doc.Module {
	return doc.Module{
		Name:    "json",
		Summary: "encode(x), encode_indent(x), decode(s), indent(s): JSON of any vici reply (bytes as base64, the daemon's key order)",
		Builtins: []doc.Builtin{
			doc.Fn("encode", "x", "JSON text of x: dicts in their own order, bytes as base64, times as RFC 3339, structs as objects."),
			doc.Fn("encode_indent", `x, *, prefix="", indent="\t"`, "encode(x) with one element per line, each starting with prefix and indented by indent per level."),
			doc.Fn("decode", "s, default=<fail>", "The value of JSON text s (new dicts and lists); on bad input return default if given, else fail."),
			doc.Fn("indent", `s, *, prefix="", indent="\t"`, "JSON text s re-indented: one element per line."),
		},
	}
}
