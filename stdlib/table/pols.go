package table

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
)

// writePols renders what vici.list_policies returns as swanctl --list-pols
// does: the policy's name (ike/child), its reqid (strongSwan 6.x sends one)
// and mode, then its traffic selectors.
func writePols(w *strings.Builder, data starlark.Value) error {
	return eachNamed(w, data, "vici.list_policies", "policy", func(w *strings.Builder, name string, m starlark.Mapping) error {
		pol := fields{m}
		w.WriteString(name)
		if s, ok := pol.get("reqid"); ok {
			fmt.Fprintf(w, ", reqid %s", s)
		}
		fmt.Fprintf(w, ", %s\n", pol.str("mode"))
		if s, ok := pol.get("label"); ok {
			fmt.Fprintf(w, "  label:  %s\n", s)
		}
		fmt.Fprintf(w, "  local:  %s\n", pol.str("local-ts"))
		fmt.Fprintf(w, "  remote: %s\n", pol.str("remote-ts"))
		return nil
	})
}
