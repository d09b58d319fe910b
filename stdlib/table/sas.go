package table

import (
	"encoding/hex"
	"fmt"
	"strings"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/stdlib/x509"
)

// writeSAs renders what vici.list_sas returns as swanctl --list-sas does.
func writeSAs(w *strings.Builder, data starlark.Value, r *listRun) error {
	return eachNamed(r, w, data, "vici.list_sas", "IKE_SA", func(w *strings.Builder, name string, sa starlark.Mapping) error {
		return writeIKE(w, name, fields{sa})
	})
}

// eachNamed calls write for every {name: {...}} entry of the events of a
// streamed listing (list-sa, list-conn, list-policy, list-authority), in
// the order the daemon sent them, until the run is interrupted. Errors
// name what the entry is and its name.
func eachNamed(r *listRun, w *strings.Builder, data starlark.Value, source, what string,
	write func(w *strings.Builder, name string, entry starlark.Mapping) error) error {
	evs, err := events(data, source)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		for _, kv := range ev.Items() {
			if err := r.tick(); err != nil {
				return err
			}
			name := text(kv[0])
			entry, ok := kv[1].(starlark.Mapping)
			if !ok {
				return fmt.Errorf("%s %s is %s, want a dict", what, name, kv[1].Type())
			}
			if err := wrongListing(entry, source); err != nil {
				return fmt.Errorf("%s %s %w, want what %s returns", what, name, err, source)
			}
			if err := write(w, name, entry); err != nil {
				return fmt.Errorf("%s %s: %w", what, name, err)
			}
		}
	}
	return nil
}

// marks are keys that charon sends in every entry of one named listing and
// in no entry of the others, by the vici call that returns it.
var marks = []struct {
	source string
	keys   []string
}{
	{"vici.list_sas", []string{"child-sas", "initiator-spi", "state"}},
	{"vici.list_conns", []string{"local_addrs", "remote_addrs", "children"}},
	{"vici.list_policies", []string{"child"}},
	{"vici.list_authorities", []string{"cacert", "crl_uris", "ocsp_uris", "cert_uri_base"}},
}

// wrongListing reports an entry that has a mark of another listing than
// source's and none of source's own: table.sas(vici.list_conns()) fails
// instead of printing "(null)" everywhere. Partial entries a script builds
// still render as swanctl would.
func wrongListing(entry starlark.Mapping, source string) error {
	has := func(keys []string) string {
		for _, k := range keys {
			if _, found, _ := entry.Get(starlark.String(k)); found {
				return k
			}
		}
		return ""
	}
	var other, key string
	for _, m := range marks {
		k := has(m.keys)
		if m.source == source && k != "" {
			return nil
		}
		if m.source != source && k != "" && other == "" {
			other, key = m.source, k
		}
	}
	if other == "" {
		return nil
	}
	return fmt.Errorf("looks like an entry of %s (it has %q)", other, key)
}

// fields reads the string values of one IKE_SA or CHILD_SA section.
type fields struct{ m starlark.Mapping }

// get returns the value of key; a list is joined with spaces. Like
// swanctl, it skips strings that are not printable ASCII (the daemon's
// values are: it writes names with '?' for other bytes) and bytes, so an
// entry of only such values, or an empty list, counts as absent. Values
// a script made of other types show as Starlark prints them.
func (f fields) get(key string) (string, bool) {
	v, found, err := f.m.Get(starlark.String(key))
	if err != nil || !found || v == starlark.None {
		return "", false
	}
	if l, ok := v.(*starlark.List); ok {
		var parts []string
		for _, x := range collect(l) {
			if s, ok := shown(x); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, " "), len(parts) > 0
	}
	return shown(v)
}

// shown returns how swanctl shows one value, and whether it shows it.
func shown(v starlark.Value) (string, bool) {
	switch v.(type) {
	case starlark.String:
		return printable(v)
	case starlark.Bytes:
		return "", false
	}
	return text(v), true
}

// has reports whether key is present.
func (f fields) has(key string) bool {
	_, ok := f.get(key)
	return ok
}

