package script

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/registry"
	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/starlarkvici"
	"github.com/vicish/vicish/stdlib/sys"
)

// globals are the runtime's own builtins, one row each.
func (r *Runtime) globals() []registry.Builtin {
	p := registry.MustParams
	return []registry.Builtin{
		{Name: "help", Params: p("x=None, /"), Fn: r.help,
			Doc: "List the globals and the vici commands; help(x) explains x.\nx is a function or module, or its name: help(\"vici.initiate\") shows a command's arguments and reply shape."},
		{Name: "print", Params: p(`*args, sep=" "`), Fn: r.print,
			Doc: "Print the arguments, separated by sep; known secrets show as <redacted>."},
		{Name: "pp", Params: p("x, limit=50"), Fn: r.pp,
			Doc: "Print x pretty: indented, long lists folded, secrets hidden.\nNested dicts and lists are indented, lists longer than limit folded (limit=None: everything),\nbinary bytes abbreviated, secret values shown as <redacted>, a dict or list inside itself as\n{...} or [...]."},
		{Name: "struct", Params: p("**fields"), Fn: starlarkstruct.Make,
			Doc: "A new record whose fields are the keyword arguments: s = struct(a=1); s.a."},
		{Name: "exit", Params: p("code=0"), Fn: sys.Exit,
			Doc: "End the program with exit code code (0..255); exit(\"message\") prints message and ends with 1.\nThe same as sys.exit; Ctrl-D ends the REPL."},
		{Name: "quit", Params: p("code=0"), Fn: sys.Exit,
			Doc: "The same as exit."},
		{Name: "str", Params: p("x, /"), Fn: r.learned(starlark.Universe["str"].(*starlark.Builtin)),
			Doc: "x as a string (a string stays as it is), as Starlark's str; the values of secret keys in x\n(psk, password, a key's data...) become known secrets."},
		{Name: "repr", Params: p("x, /"), Fn: r.learned(starlark.Universe["repr"].(*starlark.Builtin)),
			Doc: "x as Starlark writes it (a string quoted), as Starlark's repr; the values of secret keys in x\nbecome known secrets."},
	}
}

// help implements help() and help(x), printing through the thread.
func (r *Runtime) help(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x starlark.Value
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0, &x); err != nil {
		return nil, err
	}
	r.emit(thread, r.HelpText(x))
	return starlark.None, nil
}

// lookupName returns the value a dotted name of a global stands for
// ("vici.initiate", "print").
func (r *Runtime) lookupName(name string) (starlark.Value, bool) {
	parts := strings.Split(name, ".")
	v, ok := r.predeclared[parts[0]]
	for _, attr := range parts[1:] {
		if !ok {
			break
		}
		h, isAttrs := v.(starlark.HasAttrs)
		if !isAttrs {
			return nil, false
		}
		var err error
		v, err = h.Attr(attr)
		ok = err == nil && v != nil
	}
	return v, ok
}

// HelpText returns what help(x) prints; x == nil gives the overview: the
// globals and every vici command with one line each.
func (r *Runtime) HelpText(x starlark.Value) string {
	if x == nil {
		return r.overview()
	}
	if name, ok := x.(starlark.String); ok {
		if v, ok := r.lookupName(string(name)); ok {
			return r.HelpText(v) // help("vici.initiate"), as Python's help("topic")
		}
	}
	if text, ok := starlarkvici.Help(x); ok {
		return strings.TrimRight(text, "\n")
	}
	switch x := x.(type) {
	case *starlark.Function:
		sig := fmt.Sprintf("%s(%s)", x.Name(), strings.Join(r.KeywordNames(x), ", "))
		if doc := x.Doc(); doc != "" {
			return sig + "\n\n" + doc
		}
		return sig
	case *starlark.Builtin:
		if module, b, ok := r.reg.Lookup(x.Name()); ok && module != "vici" {
			return b.Help(module, Flag)
		}
		if x.Receiver() != nil {
			return fmt.Sprintf("%s: a method of %s", x.Name(), x.Receiver().Type())
		}
		return fmt.Sprintf("%s: a built-in function", x.Name())
	case *starlarkstruct.Module:
		if m, ok := r.reg.Module(x.Name); ok {
			return m.Help(Flag)
		}
		return moduleMembers(x)
	case starlark.HasAttrs:
		return moduleMembers(x)
	}
	return fmt.Sprintf("%s: a value of type %s", x.String(), x.Type())
}

