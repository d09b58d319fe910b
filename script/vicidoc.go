package script

import (
	"go.starlark.net/starlark"

	"github.com/vicish/vicish/starlarkvici"
)

// KeywordNames returns the keyword arguments a callable accepts, for
// completion: a builtin's from the registry (a vici function's from the
// command table), a Starlark function's parameters; nil when they are not
// known.
func (r *Runtime) KeywordNames(fn starlark.Value) []string {
	switch fn := fn.(type) {
	case *starlark.Builtin:
		module, b, ok := r.reg.Lookup(fn.Name())
		if !ok {
			return nil
		}
		if _, isVici := starlarkvici.Help(fn); module == "vici" && !isVici {
			return nil // a look-alike of a vici function
		}
		var names []string
		for _, p := range b.Params {
			if p.Keyword() {
				names = append(names, p.Name)
			}
		}
		return names
	case *starlark.Function:
		names := make([]string, 0, fn.NumParams())
		for i := range fn.NumParams() {
			name, _ := fn.Param(i)
			names = append(names, name)
		}
		return names
	}
	return nil
}
