package script

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/starlarkvici"
	"github.com/vicish/vicish/stdlib/doc"
)

// globalDocs describes the predeclared names that are not standard library
// modules for help(); the modules describe themselves (moduleDocs).
var globalDocs = map[string]string{
	"vici":   "the charon daemon: one function per VICI command, connect(), on()/listen() for events",
	"struct": "struct(**kwargs): a record with named fields",
	"help":   "help() lists what there is; help(x) explains x",
	"exit":   "exit(code=0) ends the program (Ctrl-D too, in the REPL)",
	"quit":   "the same as exit",
	"pp":     "pp(x, limit=50) prints x pretty: indented, long lists folded, secrets hidden",
	"print":  "print(*args, sep=\" \"): print a line; known secrets show as <redacted>",
	"str":    "str(x): x as a string, as Starlark's; the secrets in x become known ones",
	"repr":   "repr(x): x as Starlark writes it; the secrets in x become known ones",
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
		sig := fmt.Sprintf("%s(%s)", x.Name(), strings.Join(KeywordNames(x), ", "))
		if doc := x.Doc(); doc != "" {
			return sig + "\n\n" + doc
		}
		return sig
	case *starlark.Builtin:
		if doc, ok := builtinDocs[x.Name()]; ok {
			return doc
		}
		if m, b, ok := doc.Find(moduleDocs(), x.Name()); ok {
			return b.Text(m)
		}
		if x.Receiver() != nil {
			return fmt.Sprintf("%s: a method of %s", x.Name(), x.Receiver().Type())
		}
		return fmt.Sprintf("%s: a built-in function", x.Name())
	case *starlarkstruct.Module:
		for _, m := range moduleDocs() {
			if m.Name == x.Name {
				return m.Text()
			}
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

// builtinDocs documents the runtime's own builtins.
var builtinDocs = map[string]string{
	"help":   "help(x=None): with no argument, list the globals and the vici commands;\nwith a function or module, or its name (help(\"vici.initiate\")), explain it (arguments and reply shape).",
	"exit":   "exit(code=0): end the program with the given exit code (0..255).",
	"quit":   "quit(code=0): the same as exit.",
	"pp":     "pp(x, limit=50): print x pretty: nested dicts and lists indented, lists longer\nthan limit folded (limit=None: everything), binary bytes abbreviated, secret\nvalues shown as <redacted>, a dict or list inside itself as {...} or [...].",
	"print":  "print(*args, sep=\" \"): print the arguments, separated by sep; known secrets\nare shown as <redacted>.",
	"struct": "struct(**kwargs): a new record whose fields are the keyword arguments: s = struct(a=1); s.a.",
	"str":    "str(x): x as a string (a string stays as it is), as Starlark's str; the values\nof secret keys in x (psk, password, a key's data...) become known secrets.",
	"repr":   "repr(x): x as Starlark writes it (a string quoted), as Starlark's repr; the\nvalues of secret keys in x become known secrets.",
}

func (r *Runtime) overview() string {
	var b strings.Builder
	b.WriteString("Globals:\n")
	names := make([]string, 0, len(r.predeclared))
	for name := range r.predeclared {
		names = append(names, name)
	}
	slices.Sort(names)
	summaries := map[string]string{}
	for _, m := range moduleDocs() {
		summaries[m.Name] = m.Summary + " (help(" + m.Name + "))"
	}
	for _, name := range names {
		line, ok := globalDocs[name]
		if !ok {
			line = summaries[name]
		}
		fmt.Fprintf(&b, "  %-9s %s\n", name, line)
	}
	b.WriteString("\nvici commands (help(vici.NAME) shows the arguments and the reply):\n")
	for _, c := range starlarkvici.Commands() {
		doc, _, _ := strings.Cut(strings.TrimSpace(c.Doc), "\n")
		fmt.Fprintf(&b, "  vici.%-20s %s\n", c.Name, doc)
	}
	b.WriteString("\nOther vici functions:\n")
	for _, f := range starlarkvici.Functions() {
		fmt.Fprintf(&b, "  vici.%s\n      %s\n", f.Sig, f.Doc)
	}
	return strings.TrimRight(b.String(), "\n")
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
