package swanctl

import (
	"slices"
	"strings"
)

// A transition is loading configuration to over configuration from, as
// charon sees it: which connections change at the IKE_SA level (the
// peer's settings, charon's "replaced vici connection"), which children
// change, which credentials changed, and each child's start_action. The
// rules of Plan.Impact and of the proof are written against it; they are
// what TestReloadBehaviour shows charon doing.
type transition struct {
	from, to *Conf
	diffs    []ItemDiff
	conns    map[string]*connChange
	v6       bool // strongSwan 6 or newer
}

// connChange is what happens to one connection.
type connChange struct {
	name    string
	verdict string   // Added, Changed, Removed, Unchanged (the connection's own settings)
	peer    []string // changed settings that make charon replace the connection
	ignored []string // changed settings charon ignores (it keeps the old values)
	// children by name: Added, Changed, Removed, Unchanged
	children map[string]ItemDiff
	cred     []string        // credential changes that touch its authentication
	credOnly bool            // nothing else touches its IKE_SAs: a reauthentication proves it
	startIn  map[string]bool // children whose start_action (in from) includes start
	startOut map[string]bool // the same in to
	trapOut  map[string]bool // children of to with start_action trap
	// initiable: to has an address to initiate to (remote_addrs set,
	// not %any), so a fresh IKE_SA can be made from this side.
	initiable bool
}

func newTransition(from, to *Conf, v6 bool) *transition {
	t := &transition{from: from, to: to, diffs: Diff(from, to), conns: map[string]*connChange{}, v6: v6}
	get := func(name string) *connChange {
		c := t.conns[name]
		if c == nil {
			c = &connChange{name: name, children: map[string]ItemDiff{},
				startIn: map[string]bool{}, startOut: map[string]bool{}, trapOut: map[string]bool{}}
			t.conns[name] = c
		}
		return c
	}
	for _, d := range t.diffs {
		switch d.Kind {
		case KindConn:
			c := get(d.Name)
			c.verdict = d.Verdict
			c.ignored = d.Ignored
			for _, k := range d.Keys {
				if !slices.Contains(d.Ignored, k) {
					c.peer = append(c.peer, k)
				}
			}
		case KindChild:
			conn, child, _ := strings.Cut(d.Name, "/")
			get(conn).children[child] = d
		}
	}
	for _, conf := range []*Conf{from, to} {
		for _, it := range conf.ByKind(KindConn) {
			c := get(it.Name)
			connFields, children := splitConn(it.Body, it.Name)
			for _, ch := range children {
				start, trap := startAction(ch.f["start_action"])
				if conf == from {
					c.startIn[ch.name] = start
				} else {
					c.startOut[ch.name] = start
					c.trapOut[ch.name] = trap
				}
			}
			if conf == to {
				c.initiable = initiable(connFields["remote_addrs"])
			}
		}
	}
	t.credentials()
	return t
}

// startAction reads a child's start_action ("none", "start", "trap",
// "route", 6.x also "trap|start").
func startAction(v string) (start, trap bool) {
	for _, w := range strings.FieldsFunc(v, func(r rune) bool { return r == '|' || r == ',' || r == ' ' }) {
		switch w {
		case "start":
			start = true
		case "trap", "route":
			trap = true
		}
	}
	return start, trap
}

// initiable reports whether a flattened remote_addrs list names an
// address charon can initiate to.
func initiable(list string) bool {
	for _, a := range strings.Split(strings.TrimPrefix(list, "["), "\x00") {
		a = strings.TrimSpace(a)
		if a != "" && a != "%any" && a != "%any4" && a != "%any6" && a != "0.0.0.0/0" && a != "::/0" {
			return true
		}
	}
	return false
}

// peerReplaced reports whether charon replaces the connection (a changed
// peer setting, or it is gone): its IKE_SAs stay on the old configuration
// unless its start_action=start children close them.
func (c *connChange) peerReplaced() bool {
	return c.verdict == Removed || len(c.peer) > 0
}

