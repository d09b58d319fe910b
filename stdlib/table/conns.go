package table

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
)

// writeConns renders what vici.list_conns returns as swanctl --list-conns
// does.
func writeConns(w *strings.Builder, data starlark.Value, r *listRun) error {
	return eachNamed(r, w, data, "vici.list_conns", "connection", func(w *strings.Builder, name string, conn starlark.Mapping) error {
		m, ok := conn.(starlark.IterableMapping)
		if !ok {
			return fmt.Errorf("is %s, want an iterable dict", conn.Type())
		}
		return writeConn(w, name, m)
	})
}

// orZero returns the value of key, or "0" when it is missing.
func (f fields) orZero(key string) string {
	if s, ok := f.get(key); ok {
		return s
	}
	return "0"
}

// writeConn writes one loaded connection the way swanctl --list-conns does:
// a summary line, then the addresses, authentication rounds and children in
// the order the daemon sent them.
func writeConn(w *strings.Builder, name string, m starlark.IterableMapping) error {
	conn := fields{m}
	version, _ := conn.get("version")
	reauth, rekey, dpd := conn.orZero("reauth_time"), conn.orZero("rekey_time"), conn.orZero("dpd_delay")
	fmt.Fprintf(w, "%s: %s, ", name, version)
	if version == "IKEv1" && reauth == "0" {
		reauth = rekey // IKEv1 has no rekeying, only reauthentication
	}
	if reauth == "0" {
		w.WriteString("no reauthentication")
	} else {
		fmt.Fprintf(w, "reauthentication every %ss", reauth)
	}
	if version != "IKEv1" {
		if rekey == "0" {
			w.WriteString(", no rekeying")
		} else {
			fmt.Fprintf(w, ", rekeying every %ss", rekey)
		}
	}
	if dpd != "0" {
		fmt.Fprintf(w, ", dpd delay %ss", dpd)
	}
	w.WriteByte('\n')

	ppkID, hasID := conn.get("ppk_id")
	ppkReq, hasReq := conn.get("ppk_required")
	if hasID || hasReq {
		w.WriteString("  ppk: ")
		if hasID {
			w.WriteString(ppkID + ", ")
		}
		if ppkReq != "yes" {
			w.WriteString("not ")
		}
		w.WriteString("required\n")
	}

	for _, kv := range m.Items() {
		key := text(kv[0])
		switch {
		case key == "local_addrs" || key == "remote_addrs":
			side := strings.TrimSuffix(key, "_addrs")
			port := ""
			if p, ok := conn.get(side + "_port"); ok {
				port = "[" + p + "]"
			}
			label := side + ":"
			for _, addr := range items(kv[1]) {
				fmt.Fprintf(w, "  %-7s %s%s\n", label, addr, port)
			}
		case key == "children":
			children, ok := kv[1].(starlark.IterableMapping)
			if !ok {
				return fmt.Errorf("children is %s, want a dict", kv[1].Type())
			}
			for _, ckv := range children.Items() {
				child, ok := ckv[1].(starlark.Mapping)
				if !ok {
					return fmt.Errorf("child %s is %s, want a dict", text(ckv[0]), ckv[1].Type())
				}
				writeConnChild(w, text(ckv[0]), fields{child}, dpd)
			}
		case strings.HasPrefix(key, "local") || strings.HasPrefix(key, "remote"):
			if auth, ok := kv[1].(starlark.Mapping); ok {
				side := "remote"
				if strings.HasPrefix(key, "local") {
					side = "local"
				}
				writeAuth(w, side, fields{auth})
			}
		}
	}
	return nil
}

// items returns the items of a list value (or the value itself) that
// swanctl shows: printable ASCII strings.
func items(v starlark.Value) []string {
	vals := []starlark.Value{v}
	if l, ok := v.(*starlark.List); ok {
		vals = collect(l)
	}
	var out []string
	for _, x := range vals {
		if s, ok := shown(x); ok {
			out = append(out, s)
		}
	}
	return out
}

// writeAuth writes one authentication round of a connection.
func writeAuth(w *strings.Builder, side string, auth fields) {
	class, ok := auth.get("class")
	if !ok {
		class = "unspecified"
	}
	if strings.EqualFold(class, "EAP") {
		if t, ok := auth.get("eap-type"); ok {
			class = t
		}
	}
	fmt.Fprintf(w, "  %s %s authentication:\n", side, class)
	for _, f := range []struct{ key, label string }{
		{"id", "id"}, {"ca_id", "ca_id"}, {"eap_id", "eap_id"}, {"xauth_id", "xauth_id"},
		{"aaa_id", "aaa_id"}, {"groups", "groups"}, {"cert_policy", "cert policy"},
		{"certs", "certs"}, {"cacerts", "cacerts"},
	} {
		if s, ok := auth.get(f.key); ok {
			fmt.Fprintf(w, "    %s: %s\n", f.label, s)
		}
	}
}

// writeConnChild writes one child configuration; dpd is the connection's
// DPD delay, which decides whether the DPD action is shown.
func writeConnChild(w *strings.Builder, name string, c fields, dpd string) {
	mode := c.str("mode")
	fmt.Fprintf(w, "  %s: %s, ", name, mode)
	var every []string
	if s := c.orZero("rekey_time"); s != "0" {
		every = append(every, s+"s")
	}
	if s := c.orZero("rekey_bytes"); s != "0" {
		every = append(every, s+" bytes")
	}
	if s := c.orZero("rekey_packets"); s != "0" {
		every = append(every, s+" packets")
	}
	if strings.EqualFold(mode, "PASS") || strings.EqualFold(mode, "DROP") || len(every) == 0 {
		w.WriteString("no rekeying")
	} else {
		w.WriteString("rekeying every " + strings.Join(every, " or "))
	}
	if dpd != "0" {
		fmt.Fprintf(w, ", dpd action is %s", c.str("dpd_action"))
	}
	w.WriteByte('\n')
	if s, ok := label(c); ok {
		fmt.Fprintf(w, "    label:  %s\n", s)
	}
	fmt.Fprintf(w, "    local:  %s\n", c.str("local-ts"))
	fmt.Fprintf(w, "    remote: %s\n", c.str("remote-ts"))
	if s, ok := c.get("interface"); ok {
		fmt.Fprintf(w, "    interface: %s\n", s)
	}
	if s, ok := c.get("priority"); ok {
		fmt.Fprintf(w, "    priority: %s\n", s)
	}
}
