package starlarkvici

import "strings"

// Function describes a vici function that is not a VICI command (connect,
// on, off, listen, wait, call, stream, stop) for the host's help()
// overview.
type Function struct {
	Sig string // "connect(uri=None, deadline=None, reconnect=False)"
	Doc string // its first sentence
}

// Functions lists the module's functions that are not VICI commands; a
// session's close() is left out.
func Functions() []Function {
	var out []Function
	for _, d := range otherBuiltins() {
		if d.name == "close" {
			continue
		}
		first, _, _ := strings.Cut(d.doc, ". ")
		out = append(out, Function{Sig: d.sig, Doc: strings.TrimSuffix(first, ".") + "."})
	}
	return out
}
