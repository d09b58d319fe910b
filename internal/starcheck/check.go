// Package starcheck finds mistakes in vicish scripts without running
// them, as `vicish check` does: syntax errors; undefined names and module
// members (go.starlark.net/resolve with vicish's globals); load() of a
// file that does not exist or of a name it does not define; calls with
// unknown keywords, missing arguments or literal values of the wrong type
// (the registry of builtins and the typed command table); unknown event
// names; callbacks with the wrong number of parameters. Calls of builtins
// a capability gates are reported as information, with the flag the
// script will need.
package starcheck

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/internal/readfile"
	"github.com/vicish/vicish/internal/startest"
	"github.com/vicish/vicish/registry"
	"github.com/vicish/vicish/script"
)

// A Finding is one thing check found.
type Finding struct {
	Pos syntax.Position
	Msg string
	// Info marks information (a capability the script will need), not a
	// mistake: it does not make check fail.
	Info bool
}

func (f Finding) String() string {
	if f.Info {
		return fmt.Sprintf("%s: info: %s", f.Pos, f.Msg)
	}
	return fmt.Sprintf("%s: %s", f.Pos, f.Msg)
}

// Checker checks files. Make one with New and use it for many files.
type Checker struct {
	plain, test *env
}

// New returns a Checker knowing vicish's runtime; a test file
// (NAME_test.star) also has what vicish test adds.
func New() (*Checker, error) {
	plain, err := newEnv(registry.Registry{}, nil...)
	if err != nil {
		return nil, err
	}
	test, err := newEnv(startest.Spec(), startest.Granted...)
	if err != nil {
		return nil, err
	}
	return &Checker{plain: plain, test: test}, nil
}

