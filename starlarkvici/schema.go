package starlarkvici

import "strings"

// schema says, for one section of a load-conn, load-pool or load-authority
// request, which keys the daemon wants as lists and which as single values,
// and what the subsections look like. Keys it does not know pass through
// unchecked, so a newer daemon's options still work.
type schema struct {
	what     string          // what the section is, for messages ("connection", "child")
	lists    map[string]bool // keys sent as lists
	values   map[string]bool // keys sent as single values
	allLists bool            // every key not in values is a list (pool attributes)
	// types are the typed keys of a command's request (the table's Keys),
	// matched by exact name as charon does.
	types map[string]KeyType
	// creds names keys whose values are certificates or keys themselves,
	// not file names.
	creds map[string]bool
	// sub returns the schema of subsection name, or nil if name is not a
	// known subsection.
	sub func(name string) *schema
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// kind returns "list", "value", "section" or "" (unknown) for key name.
// Like the daemon, it matches names without regard to case.
func (s *schema) kind(name string) string {
	n := strings.ToLower(name)
	switch {
	case s.lists[n]:
		return "list"
	case s.values[n]:
		return "value"
	case s.sub != nil && s.sub(n) != nil:
		return "section"
	case s.allLists:
		return "list"
	}
	return ""
}

// typeOf returns the type of a typed request key.
func (s *schema) typeOf(name string) (KeyType, bool) {
	if s == nil {
		return 0, false
	}
	t, ok := s.types[name]
	return t, ok
}

// credential reports whether key name holds a certificate or key itself.
func (s *schema) credential(name string) bool {
	return s != nil && s.creds[strings.ToLower(name)]
}

// wrapper is the schema of a load-* request's top level: each key names
// one object whose settings are a section described by inner.
func wrapper(inner *schema) *schema {
	return &schema{what: "request", sub: func(string) *schema { return inner }}
}

// loadConnSchema follows the parse rules of the vici plugin's
// vici_config.c: peer, auth round, certificate and child sections.
func loadConnSchema() *schema {
	cert := &schema{what: "certificate", values: set("handle", "slot", "module", "file")}
	auth := &schema{
		what:   "authentication round",
		lists:  set("groups", "cert_policy", "certs", "cacerts", "pubkeys"),
		creds:  set("certs", "cacerts", "pubkeys"),
		values: set("auth", "id", "ca_id", "aaa_id", "eap_id", "xauth_id", "revocation", "round"),
		sub: func(n string) *schema {
			if strings.HasPrefix(n, "cert") || strings.HasPrefix(n, "cacert") {
				return cert
			}
			return nil
		},
	}
	child := &schema{
		what:  "child",
		lists: set("ah_proposals", "esp_proposals", "local_ts", "remote_ts"),
		values: set("updown", "hostaccess", "mode", "policies", "policies_fwd_out", "replay_window",
			"rekey_time", "life_time", "rand_time", "rekey_bytes", "life_bytes", "rand_bytes",
			"rekey_packets", "life_packets", "rand_packets", "dpd_action", "start_action",
			"close_action", "ipcomp", "inactivity", "reqid", "mark_in", "mark_in_sa", "mark_out",
			"set_mark_in", "set_mark_out", "tfc_padding", "priority", "interface", "hw_offload",
			"sha256_96", "copy_df", "copy_ecn", "copy_dscp", "icmp", "if_id_in", "if_id_out",
			"label", "label_mode", "per_cpu_sas"),
	}
	children := &schema{what: "children", sub: func(string) *schema { return child }}
	conn := &schema{
		what:  "connection",
		lists: set("local_addrs", "remote_addrs", "proposals", "vips", "pools"),
		values: set("version", "aggressive", "pull", "dscp", "encap", "mobike", "dpd_delay",
			"dpd_timeout", "fragmentation", "childless", "send_certreq", "send_cert", "ocsp",
			"keyingtries", "unique", "local_port", "remote_port", "reauth_time", "rekey_time",
			"over_time", "rand_time", "ppk_id", "ppk_required", "if_id_in", "if_id_out",
			"mediation", "mediated_by", "mediation_peer"),
		sub: func(n string) *schema {
			switch {
			case n == "children":
				return children
			case strings.HasPrefix(n, "local"), strings.HasPrefix(n, "remote"):
				return auth
			}
			return nil
		},
	}
	// local_addrs etc. start with "local"/"remote" too; lists and values
	// are checked before subsections, so they are never taken for rounds.
	return wrapper(conn)
}

// loadPoolSchema: addrs is a single value, every attribute a list
// (vici_attribute.c pool_kv / pool_li).
func loadPoolSchema() *schema {
	return wrapper(&schema{what: "pool", values: set("addrs"), allLists: true})
}

// loadAuthoritySchema follows vici_authority.c authority_kv / authority_li.
func loadAuthoritySchema() *schema {
	return wrapper(&schema{
		what:   "authority",
		lists:  set("crl_uris", "ocsp_uris"),
		values: set("cacert", "file", "handle", "slot", "module", "cert_uri_base"),
		creds:  set("cacert"),
	})
}
