package starcheck

import (
	"context"
	"io"
	"net"
	"sort"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/registry"
	"github.com/vicish/vicish/script"
	"github.com/vicish/vicish/starlarkvici"
)

// env is what a check knows of the runtime a file runs in: its
// predeclared names and values (a module's members are its value's
// attributes), the registry of builtins (parameters, capabilities), and
// the attributes of a session and a group of the vici module.
type env struct {
	predeclared starlark.StringDict
	reg         *registry.Registry
	session     map[string]bool // attributes of vici.connect()'s value
	group       map[string]bool // attributes of vici.group()'s value
	events      []string        // what on(), off() and wait() take
	granted     map[capability.Capability]bool
}

// newEnv assembles a runtime (it connects to nothing) and reads it;
// extra adds globals and modules and granted the capabilities (vicish
// test's, for test files).
func newEnv(extra registry.Registry, granted ...capability.Capability) (*env, error) {
	// vici.connect and vici.group dial: give them a connection to nothing
	// that answers (no command is sent).
	var conns []net.Conn
	dial := func(context.Context, string) (net.Conn, error) {
		client, server := net.Pipe()
		conns = append(conns, client, server)
		go io.Copy(io.Discard, server)
		return client, nil
	}
	rt := script.New(script.Options{URI: "unix:///nonexistent/charon.vici", Extra: extra, Dial: dial})
	defer func() {
		rt.Close()
		for _, c := range conns {
			c.Close()
		}
	}()
	e := &env{predeclared: rt.Predeclared(), reg: rt.Registry(), granted: map[capability.Capability]bool{}}
	for _, c := range granted {
		e.granted[c] = true
	}
	var err error
	if e.session, err = attrs(rt, `vici.connect("unix:///nonexistent/charon.vici")`); err != nil {
		return nil, err
	}
	if e.group, err = attrs(rt, `vici.group({"x": "unix:///nonexistent/charon.vici"})`); err != nil {
		return nil, err
	}
	for _, ev := range starlarkvici.Events() {
		e.events = append(e.events, ev.Name)
	}
	e.events = append(e.events, starlarkvici.ReconnectEvent)
	sort.Strings(e.events)
	return e, nil
}

// attrs evaluates expr, which makes a value without connecting, and
// returns the names of its attributes.
func attrs(rt *script.Runtime, expr string) (map[string]bool, error) {
	v, err := rt.Eval(context.Background(), "<check>", expr)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	if h, ok := v.(starlark.HasAttrs); ok {
		for _, n := range h.AttrNames() {
			names[n] = true
		}
	}
	return names, nil
}

// members returns the attribute names of the predeclared module name, or
// nil if name is not a value with attributes.
func (e *env) members(name string) []string {
	if h, ok := e.predeclared[name].(starlark.HasAttrs); ok {
		return h.AttrNames()
	}
	return nil
}

// builtin returns the registry's row of a builtin by its qualified name
// (json.encode, vici.initiate, print).
func (e *env) builtin(qualified string) (registry.Builtin, bool) {
	_, b, ok := e.reg.Lookup(qualified)
	return b, ok && !b.Method()
}
