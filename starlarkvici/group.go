package starlarkvici

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// Group is a vici.group: sessions by name whose commands run on every
// member at once and return {name: reply}. A member that fails gives
// {"error": message} in its place, so one unreachable gateway never fails
// the call for the others.
//
// It is data-race free by construction: arguments are converted on the
// script's thread, one request per member; the goroutines, one per
// member, only run engine calls and collect *vici.Message values; the
// replies become Starlark values on the script's thread again once every
// goroutine has finished. No Starlark value and no callback is shared
// with a goroutine, which is also why group commands take no each= or
// log= callback.
type Group struct {
	mod      *Module
	names    []string // in the order given
	sessions []*Session
	members  starlark.StringDict
}

var (
	_ starlark.HasAttrs = (*Group)(nil)
	_ starlark.Mapping  = (*Group)(nil)
	_ starlark.Iterable = (*Group)(nil)
	_ starlark.Sequence = (*Group)(nil)
)

// group implements vici.group(members, deadline=None, reconnect=False).
func (m *Module) group(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var arg starlark.Value
	var deadline starctx.Duration
	var reconnect bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "members", &arg, "deadline??", &deadline, "reconnect?", &reconnect); err != nil {
		return nil, err
	}
	members, ok := arg.(starlark.IterableMapping)
	if !ok {
		return nil, fmt.Errorf("%s: got %s, want a dict {name: URI or session}", b.Name(), arg.Type())
	}
	g := &Group{mod: m}
	var opened []*Session
	for _, item := range members.Items() {
		name, ok := starlark.AsString(item[0])
		if !ok || name == "" {
			return nil, fmt.Errorf("%s: member names must be non-empty str, got %s", b.Name(), item[0].String())
		}
		var s *Session
		switch v := item[1].(type) {
		case *Session:
			if v.isDefault {
				return nil, fmt.Errorf("%s: member %q: the vici module itself is not a session; use vici.connect()", b.Name(), name)
			}
			s = v
		case starlark.String:
			if m.cfg.CheckURI != nil {
				if err := m.cfg.CheckURI(string(v)); err != nil {
					return nil, fmt.Errorf("%s: member %q: %w", b.Name(), name, err)
				}
			}
			// Not dialled yet: the first command connects, each member
			// in its own goroutine, and an unreachable one fails alone.
			s = m.newSession(string(v), name, deadline, reconnect)
			opened = append(opened, s)
		default:
			return nil, fmt.Errorf("%s: member %q must be a URI (str) or a session from vici.connect(), got %s", b.Name(), name, item[1].Type())
		}
		g.names = append(g.names, name)
		g.sessions = append(g.sessions, s)
	}
	for _, s := range opened {
		if err := m.adopt(s); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	}
	g.members = starlark.StringDict{}
	for i := range commands().list {
		c := &commands().list[i]
		g.members[c.Name] = g.builtin(c.Name, func(s *Session, thread *starlark.Thread, name string, args starlark.Tuple, kwargs []starlark.Tuple) (request, error) {
			return s.tableRequest(thread, name, c, args, kwargs)
		})
	}
	g.members["call"] = g.builtin("call", (*Session).callRequest)
	g.members["stream"] = g.builtin("stream", (*Session).streamRequest)
	for name, fn := range map[string]func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error){
		"on":     g.on,
		"off":    g.off,
		"listen": g.listen,
		"wait":   g.wait,
		"close":  g.close,
		"batch":  g.batch,
	} {
		g.members[name] = starlark.NewBuiltin("vici.group."+name, fn).BindReceiver(g)
	}
	m.observe(g.members, g)
	return g, nil
}

// String implements starlark.Value.
func (g *Group) String() string {
	return fmt.Sprintf("<vici.group %s>", strings.Join(g.names, ", "))
}

// Type implements starlark.Value.
func (g *Group) Type() string { return "vici.group" }

// Freeze implements starlark.Value; a group, like its sessions, is a handle.
func (g *Group) Freeze() {}

// Truth implements starlark.Value.
func (g *Group) Truth() starlark.Bool { return len(g.names) > 0 }

// Hash implements starlark.Value.
func (g *Group) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: vici.group") }

