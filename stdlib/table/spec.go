package table

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/registry"
)

// Spec is the module's table for a module whose listings, given no data,
// ask vici (see NewModule); the listings' rows come from listings.
func Spec(vici starlark.HasAttrs) registry.Module {
	m := registry.Module{
		Name:    "table",
		Summary: "render(rows) aligned columns; sas(), conns(), pols(), certs(), authorities(), pools(), algs(), stats(), counters() as swanctl lists them; log(event)",
		Builtins: []registry.Builtin{
			{Name: "render", Params: registry.MustParams("rows, columns=None"), Fn: render,
				Doc: "Rows (dicts, or lists of cells) as aligned text columns; columns picks keys (or (key, header) pairs) in order."},
			{Name: "log", Params: registry.MustParams("event, /"), Fn: logLine,
				Doc: "One log or control-log event as swanctl --log or --initiate prints it."},
		},
		More: "Given no data, a listing asks the default session with swanctl's defaults; other keywords\ngo to that call, as swanctl's options do: table.pools(leases=True), table.counters(all=True).",
	}
	for _, l := range listings() {
		params := []registry.Param{{Name: l.param, Default: "None"}}
		for _, f := range l.flags {
			params = append(params, registry.Param{Name: f, Kind: registry.KeywordOnly, Default: "False", Type: "bool"})
		}
		m.Builtins = append(m.Builtins, registry.Builtin{
			Name:   l.name,
			Params: append(params, registry.Param{Name: "options", Kind: registry.Kwargs}),
			Doc:    fmt.Sprintf("What vici.%s() returned (asked for when %s is None) as swanctl %s prints it.", l.call, l.param, swanctlOption(l.name)),
			Fn:     l.builtin(vici),
		})
	}
	return m
}

// swanctlOption is the swanctl command line option of a listing.
func swanctlOption(name string) string {
	switch name {
	case "stats", "counters":
		return "--" + name
	}
	return "--list-" + name
}