// str returns the value of key, or "(null)" when it is missing: what C's
// printf makes of the value swanctl did not find.
func (f fields) str(key string) string {
	if s, ok := f.get(key); ok {
		return s
	}
	return "(null)"
}

// section returns the dict under key (such as "child-sas"), if any.
func (f fields) section(key string) (starlark.IterableMapping, error) {
	v, found, err := f.m.Get(starlark.String(key))
	if err != nil || !found || v == starlark.None {
		return nil, err
	}
	m, ok := v.(starlark.IterableMapping)
	if !ok {
		return nil, fmt.Errorf("%s is %s, want a dict", key, v.Type())
	}
	return m, nil
}

// writeIKE writes one IKE_SA and its CHILD_SAs.
func writeIKE(w *strings.Builder, name string, ike fields) error {
	initiator := ike.str("initiator") == "yes"
	mark := func(on bool) string {
		if on {
			return "*"
		}
		return ""
	}
	fmt.Fprintf(w, "%s: #%s, %s, IKEv%s, %s_i%s %s_r%s\n", name,
		ike.str("uniqueid"), ike.str("state"), ike.str("version"),
		ike.str("initiator-spi"), mark(initiator), ike.str("responder-spi"), mark(!initiator))

	fmt.Fprintf(w, "  local  '%s' @ %s[%s]", ike.str("local-id"), ike.str("local-host"), ike.str("local-port"))
	if s, ok := ike.get("local-vips"); ok {
		fmt.Fprintf(w, " [%s]", s)
	}
	w.WriteByte('\n')
	fmt.Fprintf(w, "  remote '%s' @ %s[%s]", ike.str("remote-id"), ike.str("remote-host"), ike.str("remote-port"))
	if s, ok := ike.get("remote-eap-id"); ok {
		fmt.Fprintf(w, " EAP: '%s'", s)
	}
	if s, ok := ike.get("remote-xauth-id"); ok {
		fmt.Fprintf(w, " XAuth: '%s'", s)
	}
	if s, ok := ike.get("remote-vips"); ok {
		fmt.Fprintf(w, " [%s]", s)
	}
	w.WriteByte('\n')

	if ike.has("encr-alg") {
		parts := []string{withSize(ike, "encr-alg", "encr-keysize")}
		if ike.has("integ-alg") {
			parts = append(parts, withSize(ike, "integ-alg", "integ-keysize"))
		}
		parts = append(parts, ike.str("prf-alg"), ike.str("dh-group"))
		parts = append(parts, extraKE(ike)...)
		if ike.str("ppk") == "yes" {
			parts = append(parts, "PPK")
		}
		fmt.Fprintf(w, "  %s\n", strings.Join(parts, "/"))
	}

	if s, ok := ike.get("established"); ok {
		fmt.Fprintf(w, "  established %ss ago%s\n", s,
			timers(ike, "rekey-time", "rekeying in", "reauth-time", "reauth in", "life-time", "expires in"))
	}
	for _, t := range []struct{ key, label string }{
		{"tasks-queued", "queued: "}, {"tasks-active", "active: "}, {"tasks-passive", "passive:"},
	} {
		if s, ok := ike.get(t.key); ok {
			fmt.Fprintf(w, "  %s %s\n", t.label, s)
		}
	}

	children, err := ike.section("child-sas")
	if err != nil || children == nil {
		return err
	}
	for _, kv := range children.Items() {
		m, ok := kv[1].(starlark.Mapping)
		if !ok {
			return fmt.Errorf("CHILD_SA %s is %s, want a dict", text(kv[0]), kv[1].Type())
		}
		child := fields{m}
		name, ok := child.get("name")
		if !ok {
			name = text(kv[0])
		}
		writeChild(w, name, child)
	}
	return nil
}

