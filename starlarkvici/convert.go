package starlarkvici

import (
	"unicode/utf8"

	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// FromMessage converts a VICI message to a new, unfrozen Starlark dict:
// sections become dicts in wire order, lists become lists and values
// strings, or bytes when a value is not valid UTF-8.
func FromMessage(m *vici.Message) *starlark.Dict {
	entries := m.Entries()
	d := starlark.NewDict(len(entries))
	for _, e := range entries {
		var v starlark.Value
		switch e.Kind {
		case vici.KindSection:
			v = FromMessage(e.Section)
		case vici.KindList:
			items := make([]starlark.Value, len(e.List))
			for i, it := range e.List {
				items[i] = fromBytes(it)
			}
			v = starlark.NewList(items)
		default:
			v = fromBytes(e.Value)
		}
		_ = d.SetKey(starlark.String(e.Name), v) // fresh unfrozen dict with str keys: cannot fail
	}
	return d
}

func fromBytes(b []byte) starlark.Value {
	if utf8.Valid(b) {
		return starlark.String(b)
	}
	return starlark.Bytes(b)
}
