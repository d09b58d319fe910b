package starlarkvici

import (
	"fmt"
	"slices"
	"strings"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/registry"
)

// function is one vici function that is not a VICI command: its
// parameters, its doc, and the Go function behind it on a session and,
// where it differs, on the module itself.
type function struct {
	name    string
	params  []registry.Param
	doc     string
	session func(s *Session, thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)
	module  func(m *Module, thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)
}

// otherBuiltins are the vici functions that are not commands; newSession
// and NewModule register them from this table, and help reads it.
func otherBuiltins() []function {
	p := registry.MustParams
	return []function{
		{name: "call", params: p("command, msg=None, /, *, deadline=None, check=True, **keys"), session: (*Session).call,
			doc: "Run any command by its wire name (a newer daemon's too) and return the reply dict. Keywords are request keys, \"_\" written as \"-\"; a known command's keys are typed as for its function (timeout= in seconds)."},
		{name: "stream", params: p("command, event, msg=None, /, *, each=None, deadline=None, check=True, **keys"), session: (*Session).stream,
			doc: "Run any streamed command; return one dict per streamed event, or call each(entry) per entry and return None."},
		{name: "connect", params: p("uri=None, deadline=None, reconnect=False, name=None"), module: (*Module).connect,
			doc: "Open a session to a daemon (default: the module's URI). A session has every function listed here plus .name, .uri and .close(). reconnect=True redials after the daemon restarts."},
		{name: "use", params: p("uri"), module: (*Module).use,
			doc: "Point the default session (the functions called on vici itself) at the daemon at uri, e.g. from a REPL started without one: it connects there, then closes the old connection. Refused while it has on() callbacks; a remote URI needs --allow-net, as for connect."},
		{name: "group", params: p("members, deadline=None, reconnect=False"), module: (*Module).group,
			doc: "A group of sessions from {name: uri or session}: its commands run on every member at once and return {name: reply}, {\"error\": message, \"reason\": why} for a member that failed (why: unreachable, timeout, protocol, refused or budget). g.batch([command, ...]) runs several commands on each member in turn. It also has on, off, listen, wait (returns (name, data)) and close; g[name] is a member."},
		{name: "on", params: p("event, fn"), session: (*Session).on,
			doc: "Register fn(name, data) for an event; a fn with a parameter named session also gets the session the event came from. Events queue from now on and reach fn inside listen()."},
		{name: "off", params: p("event, fn=None"), session: (*Session).off,
			doc: "Remove fn, or every callback, for an event; with none left the daemon stops sending it."},
		{name: "listen", params: p("timeout=None, count=None, keep_going=False"), session: (*Session).listen, module: (*Module).listenAll,
			doc: "Run event callbacks on this thread, in arrival order (vici.listen: of every session the script opened; s.listen: of s only), until timeout seconds pass, count events were handled, a callback calls stop(), or the host cancels. Returns the number of events handled. keep_going=True reports callback errors on stderr and goes on."},
		{name: "wait", params: p("event, match=None, timeout=None, session=False"), session: (*Session).wait, module: (*Module).waitAll,
			doc: "Return the data of the first event for which match(data) is true, or None after timeout seconds (vici.wait: the earliest of every session the script opened; s.wait: of s only). session=True returns (session, data) instead, to tell gateways apart. Events meanwhile still reach on() callbacks later."},
		{name: "stop", session: func(s *Session, thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return s.mod.stop(thread, b, args, kwargs)
		},
			doc: "From inside a callback: make listen() return after the current event."},
		{name: "close", session: (*Session).closeBuiltin,
			doc: "Close a session made by connect()."},
	}
}

// sig is f's call form without the module: "on(event, fn)".
func (f function) sig() string { return registry.Signature(f.name, f.params) }

// keywords are the names f takes as keyword arguments.
func (f function) keywords() []string {
	var names []string
	for _, p := range f.params {
		if p.Keyword() {
			names = append(names, p.Name)
		}
	}
	return names
}

// params are the parameters of the builtin of c: the message dict
// (positional), the request keys and the options, all keywords.
func (c *Command) params() []registry.Param {
	msg := registry.Param{Name: "msg", Kind: registry.PositionalOnly, Default: "None", Type: "dict"}
	if c.schema != nil {
		msg.Default = "" // a load needs the dict
	}
	params := []registry.Param{msg}
	option := func(name, def, typ string) {
		params = append(params, registry.Param{Name: name, Kind: registry.KeywordOnly, Default: def, Type: typ})
	}
	for _, k := range c.Keys {
		option(k.Keyword(), "None", k.Type.String())
	}
	if c.Log {
		option("log", "None", "function or True")
	}
	if c.Streamed() {
		option("each", "None", "function")
	}
	option("deadline", "None", "duration")
	option("check", "True", "bool")
	return params
}

// signature renders a command builtin's signature.
func signature(c *Command) string { return registry.Signature("vici."+c.Name, c.params()) }