// credentials finds the connections whose authentication uses a
// credential that changed: a fresh IKE_SA (a reauthentication) is what
// proves it. Shared IKE secrets touch PSK connections whose identities
// the secret's owners name (all of them when it names none); EAP, XAuth
// and NTLM secrets touch connections authenticating that way; PPKs those
// with a ppk_id; private keys, tokens, certificates and authorities those
// authenticating with public keys (pubkey, the default, rsa, ecdsa,
// ed25519, ed448, eap-tls, ...).
func (t *transition) credentials() {
	type cred struct {
		what   string
		typ    string   // shared secret type; "" for public key material
		owners []string // shared secret owners
	}
	var changed []cred
	bodies := map[string]Item{}
	for _, it := range t.from.Items {
		bodies[it.Kind+" "+it.Name] = it
	}
	for _, it := range t.to.Items {
		bodies[it.Kind+" "+it.Name] = it
	}
	for _, d := range t.diffs {
		if d.Verdict == Unchanged || d.Kind == KindConn || d.Kind == KindChild || d.Kind == KindPool {
			continue
		}
		c := cred{what: d.Kind + " " + d.Name + " " + d.Verdict}
		if d.Kind == KindShared {
			if b := bodies[d.Kind+" "+d.Name].Body; b != nil {
				c.typ = strings.ToLower(b.Get("type"))
				c.owners = b.List("owners")
			}
			if c.typ == "" {
				c.typ = "ike"
			}
		}
		changed = append(changed, c)
	}
	if len(changed) == 0 {
		return
	}
	for _, it := range t.to.Items {
		if it.Kind != KindConn || it.Body == nil {
			continue
		}
		c := t.conns[it.Name]
		f, _ := splitConn(it.Body, it.Name)
		var auths, ids []string
		ppk := false
		for k, v := range f {
			switch {
			case k == "ppk_id":
				ppk = true
			case (strings.HasPrefix(k, "local") || strings.HasPrefix(k, "remote")) && strings.HasSuffix(k, ".auth"):
				auths = append(auths, strings.ToLower(v))
			case (strings.HasPrefix(k, "local") || strings.HasPrefix(k, "remote")) && strings.HasSuffix(k, ".id"):
				ids = append(ids, v)
			}
		}
		for _, round := range []string{"local", "remote"} {
			if _, ok := f[round+".auth"]; !ok {
				if _, has := f[round+".id"]; has || round == "local" {
					auths = append(auths, "pubkey") // charon's default
				}
			}
		}
		uses := func(prefixes ...string) bool {
			return slices.ContainsFunc(auths, func(a string) bool {
				return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(a, p) })
			})
		}
		for _, cr := range changed {
			var hit bool
			switch cr.typ {
			case "ike":
				hit = uses("psk") && (len(cr.owners) == 0 || slices.ContainsFunc(cr.owners, func(o string) bool { return slices.Contains(ids, o) }))
			case "eap", "ntlm":
				hit = uses("eap")
			case "xauth":
				hit = uses("xauth")
			case "ppk":
				hit = ppk
			default:
				hit = uses("pubkey", "rsa", "ecdsa", "ed25519", "ed448", "bliss", "eap-tls", "eap-ttls", "eap-peap")
			}
			if hit {
				c.cred = append(c.cred, cr.what)
			}
		}
	}
	for _, c := range t.conns {
		c.credOnly = len(c.cred) > 0 && !c.peerReplaced() && c.verdict != Added
	}
}

// ikeTouched reports whether IKE_SAs of conn made under from are not of
// to: its peer settings changed, or a credential its authentication uses.
func (t *transition) ikeTouched(conn string) bool {
	c := t.conns[conn]
	return c != nil && (c.peerReplaced() || len(c.cred) > 0 || c.verdict == Added)
}

// childTouched reports whether CHILD_SAs of conn/child made under from
// are not of to.
func (t *transition) childTouched(conn, child string) bool {
	c := t.conns[conn]
	if c == nil {
		return false
	}
	d, ok := c.children[child]
	return ok && d.Verdict != Unchanged
}

// inTo reports whether to configures conn/child ("" for the connection).
func (t *transition) inTo(conn, child string) bool {
	c := t.conns[conn]
	if c == nil || c.verdict == Removed {
		return false
	}
	if child == "" {
		return true
	}
	d, ok := c.children[child]
	return ok && d.Verdict != Removed
}

// initiates lists the children charon initiates itself when to is
// loaded (start_action=start): every start child of a connection that is
// added or replaced, and the added or changed start children of one that
// is only updated.
func (t *transition) initiates() []string {
	var out []string
	for _, it := range t.to.ByKind(KindConn) {
		c := t.conns[it.Name]
		if c == nil || it.Body == nil {
			continue
		}
		_, children := splitConn(it.Body, it.Name)
		for _, ch := range children {
			d := c.children[ch.name]
			if !c.startOut[ch.name] {
				continue
			}
			if c.verdict == Added || c.peerReplaced() || d.Verdict == Added || d.Verdict == Changed {
				out = append(out, it.Name+"/"+ch.name)
			}
		}
	}
	return out
}
