package starlarkvici

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Command describes one VICI command as the module exposes it. A single
// table of these drives the builtins, help(), REPL completion and the
// reference in docs/reference.md.
type Command struct {
	Name  string // Starlark name, e.g. "list_sas"
	Wire  string // VICI command name, e.g. "list-sas"
	Event string // event streamed while the command runs ("" if none)
	Doc   string // one-line description
	Reply string // the reply's shape, for help()
	Keys  []Key  // documented request keys, usable as keyword arguments
	// Log is true for commands that stream control-log and take log=fn.
	Log bool
	// AllFlags names presence keys that are all sent when the caller turns
	// none of them on (swanctl's default for list-pols: trap, drop, pass).
	AllFlags []string

	schema *schema // load_conn, load_pool, load_authority: list/value keys

	// Derived once, when the table is built (see prepare).
	top      *schema        // checks the top-level request: schema, or the typed keys
	keywords map[string]Key // the keys by keyword spelling
	kwNames  []string       // every keyword argument, in order, for completion
}

// prepare derives c's indexes from its fields.
func (c *Command) prepare() {
	c.top = c.schema
	c.keywords = make(map[string]Key, len(c.Keys))
	if c.top == nil && len(c.Keys) > 0 {
		c.top = &schema{what: "request", types: map[string]KeyType{}}
	}
	for _, k := range c.Keys {
		c.keywords[k.Keyword()] = k
		c.kwNames = append(c.kwNames, k.Keyword())
		c.top.types[k.Name] = k.Type
		if k.Credential {
			if c.top.creds == nil {
				c.top.creds = map[string]bool{}
			}
			c.top.creds[k.Name] = true
		}
	}
	if c.Log {
		c.kwNames = append(c.kwNames, "log")
	}
	if c.Streamed() {
		c.kwNames = append(c.kwNames, "each")
	}
	c.kwNames = append(c.kwNames, "deadline", "check")
}

// event returns the event to collect for a streamed command, or "".
func (c *Command) event() string {
	if c.Streamed() {
		return c.Event
	}
	return ""
}

// commandIndex is the command table with its indexes.
type commandIndex struct {
	list   []Command
	byName map[string]*Command // by builtin name, "list_sas"
	byWire map[string]*Command // by wire name, "list-sas"
}

// commands returns the command table, built on first use and then shared,
// read-only, by every module, session and help text.
var commands = sync.OnceValue(func() *commandIndex {
	t := &commandIndex{list: commandList()}
	t.byName = make(map[string]*Command, len(t.list))
	t.byWire = make(map[string]*Command, len(t.list))
	for i := range t.list {
		c := &t.list[i]
		c.prepare()
		t.byName[c.Name] = c
		t.byWire[c.Wire] = c
	}
	return t
})

// lookup finds a command by builtin or wire name.
func (t *commandIndex) lookup(name string) (*Command, bool) {
	if c, ok := t.byName[name]; ok {
		return c, true
	}
	c, ok := t.byWire[name]
	return c, ok
}

// Key is one documented request key of a command.
type Key struct {
	Name string  // wire name, e.g. "ike-id" (keyword ike_id)
	Doc  string  // what it does
	Type KeyType // how the daemon reads it, so what the keyword takes
	// Credential marks a key whose value is a certificate or key itself
	// (PEM or DER), where swanctl.conf would name a file.
	Credential bool
}

// KeyType is how charon reads a request key (vici_message.c's get_str,
// get_value, get_int, get_bool, a presence test, or a list), and so what
// the keyword takes. A value of another type is refused before anything is
// sent: charon would read a list where it wants one value as missing, and
// a filter left out widens a command to every SA.
type KeyType int