// Check returns what it finds in the program src, named filename, in
// order of position.
func (c *Checker) Check(filename string, src []byte) []Finding {
	e := c.plain
	if strings.HasSuffix(filename, "_test.star") {
		e = c.test
	}
	f, err := script.FileOptions().Parse(filename, src, 0)
	if err != nil {
		if serr, ok := err.(syntax.Error); ok {
			return []Finding{{Pos: serr.Pos, Msg: serr.Msg}}
		}
		return []Finding{{Pos: syntax.MakePosition(&filename, 1, 1), Msg: err.Error()}}
	}
	k := &checker{env: e, file: filename}
	if err := resolve.File(f, k.isPredeclared, starlark.Universe.Has); err != nil {
		if list, ok := err.(resolve.ErrorList); ok {
			for _, re := range list {
				k.add(re.Pos, "%s", re.Msg)
			}
		} else {
			k.add(syntax.MakePosition(&filename, 1, 1), "%s", err.Error())
		}
	}
	k.kinds(f)
	syntax.Walk(f, k.visit)
	sort.SliceStable(k.found, func(i, j int) bool {
		a, b := k.found[i].Pos, k.found[j].Pos
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
	return k.found
}

// checker holds the state of one file's check.
type checker struct {
	env   *env
	file  string
	found []Finding
	// What a name holds, by binding: "session" (vici.connect's value) or
	// "group" (vici.group's); and the functions the file defines.
	kind map[*resolve.Binding]string
	defs map[*resolve.Binding]*syntax.DefStmt
}

func (k *checker) isPredeclared(name string) bool {
	_, ok := k.env.predeclared[name]
	return ok
}

func (k *checker) add(pos syntax.Position, format string, args ...any) {
	k.found = append(k.found, Finding{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (k *checker) info(pos syntax.Position, format string, args ...any) {
	k.found = append(k.found, Finding{Pos: pos, Msg: fmt.Sprintf(format, args...), Info: true})
}

// kinds finds the names bound to a session or a group (s = vici.connect(),
// g = vici.group(...)) and the functions the file defines.
func (k *checker) kinds(f *syntax.File) {
	k.kind = map[*resolve.Binding]string{}
	k.defs = map[*resolve.Binding]*syntax.DefStmt{}
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.DefStmt:
			if b, ok := n.Name.Binding.(*resolve.Binding); ok {
				k.defs[b] = n
			}
		case *syntax.AssignStmt:
			id, ok := n.LHS.(*syntax.Ident)
			call, ok2 := n.RHS.(*syntax.CallExpr)
			if !ok || !ok2 {
				break
			}
			b, ok := id.Binding.(*resolve.Binding)
			if !ok {
				break
			}
			switch k.qualified(call.Fn) {
			case "vici.connect":
				k.kind[b] = "session"
			case "vici.group":
				k.kind[b] = "group"
			}
		}
		return true
	})
}

// predeclared returns the name of a predeclared global x refers to, if
// it is one (not shadowed).
func predeclared(x syntax.Expr) (string, bool) {
	id, ok := x.(*syntax.Ident)
	if !ok {
		return "", false
	}
	b, ok := id.Binding.(*resolve.Binding)
	return id.Name, ok && b.Scope == resolve.Predeclared
}

// qualified returns the builtin an expression names: "print" for a
// predeclared global, "json.encode" for a member of a predeclared module,
// "vici.initiate" for a session's command too; "" for anything else.
func (k *checker) qualified(x syntax.Expr) string {
	switch x := x.(type) {
	case *syntax.Ident:
		if name, ok := predeclared(x); ok {
			return name
		}
	case *syntax.DotExpr:
		if name, ok := predeclared(x.X); ok {
			return name + "." + x.Name.Name
		}
		if k.receiver(x.X) != "" {
			return "vici." + x.Name.Name
		}
	}
	return ""
}

// receiver returns "session" or "group" for a name bound to one, else "".
func (k *checker) receiver(x syntax.Expr) string {
	if id, ok := x.(*syntax.Ident); ok {
		if b, ok := id.Binding.(*resolve.Binding); ok {
			return k.kind[b]
		}
	}
	return ""
}

func (k *checker) visit(n syntax.Node) bool {
	switch n := n.(type) {
	case *syntax.DotExpr:
		k.member(n)
	case *syntax.CallExpr:
		k.call(n)
	case *syntax.LoadStmt:
		k.load(n)
	}
	return true
}

// member checks that a module, session or group has the member named.
func (k *checker) member(x *syntax.DotExpr) {
	name := x.Name.Name
	var have []string
	var what string
	if mod, ok := predeclared(x.X); ok {
		have, what = k.env.members(mod), mod
		if have == nil {
			return // not a module: a value whose attributes vary
		}
	} else {
		var set map[string]bool
		switch k.receiver(x.X) {
		case "session":
			set, what = k.env.session, "a session (vici.connect)"
		case "group":
			set, what = k.env.group, "a group (vici.group)"
		default:
			return
		}
		for n := range set {
			have = append(have, n)
		}
	}
	for _, h := range have {
		if h == name {
			return
		}
	}
	msg := fmt.Sprintf("%s has no member %s", what, name)
	if near := nearest(name, have); near != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", near)
	}
	k.add(x.Name.NamePos, "%s", msg)
}

// load checks that a load() names a file that exists and names it
// defines.
func (k *checker) load(l *syntax.LoadStmt) {
	path := l.ModuleName()
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(k.file), path)
	}
	src, err := readfile.Read(path, readfile.DefaultLimit)
	if err != nil {
		k.add(l.Module.TokenPos, "load: cannot read %s: %v", l.ModuleName(), unwrapPath(err))
		return
	}
	f, err := script.FileOptions().Parse(path, src, 0)
	if err != nil {
		k.add(l.Module.TokenPos, "load: %s does not parse: %v", l.ModuleName(), err)
		return
	}
	defined := map[string]bool{}
	var names []string
	for _, s := range f.Stmts {
		for _, id := range boundNames(s) {
			if !defined[id] {
				defined[id] = true
				names = append(names, id)
			}
		}
	}
	for _, from := range l.From {
		switch name := from.Name; {
		case strings.HasPrefix(name, "_"): // the resolver says why not
		case !defined[name]:
			msg := fmt.Sprintf("load: %s does not define %s", l.ModuleName(), name)
			if near := nearest(name, names); near != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", near)
			}
			k.add(from.NamePos, "%s", msg)
		}
	}
}

// boundNames returns the global names a top-level statement binds.
func boundNames(s syntax.Stmt) []string {
	var out []string
	var lhs func(x syntax.Expr)
	lhs = func(x syntax.Expr) {
		switch x := x.(type) {
		case *syntax.Ident:
			out = append(out, x.Name)
		case *syntax.TupleExpr:
			for _, y := range x.List {
				lhs(y)
			}
		case *syntax.ListExpr:
			for _, y := range x.List {
				lhs(y)
			}
		case *syntax.ParenExpr:
			lhs(x.X)
		}
	}
	switch s := s.(type) {
	case *syntax.DefStmt:
		out = append(out, s.Name.Name)
	case *syntax.AssignStmt:
		lhs(s.LHS)
	case *syntax.LoadStmt:
		for _, to := range s.To {
			out = append(out, to.Name)
		}
	case *syntax.ForStmt:
		lhs(s.Vars)
		for _, b := range s.Body {
			out = append(out, boundNames(b)...)
		}
	case *syntax.IfStmt:
		for _, b := range append(append([]syntax.Stmt(nil), s.True...), s.False...) {
			out = append(out, boundNames(b)...)
		}
	case *syntax.WhileStmt:
		for _, b := range s.Body {
			out = append(out, boundNames(b)...)
		}
	}
	return out
}

// unwrapPath drops the path from a file error (the message names it).
func unwrapPath(err error) error {
	type unwrapper interface{ Unwrap() error }
	if u, ok := err.(unwrapper); ok && u.Unwrap() != nil {
		return u.Unwrap()
	}
	return err
}
