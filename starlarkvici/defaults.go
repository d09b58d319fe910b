package starlarkvici

import (
	"go.starlark.net/starlark"

	"github.com/vicish/vicish/vici"
)

// defaultFlags applies c.AllFlags to a request about to be sent: when the
// caller turned none of the flags on, every flag the caller did not
// explicitly turn off is sent, as swanctl does for --list-pols. So
// list_policies() lists trap, drop and pass policies, list_policies(trap=True)
// only trap policies, and list_policies(pass_=False) trap and drop ones.
// The flags are read from msg (built from the positional dict and the
// keywords); args and kwargs tell which flags were given as False.
func defaultFlags(c *Command, msg *vici.Message, args starlark.Tuple, kwargs []starlark.Tuple) {
	if len(c.AllFlags) == 0 {
		return
	}
	for _, f := range c.AllFlags {
		if msg.Has(f) {
			return
		}
	}
	off := map[string]bool{}
	if len(args) > 0 {
		if m, ok := args[0].(starlark.Mapping); ok {
			for _, f := range c.AllFlags {
				if v, found, _ := m.Get(starlark.String(f)); found && v != starlark.None {
					off[f] = true
				}
			}
		}
	}
	for _, kw := range kwargs {
		name := string(kw[0].(starlark.String))
		if k, ok := c.keywords[name]; ok && kw[1] != starlark.None {
			off[k.Name] = true
		}
	}
	for _, f := range c.AllFlags {
		if !off[f] {
			msg.SetFlag(f, true)
		}
	}
}