const (
	// Str is one value read as text: a str.
	Str KeyType = iota
	// Bytes is one value read as raw data: a str or bytes.
	Bytes
	// Int is one value read as an integer: an int, or a str of its digits
	// (as list_sas returns unique ids).
	Int
	// Bool is one value read as yes or no: a bool.
	Bool
	// Flag is on whenever present, whatever its value: True sends it,
	// False leaves it out.
	Flag
	// List is a list of values: a list or tuple of str (a str is sent as a
	// one-item list).
	List
	// Timeout is charon's timeout in milliseconds, given as every vicish
	// duration is: seconds (int or float), "500ms", "5s", a time.duration;
	// 0 waits for the result and -1 returns at once, as in VICI.
	Timeout
)

// String names the type as help() and the reference show it.
func (t KeyType) String() string {
	switch t {
	case Str:
		return "str"
	case Bytes:
		return "str or bytes"
	case Int:
		return "int"
	case Bool:
		return "bool"
	case Flag:
		return "flag"
	case List:
		return "list of str"
	case Timeout:
		return "duration"
	}
	return fmt.Sprintf("KeyType(%d)", int(t))
}

// Keyword returns the keyword-argument spelling of the key: "-" becomes
// "_", and a Starlark reserved word gets a trailing "_" (pass_).
func (k Key) Keyword() string {
	kw := strings.ReplaceAll(k.Name, "-", "_")
	switch kw {
	case "pass", "and", "break", "continue", "def", "elif", "else", "for", "if", "in", "lambda",
		"load", "not", "or", "return", "while", "as", "assert", "class", "del", "except",
		"finally", "from", "global", "import", "is", "nonlocal", "raise", "try", "with", "yield":
		kw += "_"
	}
	return kw
}

// Streamed reports whether the command streams one event per result entry
// (list_sas and friends). initiate and terminate stream control-log
// events, which go to log= instead and do not count as streamed.
func (c Command) Streamed() bool { return c.Event != "" && !c.Log }

const (
	replySuccess = "{success, errmsg}"
	replyStream  = "list of entries, one per streamed event (or None with each=)"
)

var (
	keyChild   = Key{Name: "child", Doc: "CHILD_SA configuration name"}
	keyIke     = Key{Name: "ike", Doc: "IKE_SA configuration name"}
	keyChildID = Key{Name: "child-id", Doc: "unique id of a CHILD_SA", Type: Int}
	keyIkeID   = Key{Name: "ike-id", Doc: "unique id of an IKE_SA", Type: Int}
	keyLogLvl  = Key{Name: "loglevel", Doc: "highest log level to stream as control-log (default 1)", Type: Int}
	keyTimeout = Key{Name: "timeout", Type: Timeout,
		Doc: "how long the daemon waits for the result, in seconds or as \"500ms\", \"5s\" (sent as milliseconds; at most 3600 as a bare number); 0 waits until done, -1 returns at once"}
)