// Attr implements starlark.HasAttrs.
func (g *Group) Attr(name string) (starlark.Value, error) {
	if name == "names" {
		names := make([]starlark.Value, len(g.names))
		for i, n := range g.names {
			names[i] = starlark.String(n)
		}
		return starlark.NewList(names), nil
	}
	return g.members[name], nil
}

// AttrNames implements starlark.HasAttrs.
func (g *Group) AttrNames() []string {
	names := append(g.members.Keys(), "names")
	sort.Strings(names)
	return names
}

// Get implements starlark.Mapping: g["a"] is member a's session.
func (g *Group) Get(k starlark.Value) (starlark.Value, bool, error) {
	name, ok := starlark.AsString(k)
	if !ok {
		return nil, false, fmt.Errorf("vici.group: member names are str, got %s", k.Type())
	}
	for i, n := range g.names {
		if n == name {
			return g.sessions[i], true, nil
		}
	}
	return nil, false, nil
}

// Len implements starlark.Sequence.
func (g *Group) Len() int { return len(g.names) }

// Iterate implements starlark.Iterable: the member names, in order.
func (g *Group) Iterate() starlark.Iterator {
	names := make([]starlark.Value, len(g.names))
	for i, n := range g.names {
		names[i] = starlark.String(n)
	}
	return starlark.NewList(names).Iterate()
}

// requestFor builds one member's request for a command builtin.
type requestFor func(s *Session, thread *starlark.Thread, name string, args starlark.Tuple, kwargs []starlark.Tuple) (request, error)

// builtin makes the group's version of a command.
func (g *Group) builtin(command string, build requestFor) *starlark.Builtin {
	return starlark.NewBuiltin("vici.group."+command, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		return g.run(thread, b.Name(), "vici."+command, build, args, kwargs)
	}).BindReceiver(g)
}

