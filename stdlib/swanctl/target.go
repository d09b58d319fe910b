package swanctl

import (
	"context"
	"fmt"

	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// Target is a daemon that swanctl.apply and swanctl.plan act on
// (target=): the vici module (its default session), a session from
// vici.connect, or a member of a vici.group. Each gives a connection of
// its own for the module's commands.
type Target interface {
	starlark.Value
	Client(ctx context.Context) (*vici.Client, error)
}

// namedTarget is one daemon of a target= argument.
type namedTarget struct {
	name       string // the member's name, the session's name; "" for the client's URI
	client     func(ctx context.Context) (*vici.Client, error)
	maxListing int // Config.MaxListing
}

// daemon connects to the target.
func (t namedTarget) daemon(ctx context.Context) (daemon, error) {
	c, err := t.client(ctx)
	return daemon{Client: c, maxListing: t.maxListing}, err
}

// targets resolves target=: None is the host's default session; a
// Target is one daemon; a vici.group, or a dict of Targets, is several
// (many is then true), named by their keys.
func (m *module) targets(fname string, v starlark.Value) (ts []namedTarget, many bool, err error) {
	switch v := v.(type) {
	case nil, starlark.NoneType:
		client := m.cfg.Client
		if client == nil {
			client = func(context.Context) (*vici.Client, error) { return nil, errNoClient }
		}
		return []namedTarget{{client: client, maxListing: m.cfg.MaxListing}}, false, nil
	case Target:
		return []namedTarget{{name: nameOf(v), client: v.Client, maxListing: m.cfg.MaxListing}}, false, nil
	}
	mapping, isMap := v.(starlark.Mapping)
	iterable, isIter := v.(starlark.Iterable)
	if !isMap || !isIter {
		return nil, false, fmt.Errorf("%s: target: got %s, want a session (vici.connect(), a member of a vici.group), the vici module, or a vici.group", fname, v.Type())
	}
	it := iterable.Iterate()
	defer it.Done()
	var k starlark.Value
	for it.Next(&k) {
		name, ok := starlark.AsString(k)
		if !ok || name == "" {
			return nil, false, fmt.Errorf("%s: target: member names must be non-empty str, got %s", fname, k.String())
		}
		member, _, err := mapping.Get(k)
		if err != nil {
			return nil, false, fmt.Errorf("%s: target: %v", fname, err)
		}
		t, ok := member.(Target)
		if !ok {
			return nil, false, fmt.Errorf("%s: target: member %q is a %s, not a session", fname, name, member.Type())
		}
		ts = append(ts, namedTarget{name: name, client: t.Client, maxListing: m.cfg.MaxListing})
	}
	if len(ts) == 0 {
		return nil, false, fmt.Errorf("%s: target: the group has no members", fname)
	}
	return ts, true, nil
}

// nameOf is a session's name attribute, or "".
func nameOf(v starlark.Value) string {
	if h, ok := v.(starlark.HasAttrs); ok {
		if n, err := h.Attr("name"); err == nil && n != nil {
			if s, ok := starlark.AsString(n); ok {
				return s
			}
		}
	}
	return ""
}

// pathsFor reads a path argument: a str for one target, a dict {member:
// path} naming every member of several.
func pathsFor(fname, what string, v starlark.Value, ts []namedTarget, many bool) ([]string, error) {
	if !many {
		s, ok := starlark.AsString(v)
		if !ok || s == "" {
			return nil, fmt.Errorf("%s: %s: got %s, want the path of a swanctl.conf or of the directory holding it", fname, what, v.Type())
		}
		return []string{s}, nil
	}
	d, ok := v.(starlark.IterableMapping)
	if _, isStr := v.(starlark.String); !ok || isStr {
		return nil, fmt.Errorf("%s: %s: got %s, want a dict {member: path} for a group target", fname, what, v.Type())
	}
	names := map[string]bool{}
	out := make([]string, len(ts))
	for i, t := range ts {
		names[t.name] = true
		p, found, err := d.Get(starlark.String(t.name))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", fname, what, err)
		}
		s, ok := starlark.AsString(p)
		if !found || !ok || s == "" {
			return nil, fmt.Errorf("%s: %s: no path (str) for member %q", fname, what, t.name)
		}
		out[i] = s
	}
	for _, item := range d.Items() {
		if n, _ := starlark.AsString(item[0]); !names[n] {
			return nil, fmt.Errorf("%s: %s: %s is not a member of the target", fname, what, item[0].String())
		}
	}
	return out, nil
}
