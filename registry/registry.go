// Package registry describes the builtins of vicish's Starlark runtime as
// rows: each builtin's name, parameters, documentation, function and the
// capability it needs. A module is one table of rows; the runtime makes
// the module from it, and help(), REPL completion, vicish check and the
// reference (docs/reference.md) read the same rows, so what a builtin
// takes, does and needs is written once.
//
// A module package declares its table next to its builtins:
//
//	func Spec() registry.Module {
//		return registry.Module{Name: "exec", Summary: "run a local program",
//			Builtins: []registry.Builtin{{Name: "run", Params: registry.MustParams("argv, timeout=None"),
//				Doc: "Run argv ...", Fn: run, Needs: capability.Exec}}}
//	}
//
// and a host makes the module value with Spec().Build(gate).
package registry

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/capability"
)

// Func is the Go function behind a builtin.
type Func = func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)

// Builtin is one function: a member of a module or a predeclared global.
type Builtin struct {
	// Name is the member's name ("run"), or the global's ("print"). A
	// dotted name ("secret.reveal") is a method of a value the module
	// returns; the value's type binds it, so it has no Fn.
	Name   string
	Params []Param
	// Doc says what it does: its first line in help()'s lists, all of it
	// in help(builtin).
	Doc string
	// Fn implements it; nil for a method, and for a builtin that its
	// module binds itself (the vici module's, per session).
	Fn Func
	// Needs is the capability a call needs ("" none): the gate refuses a
	// call without it.
	Needs capability.Capability
}

// Summary is the first line of b's Doc.
func (b Builtin) Summary() string {
	line, _, _ := strings.Cut(b.Doc, "\n")
	return line
}

// Method reports whether b is a method of a value (a dotted Name).
func (b Builtin) Method() bool { return strings.Contains(b.Name, ".") }

// Module is the table of a module: its builtins, its other members, and
// what help(module) says.
type Module struct {
	Name     string // "json"
	Summary  string // one line for help()'s list of globals
	Builtins []Builtin
	// Values are the members that are not functions (sys.argv,
	// time.second).
	Values starlark.StringDict
	More   string // optional paragraph for help(module): values, notes
}

// Build makes the module value: a starlarkstruct.Module whose members are
// m's Values and a builtin "name.member" for each row with a Fn, those
// that need a capability behind gate (nil refuses every one). The members
// of a Module without a Name are named as the rows are: globals.
func (m Module) Build(gate *capability.Gate) *starlarkstruct.Module {
	members := make(starlark.StringDict, len(m.Builtins)+len(m.Values))
	for name, v := range m.Values {
		members[name] = v
	}
	for _, b := range m.Builtins {
		if b.Fn == nil || b.Method() {
			continue
		}
		name := b.Name
		if m.Name != "" {
			name = m.Name + "." + name
		}
		if b.Needs != "" {
			members[b.Name] = gate.Builtin(b.Needs, name, b.Fn)
		} else {
			members[b.Name] = starlark.NewBuiltin(name, b.Fn)
		}
	}
	return &starlarkstruct.Module{Name: m.Name, Members: members}
}

// Lookup finds the row of the member (or method) called name.
func (m Module) Lookup(name string) (Builtin, bool) {
	for _, b := range m.Builtins {
		if b.Name == name {
			return b, true
		}
	}
	return Builtin{}, false
}

// Signature is b's call form in m: "json.encode(x)".
func (m Module) Signature(b Builtin) string { return Signature(m.Name+"."+b.Name, b.Params) }

// Help is help(module): the summary, each function's signature and first
// line (and what it needs: grant names how a capability is granted, e.g.
// "--allow-exec"), then More.
func (m Module) Help(grant func(capability.Capability) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", m.Name, m.Summary)
	if len(m.Builtins) > 0 {
		b.WriteString("\n")
	}
	for _, f := range m.Builtins {
		fmt.Fprintf(&b, "  %s\n      %s%s\n", m.Signature(f), f.Summary(), f.needs(grant))
	}
	if m.More != "" {
		b.WriteString("\n" + m.More + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// Help is help(builtin) of a global (module "") or of a member of module:
// its signature, its doc and what it needs (grant names how a capability
// is granted, e.g. "--allow-exec").
func (b Builtin) Help(module string, grant func(capability.Capability) string) string {
	name := b.Name
	if module != "" {
		name = module + "." + b.Name
	}
	return Signature(name, b.Params) + "\n\n" + b.Doc + b.needs(grant)
}

// needs says what b needs, for help: " Needs --allow-exec." ("" for
// nothing).
func (b Builtin) needs(grant func(capability.Capability) string) string {
	if b.Needs == "" {
		return ""
	}
	return " Needs " + grant(b.Needs) + "."
}

// Registry is every predeclared name of a runtime: its global functions
// and its modules.
type Registry struct {
	Globals []Builtin
	Modules []Module
}

// Module returns the module called name.
func (r *Registry) Module(name string) (Module, bool) {
	for _, m := range r.Modules {
		if m.Name == name {
			return m, true
		}
	}
	return Module{}, false
}

// Lookup finds the builtin whose qualified name is given, as
// starlark.Builtin.Name reports it: "print", "json.encode",
// "swanctl.secret.reveal", "vici.initiate". module is "" for a global.
func (r *Registry) Lookup(qualified string) (module string, b Builtin, ok bool) {
	for _, g := range r.Globals {
		if g.Name == qualified {
			return "", g, true
		}
	}
	name, member, found := strings.Cut(qualified, ".")
	if !found {
		return "", Builtin{}, false
	}
	m, ok := r.Module(name)
	if !ok {
		return "", Builtin{}, false
	}
	if b, ok = m.Lookup(member); !ok {
		return "", Builtin{}, false
	}
	return name, b, true
}

// markdownCell escapes text for a cell of a Markdown table: "|" would end
// the cell, "<redacted>" would read as an HTML tag.
var markdownCell = strings.NewReplacer("|", `\|`, "<", `\<`)

// Markdown renders the builtins as a Markdown table for the reference:
// each one's signature (qualified by module, unless "") and doc, with what
// it needs (grant names how a capability is granted).
func Markdown(module string, builtins []Builtin, grant func(capability.Capability) string) string {
	var b strings.Builder
	b.WriteString("| function | what it does |\n| --- | --- |\n")
	for _, f := range builtins {
		name := f.Name
		if module != "" {
			name = module + "." + f.Name
		}
		doc := strings.Join(strings.Fields(f.Doc+f.needs(grant)), " ")
		fmt.Fprintf(&b, "| `%s` | %s |\n", Signature(name, f.Params), markdownCell.Replace(doc))
	}
	return b.String()
}