// commandList returns the 36 commands of the VICI protocol (strongSwan
// 5.9.8 to 6.0), in the order of the plugin's README. Use commands.
func commandList() []Command {
	return []Command{
		{Name: "version", Wire: "version", Doc: "Daemon name, version and host system.",
			Reply: "{daemon, version, sysname, release, machine}"},
		{Name: "stats", Wire: "stats", Doc: "Daemon statistics: uptime, workers, queues, IKE_SA counts, plugins.",
			Reply: "{uptime{running, since}, workers{...}, queues{...}, scheduled, ikesas{total, half-open}, plugins[], mem{...}}"},
		{Name: "reload_settings", Wire: "reload-settings", Doc: "Reload strongswan.conf settings and the plugins that support it.",
			Reply: replySuccess},
		{Name: "initiate", Wire: "initiate", Event: "control-log", Log: true,
			Doc:   "Initiate a CHILD_SA (and its IKE_SA) from a loaded connection.",
			Reply: replySuccess,
			Keys: []Key{keyChild, {Name: "ike", Doc: "IKE_SA configuration name to initiate or to find the child under"},
				keyTimeout, {Name: "init-limits", Doc: "whether IKE_SA initiation limits apply", Type: Bool}, keyLogLvl}},
		{Name: "terminate", Wire: "terminate", Event: "control-log", Log: true,
			Doc:   "Terminate SAs by configuration name or unique id.",
			Reply: "{success, matches, terminated, errmsg}",
			Keys: []Key{keyChild, keyIke, keyChildID, keyIkeID,
				{Name: "force", Doc: "delete the IKE_SA without waiting for the peer's DELETE reply", Type: Bool},
				keyTimeout, keyLogLvl}},
		{Name: "rekey", Wire: "rekey", Doc: "Rekey SAs by configuration name or unique id.",
			Reply: "{success, matches, errmsg}",
			Keys: []Key{keyChild, keyIke, keyChildID, keyIkeID,
				{Name: "reauth", Doc: "reauthenticate an IKEv2 SA instead of rekeying it", Type: Bool}}},
		{Name: "redirect", Wire: "redirect", Doc: "Redirect a client-initiated IKE_SA to another gateway (IKEv2).",
			Reply: "{success, matches, errmsg}",
			Keys: []Key{keyIke, keyIkeID,
				{Name: "peer-ip", Doc: "match the peer's IP address, subnet (CIDR) or range"},
				{Name: "peer-id", Doc: "match the peer's identity (wildcards allowed)"},
				{Name: "gateway", Doc: "the gateway to redirect to (required)"}}},
		{Name: "install", Wire: "install", Doc: "Install the trap, drop or bypass policy of a CHILD_SA configuration.",
			Reply: replySuccess, Keys: []Key{keyChild, {Name: "ike", Doc: "IKE_SA configuration name to find the child under"}}},
		{Name: "uninstall", Wire: "uninstall", Doc: "Uninstall the trap, drop or bypass policy of a CHILD_SA configuration.",
			Reply: replySuccess, Keys: []Key{keyChild, {Name: "ike", Doc: "IKE_SA configuration name to find the child under"}}},
		{Name: "list_sas", Wire: "list-sas", Event: "list-sa", Doc: "List active IKE_SAs and their CHILD_SAs.",
			Reply: replyStream + ": {<ike>: {uniqueid, state, local-host, ..., child-sas: {...}}}",
			Keys: []Key{{Name: "noblock", Doc: "do not wait for SAs in use by other threads", Type: Flag},
				{Name: "ike", Doc: "only IKE_SAs of this configuration name"},
				{Name: "ike-id", Doc: "only the IKE_SA with this unique id", Type: Int},
				{Name: "child", Doc: "only CHILD_SAs of this configuration name"},
				{Name: "child-id", Doc: "only the CHILD_SA with this unique id", Type: Int}}},
		{Name: "list_policies", Wire: "list-policies", Event: "list-policy",
			Doc:      "List installed trap, drop and bypass policies (all three unless trap/drop/pass_=True narrows it, as swanctl --list-pols).",
			Reply:    replyStream + ": {<ike>/<child>: {child, reqid (trap policies, strongSwan 6.0.2+), ike, mode, local-ts[], remote-ts[]}}",
			AllFlags: []string{"trap", "drop", "pass"},
			Keys: []Key{{Name: "drop", Doc: "list drop policies", Type: Flag},
				{Name: "pass", Doc: "list bypass policies", Type: Flag},
				{Name: "trap", Doc: "list trap policies", Type: Flag},
				{Name: "child", Doc: "only this CHILD_SA configuration name"},
				{Name: "ike", Doc: "only this IKE_SA configuration name"}}},
		{Name: "list_conns", Wire: "list-conns", Event: "list-conn", Doc: "List loaded connections from every backend.",
			Reply: replyStream + ": {<conn>: {local_addrs[], remote_addrs[], version, ..., children: {...}}}",
			Keys:  []Key{{Name: "ike", Doc: "only the connection of this name"}}},
		{Name: "get_conns", Wire: "get-conns", Doc: "Names of the connections loaded over vici.",
			Reply: "{conns[]}"},
		{Name: "list_certs", Wire: "list-certs", Event: "list-cert", Doc: "List loaded certificates (data is DER bytes).",
			Reply: replyStream + ": {type, flag, has_privkey, data, subject, not-before, not-after}",
			Keys: []Key{{Name: "type", Doc: "X509, X509_AC, X509_CRL, OCSP_RESPONSE, PUBKEY or ANY"},
				{Name: "flag", Doc: "NONE, CA, AA, OCSP or ANY"},
				{Name: "subject", Doc: "only certificates with this subject"}}},
		{Name: "list_authorities", Wire: "list-authorities", Event: "list-authority", Doc: "List loaded certification authorities.",
			Reply: replyStream + ": {<name>: {cacert, crl_uris[], ocsp_uris[], cert_uri_base}}",
			Keys:  []Key{{Name: "name", Doc: "only the authority of this name"}}},
		{Name: "get_authorities", Wire: "get-authorities", Doc: "Names of the loaded certification authorities.",
			Reply: "{authorities[]}"},
		{Name: "load_conn", Wire: "load-conn", Doc: "Load or replace a connection: load_conn({name: {swanctl.conf connection settings}}).",
			Reply: replySuccess, schema: loadConnSchema()},
		{Name: "unload_conn", Wire: "unload-conn", Doc: "Unload a connection loaded over vici.",
			Reply: replySuccess, Keys: []Key{{Name: "name", Doc: "connection name"}}},
		{Name: "load_cert", Wire: "load-cert", Doc: "Load a certificate.",
			Reply: replySuccess,
			Keys: []Key{{Name: "type", Doc: "X509, X509_AC or X509_CRL"},
				{Name: "flag", Doc: "NONE, CA, AA or OCSP"},
				{Name: "data", Doc: "PEM or DER certificate (not a file name: read the file with file.read)", Type: Bytes, Credential: true}}},
		{Name: "load_key", Wire: "load-key", Doc: "Load a private key.",
			Reply: "{success, errmsg, id}",
			Keys: []Key{{Name: "type", Doc: "rsa, ecdsa, ed25519, ed448 or any"},
				{Name: "data", Doc: "PEM or DER key (not a file name: read the file with file.read)", Type: Bytes, Credential: true}}},
		{Name: "unload_key", Wire: "unload-key", Doc: "Unload a private key by its key identifier.",
			Reply: replySuccess, Keys: []Key{{Name: "id", Doc: "hex SHA-1 key identifier"}}},
		{Name: "get_keys", Wire: "get-keys", Doc: "Identifiers of the private keys loaded over vici.",
			Reply: "{keys[]}"},
		{Name: "load_token", Wire: "load-token", Doc: "Load a private key stored on a PKCS#11 token.",
			Reply: "{success, errmsg, id}",
			Keys: []Key{{Name: "handle", Doc: "hex CKA_ID of the key on the token"},
				{Name: "slot", Doc: "slot number", Type: Int},
				{Name: "module", Doc: "PKCS#11 module"},
				{Name: "pin", Doc: "PIN to access the key"}}},
		{Name: "load_shared", Wire: "load-shared", Doc: "Load a shared secret (IKE PSK, EAP, XAuth, NTLM).",
			Reply: replySuccess,
			Keys: []Key{{Name: "id", Doc: "unique identifier of this secret"},
				{Name: "type", Doc: "IKE, EAP, XAUTH, NTLM (or PPK)"},
				{Name: "data", Doc: "the secret", Type: Bytes},
				{Name: "owners", Doc: "owner identities", Type: List}}},
		{Name: "unload_shared", Wire: "unload-shared", Doc: "Unload a shared secret by its unique identifier.",
			Reply: replySuccess, Keys: []Key{{Name: "id", Doc: "unique identifier of the secret"}}},
		{Name: "get_shared", Wire: "get-shared", Doc: "Identifiers of the shared secrets loaded over vici.",
			Reply: "{keys[]}"},
		{Name: "flush_certs", Wire: "flush-certs", Doc: "Flush the certificate cache.",
			Reply: replySuccess,
			Keys:  []Key{{Name: "type", Doc: "only this type: X509, X509_AC, X509_CRL, OCSP_RESPONSE, PUBKEY or ANY"}}},
		{Name: "clear_creds", Wire: "clear-creds", Doc: "Clear every credential loaded over vici and flush the cache.",
			Reply: replySuccess},
		{Name: "load_authority", Wire: "load-authority", Doc: "Load or replace a certification authority: load_authority({name: {settings}}).",
			Reply: replySuccess, schema: loadAuthoritySchema()},
		{Name: "unload_authority", Wire: "unload-authority", Doc: "Unload a certification authority.",
			Reply: replySuccess, Keys: []Key{{Name: "name", Doc: "authority name"}}},
		{Name: "load_pool", Wire: "load-pool", Doc: "Load or update a virtual IP and attribute pool: load_pool({name: {addrs, dns[], ...}}).",
			Reply: replySuccess, schema: loadPoolSchema()},
		{Name: "unload_pool", Wire: "unload-pool", Doc: "Unload a pool (fails while leases are online).",
			Reply: replySuccess, Keys: []Key{{Name: "name", Doc: "pool name"}}},
		{Name: "get_pools", Wire: "get-pools", Doc: "Loaded pools with their usage and, optionally, leases.",
			Reply: "{<pool>: {base, size, online, offline, leases{<n>: {address, identity, status}}}}",
			Keys: []Key{{Name: "leases", Doc: "include the leases", Type: Bool},
				{Name: "name", Doc: "only the pool of this name"}}},
		{Name: "get_algorithms", Wire: "get-algorithms", Doc: "Loaded algorithms and the plugins implementing them.",
			Reply: "{<type>: {<algorithm>: <plugin>}}"},
		{Name: "get_counters", Wire: "get-counters", Doc: "Global or per-connection IKE event counters.",
			Reply: "{counters{<name or \"\">: {<counter>: <n>}}, success, errmsg}",
			Keys: []Key{{Name: "name", Doc: "connection name (omit for the global counters)"},
				{Name: "all", Doc: "counters of every connection", Type: Bool}}},
		{Name: "reset_counters", Wire: "reset-counters", Doc: "Reset global or per-connection IKE event counters.",
			Reply: replySuccess,
			Keys: []Key{{Name: "name", Doc: "connection name (omit for the global counters)"},
				{Name: "all", Doc: "reset the counters of every connection", Type: Bool}}},
	}
}