// typeNote says what a keyword of type t does beyond its type, for help().
func typeNote(t KeyType) string {
	switch t {
	case Flag:
		return " (True sends it, False leaves it out: the daemon takes it as on whenever present)"
	case List:
		return " (a str is sent as a one-item list)"
	case Int:
		return " (or a str of digits)"
	}
	return ""
}

// commandHelp renders help(vici.<command>).
func commandHelp(c *Command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n%s\nVICI command %q", signature(c), c.Doc, c.Wire)
	if c.Streamed() {
		fmt.Fprintf(&b, ", streaming %q events", c.Event)
	}
	b.WriteString(".\n")
	if len(c.Keys) > 0 {
		b.WriteString("\nKeywords (request keys, typed as charon reads them; another type is refused before sending):\n")
		for _, k := range c.Keys {
			fmt.Fprintf(&b, "  %-12s %-12s %s%s\n", k.Keyword(), k.Type, k.Doc, typeNote(k.Type))
		}
	}
	if c.schema != nil {
		b.WriteString("\nThe message is {name: {settings}} with swanctl.conf's key names; a str given for a list key\nis sent as a one-item list, and a wrong kind is an error naming the key before anything is sent.\n")
	}
	b.WriteString("\nOptions:\n")
	if c.Log {
		b.WriteString("  log          fn(data) called for every control-log event while the command runs\n")
	}
	if c.Streamed() {
		b.WriteString("  each         fn(entry) called per streamed entry instead of returning a list\n")
	}
	b.WriteString("  deadline     client-side deadline in seconds (default: the session's)\n")
	b.WriteString("  check        False returns the reply dict when it says success=no, instead of failing\n")
	fmt.Fprintf(&b, "\nReturns: %s\n", c.Reply)
	return b.String()
}

func moduleHelp(uri string, session bool) string {
	var b strings.Builder
	if session {
		fmt.Fprintf(&b, "vici.session to %s: the vici module's functions on a connection of its own, plus .uri and .close().\n\n", uri)
	} else {
		fmt.Fprintf(&b, "vici: strongSwan's VICI protocol from Starlark. The functions below use a default session to\n%s, connected on first use; vici.connect(uri) opens more.\n\n", uri)
	}
	b.WriteString("Commands (msg=None dict, keyword request keys, deadline=, check=; help(vici.<name>) for details):\n")
	for _, c := range commands().list {
		fmt.Fprintf(&b, "  %-17s %s\n", c.Name, c.Doc)
	}
	b.WriteString("\nOther functions:\n")
	for _, d := range otherBuiltins() {
		if ((d.name == "connect" || d.name == "group" || d.name == "use") && session) || (d.name == "close" && !session) {
			continue
		}
		fmt.Fprintf(&b, "  %s\n", d.sig())
	}
	b.WriteString("\nEvents for on()/wait(): ")
	var names []string
	for _, e := range Events() {
		n := e.Name
		if e.Since != "" {
			n += " (strongSwan " + e.Since + "+)"
		}
		names = append(names, n)
	}
	b.WriteString(strings.Join(names, ", ") + "\n")
	b.WriteString("\nA failed command (success=no) stops the script with its errmsg unless check=False.\n")
	return b.String()
}

// Lookup reports whether v is a function of the vici module, of a
// session or of a group, and gives its name there ("list_sas",
// "connect"). A builtin of the same name from anywhere else is not one.
func Lookup(v starlark.Value) (name string, ok bool) {
	b, ok := v.(*starlark.Builtin)
	if !ok {
		return "", false
	}
	switch b.Receiver().(type) {
	case *Module, *Session:
		return strings.TrimPrefix(b.Name(), "vici."), true
	case *Group:
		return strings.TrimPrefix(b.Name(), "vici.group."), true
	}
	return "", false
}

// groupHelp renders help(g) for a vici.group.
func groupHelp(g *Group) string {
	var b strings.Builder
	fmt.Fprintf(&b, "vici.group of %s.\n\n", strings.Join(g.names, ", "))
	b.WriteString("Every command of the vici module runs on all members at once and returns {name: reply};\n" +
		"a member that failed has {\"error\": message, \"reason\": why} instead (test with \"error\" in reply;\n" +
		"why is unreachable, timeout, protocol, refused or budget).\n" +
		"Group commands take no each= or log= callback. g[name] is a member's session, g.names the names.\n\n" +
		"Other functions:\n" +
		"  on(event, fn)         vici.on on every member; returns {name: None or {\"error\": ...}}\n" +
		"  off(event, fn=None)   vici.off on every member\n" +
		"  listen(timeout=None, count=None, keep_going=False)\n" +
		"                        run the members' callbacks, merged in arrival order\n" +
		"  wait(event, match=None, timeout=None)\n" +
		"                        (name, data) of the first matching event of any member, or None\n" +
		"  batch(commands)       each member runs the commands (names, or (name, {keyword: value})\n" +
		"                        pairs) one after another, the members at once, stopping at its first\n" +
		"                        failure: {name: {command: reply, ..., \"seconds\": s}}, or {name: {\"error\",\n" +
		"                        \"reason\", \"command\", \"seconds\"}} for a member that failed\n" +
		"  close()               close every member\n")
	return b.String()
}

