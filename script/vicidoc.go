package script

import (
	"go.starlark.net/starlark"

	"github.com/vicish/vicish/starlarkvici"
)

// KeywordNames returns the keyword arguments a callable accepts, for
// completion: a vici function's from the module's command table, a
// Starlark function's parameters; nil when they are not known.
func KeywordNames(fn starlark.Value) []string {
	switch fn := fn.(type) {
	case *starlark.Builtin:
		if _, ok := starlarkvici.Help(fn); ok {
			return starlarkvici.KeywordNames(fn.Name())
		}
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