// Commands returns the command table, one entry per VICI command, in the
// order of the plugin's README.
func Commands() []Command { return slices.Clone(commands().list) }

// EventInfo describes an event a script can register for with vici.on.
type EventInfo struct {
	Name  string // event name on the wire
	Doc   string // when it is raised
	Since string // first strongSwan release raising it ("" = all supported)
}

// Events returns the events the daemon can raise.
func Events() []EventInfo {
	return []EventInfo{
		{Name: "ike-updown", Doc: "an IKE_SA went up or down: {up, <ike>: {...}}"},
		{Name: "ike-rekey", Doc: "an IKE_SA was rekeyed: {<ike>: {old{...}, new{...}}}"},
		{Name: "ike-update", Doc: "an IKE_SA's endpoints changed"},
		{Name: "child-updown", Doc: "a CHILD_SA went up or down: {up, <ike>: {..., child-sas{...}}}"},
		{Name: "child-rekey", Doc: "a CHILD_SA was rekeyed"},
		{Name: "log", Doc: "every daemon log message of level 0 and 1"},
		{Name: "control-log", Doc: "log messages of this client's initiate/terminate"},
		{Name: "list-sa", Doc: "streamed by list_sas"},
		{Name: "list-policy", Doc: "streamed by list_policies"},
		{Name: "list-conn", Doc: "streamed by list_conns"},
		{Name: "list-cert", Doc: "streamed by list_certs"},
		{Name: "list-authority", Doc: "streamed by list_authorities"},
		{Name: "alert", Doc: "an error or notable condition: {type, ike-sa{...}}", Since: "6.0.3"},
		{Name: ReconnectEvent, Doc: "vicish's own, not the daemon's: a vici.connect(reconnect=True) session redialled and registered its events again; events meanwhile were lost: {uri}"},
	}
}