// Help renders help text for the vici module, a session, or one of their
// functions, and reports whether v is one of them. The host's help()
// builtin calls it.
func Help(v starlark.Value) (string, bool) {
	switch v := v.(type) {
	case *Module:
		return moduleHelp(v.URI(), false), true
	case *Session:
		return moduleHelp(v.resolvedURI(), !v.isDefault), true
	case *Group:
		return groupHelp(v), true
	}
	name, ok := Lookup(v)
	if !ok {
		return "", false
	}
	if c, ok := commands().byName[name]; ok {
		return commandHelp(c), true
	}
	for _, d := range otherBuiltins() {
		if d.name == name {
			return "vici." + d.sig() + "\n\n" + d.doc + "\n", true
		}
	}
	return "", false
}

// KeywordNames returns the keyword arguments the vici builtin named
// builtinName ("vici.initiate" or "initiate") accepts, for REPL
// completion, or nil if there is no such builtin.
func KeywordNames(builtinName string) []string {
	name := strings.TrimPrefix(builtinName, "vici.")
	if c, ok := commands().byName[name]; ok {
		return slices.Clone(c.kwNames)
	}
	for _, d := range otherBuiltins() {
		if d.name == name {
			return d.keywords()
		}
	}
	return nil
}

// KeywordType returns the type of the request key that keyword names in the
// command builtinName ("vici.list_sas" or "list_sas"), for REPL completion
// of its value; false if it is not one of the command's request keys.
func KeywordType(builtinName, keyword string) (KeyType, bool) {
	c, ok := commands().byName[strings.TrimPrefix(builtinName, "vici.")]
	if !ok {
		return 0, false
	}
	k, ok := c.keywords[keyword]
	return k.Type, ok
}

// Reference renders the Markdown reference of every vici function and
// event, generated from the command table, for docs/reference.md.
func Reference() string {
	var b strings.Builder
	b.WriteString("| function | VICI command | keywords | returns |\n| --- | --- | --- | --- |\n")
	for _, c := range commands().list {
		var kws []string
		for _, k := range c.Keys {
			kws = append(kws, "`"+k.Keyword()+"` "+k.Type.String())
		}
		if c.Log {
			kws = append(kws, "`log=fn` or `log=True`")
		}
		if c.Streamed() {
			kws = append(kws, "`each=fn`")
		}
		if c.schema != nil {
			kws = append(kws, "`{name: {settings}}` positionally")
		}
		if len(kws) == 0 {
			kws = []string{"—"}
		}
		stream := ""
		if c.Event != "" {
			stream = " (streams `" + c.Event + "`)"
		}
		fmt.Fprintf(&b, "| `vici.%s` | `%s`%s | %s | %s |\n", c.Name, c.Wire, stream, strings.Join(kws, ", "),
			strings.ReplaceAll(c.Reply, "|", "\\|"))
	}
	b.WriteString("\nEach keyword is typed as charon reads the key: `str`, `int` (or a str of its digits), `bool`, `flag` (True sends the key, False leaves it out), `list of str` (a str is sent as a one-item list), `str or bytes`, or `duration` (seconds as a number, or a string such as `\"500ms\"` or `\"5s\"`, sent as milliseconds; 0 waits until done, -1 returns at once; a bare number above 3600 is refused, since `timeout=` was milliseconds before). A value of another type is refused before anything is sent, naming the keyword.\n\n")
	b.WriteString("Every command also takes `deadline=` (seconds, client-side) and `check=` (False returns the reply dict when it says `success=no`).\n\n")
	b.WriteString("| function | what it does |\n| --- | --- |\n")
	for _, d := range otherBuiltins() {
		owner := "vici" // close is a session's only: s = vici.connect(...)
		if d.name == "close" {
			owner = "s"
		}
		fmt.Fprintf(&b, "| `%s.%s` | %s |\n", owner, d.sig(), d.doc)
	}
	b.WriteString("\n| event | raised when |\n| --- | --- |\n")
	for _, e := range Events() {
		doc := e.Doc
		if e.Since != "" {
			doc += " (strongSwan " + e.Since + " and newer)"
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", e.Name, strings.ReplaceAll(doc, "|", "\\|"))
	}
	return b.String()
}

// Spec is the vici module's table, for help()'s overview, completion,
// vicish check and the reference: every command, its request keys typed,
// then every other function. Its rows have no Fn: NewModule binds the
// builtins to each session.
func Spec() registry.Module {
	m := registry.Module{Name: "vici", Summary: "the charon daemon: one function per VICI command, connect(), on()/listen() for events"}
	for i := range commands().list {
		c := &commands().list[i]
		m.Builtins = append(m.Builtins, registry.Builtin{Name: c.Name, Params: c.params(), Doc: c.Doc})
	}
	for _, f := range otherBuiltins() {
		m.Builtins = append(m.Builtins, registry.Builtin{Name: f.name, Params: f.params, Doc: f.doc})
	}
	return m
}