// run sends a command to every member at once and collects {name: reply}.
func (g *Group) run(thread *starlark.Thread, fname, cmdName string, build requestFor, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	parent := starctx.From(thread)
	reqs := make([]request, len(g.sessions))
	for i, s := range g.sessions {
		r, err := build(s, thread, cmdName, args, kwargs)
		if err != nil {
			return nil, fmt.Errorf("%s: %s", fname, strings.TrimPrefix(err.Error(), cmdName+": "))
		}
		if r.opts.each != nil || r.opts.log != nil {
			return nil, fmt.Errorf("%s: a group command takes no each= or log= callback (it collects every member's entries); call it on one member for that, e.g. g[%q]", fname, g.names[0])
		}
		leave, err := s.enter(thread, fname, false)
		if err != nil {
			return nil, err
		}
		leave()
		reqs[i] = r
	}
	if err := starctx.Interrupted(parent); err != nil {
		return nil, fmt.Errorf("%s: %w", fname, err)
	}
	type outcome struct {
		reply *vici.Message
		msgs  []*vici.Message
		err   error
	}
	outs := make([]outcome, len(g.sessions))
	collected := &listing{budget: g.mod.cfg.MaxListing} // one result: one budget
	var wg sync.WaitGroup
	for i, s := range g.sessions {
		wg.Go(func() {
			o := &outs[i]
			o.reply, o.err = s.send(parent, reqs[i], reqs[i].event, func(m *vici.Message) error {
				o.msgs = append(o.msgs, m)
				return collected.add(m.Size(), m.MemSize())
			}, true)
		})
	}
	wg.Wait()
	if err := starctx.Interrupted(parent); err != nil {
		return nil, fmt.Errorf("%s: %w", fname, err)
	}
	out := starlark.NewDict(len(g.sessions))
	for i, s := range g.sessions {
		o := outs[i]
		var conv fromConverter
		var v starlark.Value
		var err error
		switch r := reqs[i]; {
		case o.err != nil:
			v, err = s.failed(r, parent, r.event, o.reply, o.err, &conv)
		case !r.stream:
			v = conv.dict(o.reply)
		default:
			// each entry's message gives way to its Starlark value
			entries := make([]starlark.Value, len(o.msgs))
			for j, m := range o.msgs {
				made := conv.made
				entries[j] = conv.dict(m)
				o.msgs[j] = nil
				if err = collected.convert(m.MemSize(), conv.made-made); err != nil {
					err = s.explain(r.prefix, r.wire, parent, r.opts.deadline, err)
					break
				}
			}
			v = starlark.NewList(entries)
		}
		if err != nil {
			v = errorValue(err)
		}
		if err := out.SetKey(starlark.String(g.names[i]), v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// errorValue is a failed member's entry in a group's result: the message
// and its class ("reason", see Reason).
func errorValue(err error) *starlark.Dict {
	d := starlark.NewDict(2)
	_ = d.SetKey(starlark.String("error"), starlark.String(err.Error()))
	_ = d.SetKey(starlark.String("reason"), starlark.String(Reason(err)))
	return d
}

// each runs fn for every member and returns {name: None or {"error": ...}}.
func (g *Group) each(fn func(s *Session) error) (starlark.Value, error) {
	out := starlark.NewDict(len(g.sessions))
	for i, s := range g.sessions {
		var v starlark.Value = starlark.None
		if err := fn(s); err != nil {
			v = errorValue(err)
		}
		if err := out.SetKey(starlark.String(g.names[i]), v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// on implements g.on(event, fn): vici.on on every member. It returns
// {name: None}, or {"error": ...} for a member that could not register. A
// member of a reconnect=True group that cannot be reached now gets its
// error too, but is watched: its events flow from when its daemon comes
// up, after a reconnect event.
func (g *Group) on(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var fn starlark.Callable
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "event", &name, "fn", &fn); err != nil {
		return nil, err
	}
	if err := checkCallback(b.Name(), "the callback", fn, 2, true, "fn(name, data), with session= too if it has a parameter named session"); err != nil {
		return nil, err
	}
	pos := starlark.Tuple{starlark.String(name), fn}
	g.dialEvents(starctx.From(thread))
	return g.each(func(s *Session) error {
		err, note := s.orWatch(func() error {
			_, err := s.on(thread, b, pos, nil)
			return err
		})
		if note != nil {
			return fmt.Errorf("%w, a reconnect event will say so", note)
		}
		return err
	})
}

// dialEvents connects the members' event connections at once, each within
// its session's deadline, so that registering on many gateways costs one
// connection set-up (an ssh handshake for ssh://), not their sum. A member
// that cannot be reached is left to the registration, which reports it.
func (g *Group) dialEvents(parent context.Context) {
	var wg sync.WaitGroup
	for _, s := range g.sessions {
		wg.Go(func() {
			ctx, cancel := ctxWithin(parent, s.deadline)
			defer cancel()
			_, _ = s.eventClient(ctx)
		})
	}
	wg.Wait()
}

// off implements g.off(event, fn=None) on every member.
func (g *Group) off(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var fn starlark.Callable
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "event", &name, "fn??", &fn); err != nil {
		return nil, err
	}
	var refused error
	for _, s := range g.sessions {
		if refused = s.events.unknownOff(b.Name(), name); refused == nil {
			break // a member has callbacks for it, or it is no misspelling
		}
	}
	if refused != nil {
		return nil, refused
	}
	for _, s := range g.sessions {
		if err := s.removeHandler(starctx.From(thread), b.Name(), name, fn); err != nil {
			return nil, err
		}
	}
	return starlark.None, nil
}

// listen implements g.listen(...): the callbacks of the members only.
func (g *Group) listen(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	a, err := unpackListen(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	return g.mod.listenOn(thread, b.Name(), g.open, a)
}

// open returns the members that are not closed.
func (g *Group) open() []*Session {
	var out []*Session
	for _, s := range g.sessions {
		if !s.isClosed() {
			out = append(out, s)
		}
	}
	return out
}

// wait implements g.wait(event, match=None, timeout=None): the first
// matching event from any member, as (name, data), or None.
func (g *Group) wait(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	a, err := unpackWait(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	if a.session {
		return nil, fmt.Errorf("%s: a group's wait returns (name, data) already; g[name] is that member's session", b.Name())
	}
	s, data, err := waitOn(thread, b.Name(), g.open(), a)
	if err != nil || s == nil {
		return starlark.None, err
	}
	for i, m := range g.sessions {
		if m == s {
			return starlark.Tuple{starlark.String(g.names[i]), data}, nil
		}
	}
	return starlark.Tuple{starlark.String(s.label()), data}, nil
}

// close implements g.close(): closes every member.
func (g *Group) close(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	var first error
	for _, s := range g.sessions {
		if err := s.close(); err != nil && first == nil {
			first = err
		}
		g.mod.forget(s)
	}
	if first != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), first)
	}
	return starlark.None, nil
}
