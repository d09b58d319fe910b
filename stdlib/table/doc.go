package table

import (
	"fmt"
	"strings"

	"github.com/vicish/vicish/stdlib/doc"
)

// Doc describes the module for help(); the listings' lines come from the
// same table as their builtins.
func Doc() doc.Module {
	m := doc.Module{
		Name:    "table",
		Summary: "render(rows) aligned columns; sas(), conns(), pols(), certs(), authorities(), pools(), algs(), stats(), counters() as swanctl lists them; log(event)",
		Builtins: []doc.Builtin{
			{Name: "render", Args: "rows, columns=None",
				Doc: "Rows (dicts, or lists of cells) as aligned text columns; columns picks keys (or (key, header) pairs) in order."},
			{Name: "log", Args: "event",
				Doc: "One log or control-log event as swanctl --log or --initiate prints it."},
		},
		More: "Given no data, a listing asks the default session with swanctl's defaults; other keywords\ngo to that call, as swanctl's options do: table.pools(leases=True), table.counters(all=True).",
	}
	for _, l := range listings() {
		m.Builtins = append(m.Builtins, doc.Builtin{
			Name: l.name,
			Args: l.param + "=None, " + flagArgs(l.flags) + "**options",
			Doc:  fmt.Sprintf("What vici.%s() returned (asked for when %s is None) as swanctl %s prints it.", l.call, l.param, swanctlOption(l.name)),
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

// flagArgs lists a listing's own flags for its help line ("short=False, ").
func flagArgs(flags []string) string {
	var b strings.Builder
	for _, f := range flags {
		b.WriteString(f + "=False, ")
	}
	return b.String()
}
