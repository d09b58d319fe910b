package starcheck

import (
	"fmt"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/registry"
	"github.com/vicish/vicish/script"
)

// call checks a call of a builtin the registry describes.
func (k *checker) call(c *syntax.CallExpr) {
	name := k.qualified(c.Fn)
	if name == "" {
		return
	}
	row, ok := k.env.builtin(name)
	if !ok {
		return // an unknown member: member() said so
	}
	args := k.match(name, row.Params, c)
	if row.Needs != "" && !k.env.granted[row.Needs] {
		k.info(c.Lparen, "%s needs %s", name, script.Flag(row.Needs))
	}
	short := name[strings.LastIndex(name, ".")+1:]
	if strings.HasPrefix(name, "vici.") || k.receiver(dotX(c.Fn)) != "" {
		switch short {
		case "on", "off", "wait":
			k.event(name, args["event"])
		case "connect", "group", "use":
			k.remote(name, c, args)
		}
		switch short {
		case "on":
			k.callback(name, args["fn"], 2, "(name, data)")
		case "wait":
			k.callback(name, args["match"], 1, "(data)")
		}
		k.callback(name, args["log"], 1, "(event)")
		k.callback(name, args["each"], 1, "(entry)")
	}
}

func dotX(x syntax.Expr) syntax.Expr {
	if d, ok := x.(*syntax.DotExpr); ok {
		return d.X
	}
	return nil
}

// match matches a call's arguments to the builtin's parameters as
// Starlark would, reporting what does not fit, and returns the arguments
// by parameter name.
func (k *checker) match(name string, params []registry.Param, c *syntax.CallExpr) map[string]syntax.Expr {
	got := map[string]syntax.Expr{}
	var positional []syntax.Expr
	splat := false
	type keyword struct {
		id    *syntax.Ident
		value syntax.Expr
	}
	var keywords []keyword
	for _, a := range c.Args {
		switch a := a.(type) {
		case *syntax.BinaryExpr:
			if id, ok := a.X.(*syntax.Ident); ok && a.Op == syntax.EQ {
				keywords = append(keywords, keyword{id, a.Y})
				continue
			}
		case *syntax.UnaryExpr:
			if a.Op == syntax.STAR || a.Op == syntax.STARSTAR {
				splat = true
				continue
			}
		}
		positional = append(positional, a)
	}
	var slots []registry.Param // what positional arguments fill, in order
	varargs, kwargs := false, false
	for _, p := range params {
		switch p.Kind {
		case registry.Plain, registry.PositionalOnly:
			slots = append(slots, p)
		case registry.Args:
			varargs = true
		case registry.Kwargs:
			kwargs = true
		}
	}
	for i, a := range positional {
		if i >= len(slots) {
			if !varargs {
				k.add(start(a), "%s takes at most %d positional argument%s, got %d", name, len(slots), plural(len(slots)), len(positional))
			}
			break
		}
		got[slots[i].Name] = a
		k.literal(name, slots[i], a)
	}
	for _, kw := range keywords {
		p, ok := param(params, kw.id.Name)
		switch {
		case ok && got[p.Name] != nil:
			k.add(kw.id.NamePos, "%s: %s is given twice", name, kw.id.Name)
		case ok:
			got[p.Name] = kw.value
			k.literal(name, p, kw.value)
		case !kwargs:
			msg := fmt.Sprintf("%s has no keyword %s", name, kw.id.Name)
			if near := nearest(kw.id.Name, keywordNames(params)); near != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", near)
			}
			k.add(kw.id.NamePos, "%s", msg)
		}
	}
	if !splat {
		for _, p := range params {
			if p.Required() && got[p.Name] == nil {
				k.add(c.Lparen, "%s: missing argument %s", name, p.Name)
			}
		}
	}
	return got
}

// param returns the parameter a keyword argument name fills.
func param(params []registry.Param, name string) (registry.Param, bool) {
	for _, p := range params {
		if p.Name == name && p.Keyword() {
			return p, true
		}
	}
	return registry.Param{}, false
}

func keywordNames(params []registry.Param) []string {
	var names []string
	for _, p := range params {
		if p.Keyword() {
			names = append(names, p.Name)
		}
	}
	return names
}

// literal reports a literal argument of a type the parameter does not
// take (the vici commands' typed request keys, as the command table says
// charon reads them).
func (k *checker) literal(name string, p registry.Param, x syntax.Expr) {
	kind := literalKind(x)
	if kind == "" || kind == "None" || p.Type == "" {
		return
	}
	var ok bool
	switch p.Type {
	case "str":
		ok = kind == "str"
	case "str or bytes":
		ok = kind == "str" || kind == "bytes"
	case "int":
		ok = kind == "int" || kind == "str" && isDigits(x.(*syntax.Literal).Value.(string))
	case "bool", "flag":
		ok = kind == "bool"
	case "list of str":
		ok = kind == "str" || kind == "list" || kind == "tuple"
	case "duration":
		ok = kind == "int" || kind == "float" || kind == "str"
	case "dict":
		ok = kind == "dict"
	case "function":
		ok = kind == "function"
	case "function or True":
		ok = kind == "function" || kind == "bool"
	default:
		return
	}
	if !ok {
		k.add(start(x), "%s: %s takes %s, not %s", name, p.Name, article(p.Type), article(kind))
	}
}

