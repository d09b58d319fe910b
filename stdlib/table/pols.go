package table

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
)

// writePols renders what vici.list_policies returns as swanctl --list-pols
// does: the policy's name (ike/child), its reqid and mode, then its traffic
// selectors. swanctl 6.x shows a reqid on every policy, "(null)" on the
// drop and bypass policies the daemon sends none for; 5.x shows none. For
// data it was given, the listing takes the 6.x layout when any policy has
// a reqid.
func writePols(w *strings.Builder, data starlark.Value, r *listRun) error {
	reqids := r.v6
	if !r.known {
		reqids = anyHas(data, "reqid")
	}
	return eachNamed(r, w, data, "vici.list_policies", "policy", func(w *strings.Builder, name string, m starlark.Mapping) error {
		pol := fields{m}
		w.WriteString(name)
		if reqids {
			fmt.Fprintf(w, ", reqid %s", pol.str("reqid"))
		}
		fmt.Fprintf(w, ", %s\n", pol.str("mode"))
		if s, ok := label(pol); ok {
			fmt.Fprintf(w, "  label:  %s\n", s)
		}
		fmt.Fprintf(w, "  local:  %s\n", pol.str("local-ts"))
		fmt.Fprintf(w, "  remote: %s\n", pol.str("remote-ts"))
		return nil
	})
}

// anyHas reports whether any {name: {...}} entry of the events in data has
// key.
func anyHas(data starlark.Value, key string) bool {
	evs, err := events(data, "")
	if err != nil {
		return false
	}
	for _, ev := range evs {
		for _, kv := range ev.Items() {
			if m, ok := kv[1].(starlark.Mapping); ok && (fields{m}).has(key) {
				return true
			}
		}
	}
	return false
}
