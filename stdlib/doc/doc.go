// Package doc is how the standard library modules describe themselves for
// help(): each module package has a Doc function, next to its builtins,
// returning a Module with a one-line summary and one Builtin per function.
// The host (package script) collects them; help(json.encode) finds the
// entry by the builtin's name, and a test checks that every builtin of
// every module has one.
package doc

import (
	"fmt"
	"strings"
)

// Builtin documents one function of a module.
type Builtin struct {
	Name string // member name: "encode"; a method is "secret.reveal"
	Args string // parameters as a call writes them: `x, *, prefix="", indent="\t"`
	Doc  string // one line: what it does and what it returns
}

// Fn returns the Builtin with these fields; module doc tables read best
// as rows of calls.
func Fn(name, args, doc string) Builtin { return Builtin{Name: name, Args: args, Doc: doc} }

// Module documents a module.
type Module struct {
	Name     string // "json"
	Summary  string // one line for help()'s list of globals
	Builtins []Builtin
	More     string // optional paragraph for help(module): values, notes
}

// Signature returns the call form of b: "json.encode(x)".
func (m Module) Signature(b Builtin) string {
	return fmt.Sprintf("%s.%s(%s)", m.Name, b.Name, b.Args)
}

// Find returns the entry of the builtin called qualified ("json.encode",
// as starlark.Builtin.Name reports it) among mods.
func Find(mods []Module, qualified string) (Module, Builtin, bool) {
	for _, m := range mods {
		name, ok := strings.CutPrefix(qualified, m.Name+".")
		if !ok {
			continue
		}
		for _, b := range m.Builtins {
			if b.Name == name {
				return m, b, true
			}
		}
	}
	return Module{}, Builtin{}, false
}

// Text is help(module): the summary, then each function's signature and
// line, then More.
func (m Module) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", m.Name, m.Summary)
	if len(m.Builtins) > 0 {
		b.WriteString("\n")
	}
	for _, f := range m.Builtins {
		fmt.Fprintf(&b, "  %s\n      %s\n", m.Signature(f), f.Doc)
	}
	if m.More != "" {
		b.WriteString("\n" + m.More + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// Text is help(builtin): its signature and line.
func (b Builtin) Text(m Module) string {
	return m.Signature(b) + "\n\n" + b.Doc
}