// literalKind names the type of a literal expression ("" for anything
// that is not one).
func literalKind(x syntax.Expr) string {
	switch x := x.(type) {
	case *syntax.Literal:
		switch x.Token {
		case syntax.STRING:
			return "str"
		case syntax.BYTES:
			return "bytes"
		case syntax.INT:
			return "int"
		case syntax.FLOAT:
			return "float"
		}
	case *syntax.ListExpr:
		return "list"
	case *syntax.DictExpr:
		return "dict"
	case *syntax.TupleExpr:
		return "tuple"
	case *syntax.ParenExpr:
		if _, ok := x.X.(*syntax.TupleExpr); ok {
			return "tuple"
		}
		return literalKind(x.X)
	case *syntax.LambdaExpr:
		return "function"
	case *syntax.Ident:
		if b, ok := x.Binding.(*resolve.Binding); ok && b.Scope == resolve.Universal {
			switch x.Name {
			case "True", "False":
				return "bool"
			case "None":
				return "None"
			}
		}
	}
	return ""
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func article(t string) string {
	switch t[0] {
	case 'a', 'e', 'i', 'o', 'u':
		return "an " + t
	}
	return "a " + t
}

// event checks a literal event name given to on, off or wait.
func (k *checker) event(name string, x syntax.Expr) {
	lit, ok := x.(*syntax.Literal)
	if !ok || lit.Token != syntax.STRING {
		return
	}
	ev := lit.Value.(string)
	for _, e := range k.env.events {
		if e == ev {
			return
		}
	}
	msg := fmt.Sprintf("%s: the daemon raises no event %q", name, ev)
	if near := nearest(ev, k.env.events); near != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", near)
	}
	k.add(lit.TokenPos, "%s", msg)
}

// remote reports, as information, a literal remote URI given to
// vici.connect, vici.group or vici.use: it needs --allow-net unless the
// user gives it with --uri.
func (k *checker) remote(name string, c *syntax.CallExpr, args map[string]syntax.Expr) {
	var uris []*syntax.Literal
	collect := func(x syntax.Expr) {
		if lit, ok := x.(*syntax.Literal); ok && lit.Token == syntax.STRING {
			uris = append(uris, lit)
		}
	}
	collect(args["uri"])
	if d, ok := args["members"].(*syntax.DictExpr); ok {
		for _, e := range d.List {
			collect(e.(*syntax.DictEntry).Value)
		}
	}
	for _, lit := range uris {
		uri := lit.Value.(string)
		if scheme, _, found := strings.Cut(uri, "://"); found && scheme != "unix" {
			k.info(lit.TokenPos, "%s of %s needs %s (unless the user gives it with --uri)", name, uri, script.Flag("net"))
		}
	}
}

// callback checks that a function written in the call (a lambda, or a def
// of the file named) takes the arguments the builtin calls it with: n
// positional ones, and session= too if it has a parameter of that name.
func (k *checker) callback(name string, x syntax.Expr, n int, with string) {
	if x == nil {
		return
	}
	var params []syntax.Expr
	var what string
	switch f := x.(type) {
	case *syntax.LambdaExpr:
		params, what = f.Params, "the lambda"
	case *syntax.Ident:
		b, ok := f.Binding.(*resolve.Binding)
		def := k.defs[b]
		if !ok || def == nil {
			return
		}
		params, what = def.Params, f.Name
	default:
		return
	}
	required, max := 0, 0
params:
	for _, p := range params {
		switch p := p.(type) {
		case *syntax.Ident:
			if p.Name == "session" {
				continue
			}
			required++
			max++
		case *syntax.BinaryExpr:
			max++
		case *syntax.UnaryExpr:
			if p.Op == syntax.STAR && p.X != nil {
				max = 1 << 30
			}
			if p.Op == syntax.STAR {
				break params // the rest are keyword-only
			}
		}
	}
	if required > n || max < n {
		k.add(start(x), "%s calls %s with %d argument%s %s, but it takes %s", name, what, n, plural(n), with, takes(required, max))
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func takes(required, max int) string {
	switch {
	case required == max:
		return fmt.Sprint(required)
	case max >= 1<<30:
		return fmt.Sprintf("%d or more", required)
	}
	return fmt.Sprintf("%d to %d", required, max)
}

func start(n syntax.Node) syntax.Position {
	s, _ := n.Span()
	return s
}