// writeChild writes one CHILD_SA, indented under its IKE_SA.
func writeChild(w *strings.Builder, name string, c fields) {
	fmt.Fprintf(w, "  %s: #%s, reqid %s", name, c.str("uniqueid"), c.str("reqid"))
	if c.has("per-cpu-sas") {
		cpu, ok := c.get("cpu")
		if !ok {
			cpu = "-"
		}
		fmt.Fprintf(w, ", cpu %s", cpu)
	}
	encap := ""
	if c.has("encap") {
		encap = "-in-UDP"
	}
	fmt.Fprintf(w, ", %s, %s%s, %s:", c.str("state"), c.str("mode"), encap, c.str("protocol"))
	var algs []string
	if c.has("encr-alg") {
		algs = append(algs, withSize(c, "encr-alg", "encr-keysize"))
	}
	if c.has("integ-alg") {
		algs = append(algs, withSize(c, "integ-alg", "integ-keysize"))
	}
	for _, k := range []string{"prf-alg", "dh-group"} {
		if s, ok := c.get(k); ok {
			algs = append(algs, s)
		}
	}
	algs = append(algs, extraKE(c)...)
	if c.has("esn") {
		algs = append(algs, "ESN")
	}
	w.WriteString(strings.Join(algs, "/"))
	w.WriteByte('\n')

	fmt.Fprintf(w, "    installed %ss ago%s\n", c.str("install-time"),
		timers(c, "rekey-time", "rekeying in", "life-time", "expires in"))
	for _, dir := range []string{"in ", "out"} {
		d := strings.TrimSpace(dir)
		fmt.Fprintf(w, "    %s %s", dir, c.str("spi-"+d))
		if s, ok := c.get("cpi-" + d); ok {
			fmt.Fprintf(w, "/%s", s)
		}
		mark, hasMark := c.get("mark-" + d)
		ifID, hasIfID := c.get("if-id-" + d)
		if hasMark || hasIfID {
			w.WriteString(" (")
			if hasMark {
				fmt.Fprintf(w, "0x%s", mark)
				if s, ok := c.get("mark-mask-" + d); ok {
					fmt.Fprintf(w, "/0x%s", s)
				}
			} else {
				w.WriteString("-")
			}
			if hasIfID {
				fmt.Fprintf(w, "|0x%s", ifID)
			}
			w.WriteString(")")
		}
		fmt.Fprintf(w, ", %6s bytes, %5s packets", c.str("bytes-"+d), c.str("packets-"+d))
		if s, ok := c.get("use-" + d); ok {
			fmt.Fprintf(w, ", %5ss ago", s)
		}
		w.WriteByte('\n')
	}
	if s, ok := label(c); ok {
		fmt.Fprintf(w, "    label  %s\n", s)
	}
	fmt.Fprintf(w, "    local  %s\n", c.str("local-ts"))
	fmt.Fprintf(w, "    remote %s\n", c.str("remote-ts"))
}

// withSize returns an algorithm name with its key size, as in AES_CBC-128.
func withSize(f fields, alg, size string) string {
	if s, ok := f.get(size); ok {
		return f.str(alg) + "-" + s
	}
	return f.str(alg)
}

// extraKE returns the additional key exchanges ake1..ake7 as KEn_<method>.
func extraKE(f fields) []string {
	var out []string
	for i := 1; i <= 7; i++ {
		if s, ok := f.get(fmt.Sprintf("ake%d", i)); ok {
			out = append(out, fmt.Sprintf("KE%d_%s", i, s))
		}
	}
	return out
}

// timers formats the present timers of keyAndLabel pairs as
// ", rekeying in 3289s, expires in 3957s".
func timers(f fields, keyAndLabel ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(keyAndLabel); i += 2 {
		if s, ok := f.get(keyAndLabel[i]); ok {
			fmt.Fprintf(&b, ", %s %ss", keyAndLabel[i+1], s)
		}
	}
	return b.String()
}

// label returns the security label of a CHILD_SA, child config or policy
// as swanctl prints it. The daemon sends the label's encoding in hex (a
// string with its terminating NUL); swanctl decodes it, drops the NUL and
// shows bytes outside printable ASCII as '?'. An empty label, or one that
// is not hex, is not shown.
func label(f fields) (string, bool) {
	s, ok := f.get("label")
	if !ok {
		return "", false
	}
	s = strings.TrimPrefix(strings.ReplaceAll(s, ":", ""), "0x")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) == 0 || len(b) == 1 && b[0] == 0 {
		return "", false
	}
	if b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return x509.ASCII(string(b)), true
}
