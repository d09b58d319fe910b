package script

import (
	"strings"

	"github.com/vicish/vicish/registry"
	"github.com/vicish/vicish/starlarkvici"
)

// reference renders the Markdown reference of everything predeclared, for
// docs/reference.md: the global functions, the vici module from its
// command table, then each other module from its table.
func (r *Runtime) reference() string {
	var b strings.Builder
	b.WriteString("## Globals\n\n")
	b.WriteString(registry.Markdown("", r.reg.Globals, Flag))
	b.WriteString("\n## `vici`\n\n")
	b.WriteString(starlarkvici.Reference())
	for _, m := range r.reg.Modules {
		if m.Name == "vici" {
			continue
		}
		b.WriteString("\n## `" + m.Name + "`\n\n" + strings.TrimSuffix(m.Summary, ".") + ".\n\n")
		b.WriteString(registry.Markdown(m.Name, m.Builtins, Flag))
		if m.More != "" {
			b.WriteString("\n" + m.More + "\n")
		}
	}
	return b.String()
}
