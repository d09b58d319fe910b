package table

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
)

// writeAuthorities renders what vici.list_authorities returns as swanctl
// --list-authorities does: the name, then each printable value and list
// item in the daemon's order. Like swanctl, every OCSP URI carries the
// "ocsp_uris:" label while only the first CRL URI carries "crl_uris:".
func writeAuthorities(w *strings.Builder, data starlark.Value, r *listRun) error {
	return eachNamed(r, w, data, "vici.list_authorities", "authority", func(w *strings.Builder, name string, m starlark.Mapping) error {
		auth, err := asMapping(m, "it")
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s:\n", name)
		crlLabeled := false
		for _, kv := range auth.Items() {
			key := text(kv[0])
			if l, ok := kv[1].(*starlark.List); ok {
				for _, item := range collect(l) {
					if err := r.tick(); err != nil {
						return err
					}
					s, ok := printable(item)
					if !ok {
						continue
					}
					switch key {
					case "crl_uris":
						label := "crl_uris: "
						if crlLabeled {
							label = "          "
						}
						crlLabeled = true
						fmt.Fprintf(w, "  %s %s\n", label, s)
					case "ocsp_uris":
						fmt.Fprintf(w, "  ocsp_uris: %s\n", s)
					}
				}
				continue
			}
			if s, ok := printable(kv[1]); ok {
				fmt.Fprintf(w, "  %s: %s\n", key, s)
			}
		}
		return nil
	})
}
