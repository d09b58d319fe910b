package swanctl

import (
	"slices"
	"strings"

	"github.com/vicish/vicish/vici"
)

// KindChild is a child of a connection in a Diff: its Name is
// "connection/child". Children are compared one by one, as charon does
// when a connection is loaded again.
const KindChild = "child"

// ignoredConnKeys are the connection settings charon's configuration
// equality (peer_cfg_t.equals, ike_cfg_t.equals, 5.9.8 and 6.x) leaves
// out: a connection that differs only in them is "updated" (its children
// are replaced) and keeps the old values until it is unloaded.
var ignoredConnKeys = []string{"dpd_timeout", "dscp"}

// ItemDiff is how one item differs between two configurations: the
// previous files and the new ones.
type ItemDiff struct {
	Kind    string // KindConn, KindChild, KindPool, KindAuthority, KindShared, KindKey, KindToken, KindCert
	Name    string
	Verdict string // Added, Changed, Removed or Unchanged
	// Keys are the settings that differ, e.g. "local.id" or "rekey_time"
	// (a child's keys are its own). Secret data shows as its key ("data"),
	// never as a value.
	Keys []string
	// Ignored are the Keys charon does not compare, when they are all
	// that changed: the connection counts as unchanged and keeps their
	// old values while it stays loaded.
	Ignored []string
	// Err is why the new item cannot be loaded.
	Err error
}

// String is "kind name (key, key)".
func (d ItemDiff) String() string {
	s := d.Kind + " " + d.Name
	if len(d.Keys) > 0 {
		s += " (" + strings.Join(d.Keys, ", ") + ")"
	}
	if d.Err != nil {
		s += ": " + d.Err.Error()
	}
	return s
}

// Diff compares the items of prev and next, in next's load order followed
// by what only prev has. A connection's own settings make its entry; each
// child gets an entry of its own after it.
func Diff(prev, next *Conf) []ItemDiff {
	var out []ItemDiff
	type key struct{ kind, name string }
	old := map[key]Item{}
	for _, it := range prev.Items {
		old[key{it.Kind, it.Name}] = it
	}
	seen := map[key]bool{}
	for _, it := range next.Items {
		k := key{it.Kind, it.Name}
		seen[k] = true
		p, had := old[k]
		switch {
		case it.Kind == KindConn:
			out = append(out, diffConn(it.Name, p.Body, it.Body, had, it.Err)...)
		case !had:
			out = append(out, ItemDiff{Kind: it.Kind, Name: it.Name, Verdict: Added, Err: it.Err})
		default:
			d := ItemDiff{Kind: it.Kind, Name: it.Name, Verdict: Unchanged, Err: it.Err}
			if it.Err == nil {
				d.Keys = changedKeys(itemFields(p), itemFields(it))
			}
			if len(d.Keys) > 0 || it.Err != nil || p.Err != nil {
				d.Verdict = Changed
			}
			out = append(out, d)
		}
	}
	for _, it := range prev.Items {
		if seen[key{it.Kind, it.Name}] {
			continue
		}
		if it.Kind == KindConn {
			out = append(out, diffConn(it.Name, it.Body, nil, true, nil)...)
			continue
		}
		out = append(out, ItemDiff{Kind: it.Kind, Name: it.Name, Verdict: Removed})
	}
	return out
}

// diffConn compares one connection (bodies as load-conn takes them; nil
// when absent) and its children. loadErr is why the new one cannot be
// loaded.
func diffConn(name string, prevBody, nextBody *vici.Message, had bool, loadErr error) []ItemDiff {
	prevConn, prevChildren := splitConn(prevBody, name)
	nextConn, nextChildren := splitConn(nextBody, name)
	d := ItemDiff{Kind: KindConn, Name: name, Err: loadErr}
	switch {
	case !had || prevBody == nil && nextBody != nil:
		d.Verdict = Added
	case nextBody == nil && loadErr == nil:
		d.Verdict = Removed
	case loadErr != nil:
		d.Verdict = Changed
		return []ItemDiff{d} // children unknown: the new version cannot be read
	default:
		d.Keys = changedKeys(nextConn, prevConn)
		d.Verdict = Unchanged
		if len(d.Keys) > 0 {
			d.Verdict = Changed
			for _, k := range d.Keys {
				if slices.Contains(ignoredConnKeys, k) {
					d.Ignored = append(d.Ignored, k)
				}
			}
			if len(d.Ignored) < len(d.Keys) {
				d.Ignored = nil // replaced as a whole: the new values count
			}
		}
	}
	out := []ItemDiff{d}
	for _, c := range unionNames(nextChildren, prevChildren) {
		cd := ItemDiff{Kind: KindChild, Name: name + "/" + c.name}
		p, inPrev := prevChildren.get(c.name)
		n, inNext := nextChildren.get(c.name)
		switch {
		case !inPrev:
			cd.Verdict = Added
		case !inNext:
			cd.Verdict = Removed
		default:
			cd.Keys = changedKeys(n, p)
			cd.Verdict = Unchanged
			if len(cd.Keys) > 0 {
				cd.Verdict = Changed
			}
		}
		out = append(out, cd)
	}
	return out
}

// fields are the flattened settings of a body: "local.id" → value.
type fields map[string]string

// namedFields are the children of a connection in their order.
type namedFields []struct {
	name string
	f    fields
}

func (n namedFields) get(name string) (fields, bool) {
	for _, c := range n {
		if c.name == name {
			return c.f, true
		}
	}
	return nil, false
}

func unionNames(a, b namedFields) namedFields {
	out := slices.Clone(a)
	for _, c := range b {
		if _, ok := a.get(c.name); !ok {
			out = append(out, c)
		}
	}
	return out
}

// splitConn flattens a load-conn body ({name: {...}}) into the
// connection's own settings and its children's.
func splitConn(body *vici.Message, name string) (fields, namedFields) {
	conn := fields{}
	var children namedFields
	if body == nil {
		return conn, nil
	}
	sec := body.Section(name)
	if sec == nil {
		return conn, nil
	}
	for _, e := range sec.Entries() {
		if e.Kind == vici.KindSection && e.Name == "children" {
			for _, c := range e.Section.Entries() {
				if c.Kind != vici.KindSection {
					continue
				}
				f := fields{}
				flatten(c.Section, "", f)
				children = append(children, struct {
					name string
					f    fields
				}{c.Name, f})
			}
			continue
		}
		flattenEntry(e, "", conn)
	}
	return conn, children
}

// itemFields flattens any other item's body; a named item's body is the
// one section of its name.
func itemFields(it Item) fields {
	f := fields{}
	if it.Body == nil {
		return f
	}
	body := it.Body
	if s := body.Section(it.Name); s != nil && body.Len() == 1 && (it.Kind == KindPool || it.Kind == KindAuthority) {
		body = s
	}
	flatten(body, "", f)
	return f
}

func flatten(m *vici.Message, prefix string, out fields) {
	for _, e := range m.Entries() {
		flattenEntry(e, prefix, out)
	}
}

func flattenEntry(e vici.Entry, prefix string, out fields) {
	name := prefix + e.Name
	switch e.Kind {
	case vici.KindSection:
		flatten(e.Section, name+".", out)
	case vici.KindList:
		var b strings.Builder
		b.WriteString("[")
		for _, it := range e.List {
			b.WriteString("\x00")
			b.Write(it)
		}
		out[name] = b.String()
	default:
		out[name] = string(e.Value)
	}
}

// changedKeys lists the keys whose values differ between a and b (in
// either), sorted.
func changedKeys(a, b fields) []string {
	var keys []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			keys = append(keys, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