// moduleMembers is help(x) of a value with attributes but no docs.
func moduleMembers(x starlark.HasAttrs) string {
	names := x.AttrNames()
	slices.Sort(names)
	return fmt.Sprintf("%s (%s); members:\n  %s", x.String(), x.Type(), strings.Join(names, ", "))
}

func (r *Runtime) overview() string {
	var b strings.Builder
	b.WriteString("Globals:\n")
	lines := map[string]string{}
	for _, g := range r.reg.Globals {
		lines[g.Name] = registry.Signature(g.Name, g.Params) + ": " + g.Summary()
	}
	for _, m := range r.reg.Modules {
		lines[m.Name] = m.Summary + needsNote(m) + " (help(" + m.Name + "))"
	}
	for _, name := range r.predeclared.Keys() {
		fmt.Fprintf(&b, "  %-9s %s\n", name, lines[name])
	}
	vici, _ := r.reg.Module("vici")
	b.WriteString("\nvici commands (help(vici.NAME) shows the arguments and the reply):\n")
	isCommand := map[string]bool{}
	for _, c := range starlarkvici.Commands() {
		f, _ := vici.Lookup(c.Name)
		fmt.Fprintf(&b, "  vici.%-20s %s\n", c.Name, f.Summary())
		isCommand[c.Name] = true
	}
	b.WriteString("\nOther vici functions:\n")
	for _, f := range vici.Builtins {
		if isCommand[f.Name] || f.Name == "close" { // close is a session's
			continue
		}
		first, _, _ := strings.Cut(f.Summary(), ". ")
		fmt.Fprintf(&b, "  %s\n      %s\n", vici.Signature(f), strings.TrimSuffix(first, ".")+".")
	}
	return strings.TrimRight(b.String(), "\n")
}

// needsNote says, for help()'s list of globals, which of m's builtins need
// a capability and the flag granting it: " (needs --allow-exec)" when all
// do, " (write needs --allow-write)" when some do.
func needsNote(m registry.Module) string {
	var gated, flags []string
	all := true
	for _, b := range m.Builtins {
		switch {
		case b.Needs != "":
			gated = append(gated, b.Name+" needs "+Flag(b.Needs))
			flags = append(flags, Flag(b.Needs))
		case !b.Method():
			all = false
		}
	}
	switch slices.Sort(flags); {
	case len(gated) == 0:
		return ""
	case all && len(slices.Compact(flags)) == 1:
		return " (needs " + flags[0] + ")"
	}
	return " (" + strings.Join(gated, ", ") + ")"
}

// pp implements pp(x, limit=50): x through the Printer, with at most limit
// items of each list (None: all of them).
func (r *Runtime) pp(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x, limit starlark.Value = nil, starlark.MakeInt(50)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "x", &x, "limit?", &limit); err != nil {
		return nil, err
	}
	p := &Printer{Secrets: r.secrets, Context: starctx.From(thread)}
	switch limit := limit.(type) {
	case starlark.NoneType:
		p.MaxItems = -1
	case starlark.Int:
		n, ok := limit.Int64()
		if !ok || n < 1 || n > math.MaxInt32 {
			return nil, fmt.Errorf("%s: limit must be a positive int or None, got %s", b.Name(), limit)
		}
		p.MaxItems = int(n)
	default:
		return nil, fmt.Errorf("%s: limit must be a positive int or None, got %s", b.Name(), limit.Type())
	}
	r.secrets.Learn(x)
	text, err := p.Format(x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), starctx.Interrupted(p.Context))
	}
	r.emit(thread, text)
	return starlark.None, nil
}

// print implements print(*args, sep=" ") as Starlark's does, learning the
// secrets among its arguments first, so that print(k) of a shared key's
// dict shows <redacted>.
func (r *Runtime) print(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	sep := " "
	if err := starlark.UnpackArgs(b.Name(), nil, kwargs, "sep?", &sep); err != nil {
		return nil, err
	}
	r.secrets.LearnArgs(b.Name(), args, nil)
	var buf strings.Builder
	for i, v := range args {
		if i > 0 {
			buf.WriteString(sep)
		}
		if s, ok := starlark.AsString(v); ok {
			buf.WriteString(s)
		} else if b, ok := v.(starlark.Bytes); ok {
			buf.WriteString(string(b)) // as Starlark's print
		} else {
			buf.WriteString(v.String())
		}
	}
	r.emit(thread, buf.String())
	return starlark.None, nil
}

// emit writes a line through the thread's print function, or the runtime's
// (redacting) standard output.
func (r *Runtime) emit(thread *starlark.Thread, text string) {
	if thread.Print != nil {
		thread.Print(thread, text)
	} else {
		fmt.Fprintln(r.stdout, text)
	}
}
