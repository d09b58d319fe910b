package starfmt

import (
	"strings"

	"go.starlark.net/syntax"
)

// expr prints an expression. Parentheses are the source's: the tree
// keeps them, so none is added or dropped.
func (p *printer) expr(x syntax.Expr) {
	if p.depth > 0 && p.lineCommentBefore(start(x)) {
		// A comment inside brackets, in a place no sequence breaks the
		// line for (a conditional written over several lines).
		p.newline(start(x))
	}
	switch x := x.(type) {
	case *syntax.Ident:
		p.write(x.Name)
	case *syntax.Literal:
		p.write(literal(x))
	case *syntax.ParenExpr:
		if t, ok := x.X.(*syntax.TupleExpr); ok && !t.Lparen.IsValid() { // (x, y)
			p.seq("(", ")", x.Lparen, t.List, x.Rparen, modeTuple)
			break
		}
		p.seq("(", ")", x.Lparen, []syntax.Expr{x.X}, x.Rparen, modeParen)
	case *syntax.TupleExpr:
		if x.Lparen.IsValid() { // ()
			p.seq("(", ")", x.Lparen, x.List, x.Rparen, modeTuple)
			break
		}
		for i, y := range x.List {
			if i > 0 {
				p.write(", ")
			}
			p.expr(y)
		}
	case *syntax.ListExpr:
		p.seq("[", "]", x.Lbrack, x.List, x.Rbrack, modeList)
	case *syntax.DictExpr:
		p.seq("{", "}", x.Lbrace, x.List, x.Rbrace, modeList)
	case *syntax.DictEntry:
		p.expr(x.Key)
		p.write(": ")
		p.expr(x.Value)
	case *syntax.CallExpr:
		p.expr(x.Fn)
		p.seq("(", ")", x.Lparen, x.Args, x.Rparen, modeCall)
	case *syntax.DotExpr:
		p.expr(x.X)
		if x.Name.NamePos.Line != end(x.X).Line {
			p.margin += listIndent
			p.breakLine(x.Dot)
			p.write("." + x.Name.Name)
			p.margin -= listIndent
			break
		}
		p.write("." + x.Name.Name)
	case *syntax.IndexExpr:
		p.expr(x.X)
		p.write("[")
		p.expr(x.Y)
		p.write("]")
	case *syntax.SliceExpr:
		p.expr(x.X)
		p.write("[")
		if x.Lo != nil {
			p.expr(x.Lo)
		}
		p.write(":")
		if x.Hi != nil {
			p.expr(x.Hi)
		}
		if x.Step != nil {
			p.write(":")
			p.expr(x.Step)
		}
		p.write("]")
	case *syntax.UnaryExpr:
		if x.Op == syntax.NOT {
			p.write("not ")
		} else {
			p.write(x.Op.String())
		}
		if x.X != nil {
			p.expr(x.X)
		}
	case *syntax.BinaryExpr:
		p.binary(x)
	case *syntax.CondExpr:
		p.expr(x.True)
		p.write(" if ")
		p.expr(x.Cond)
		p.write(" else ")
		p.expr(x.False)
	case *syntax.LambdaExpr:
		p.write("lambda")
		for i, param := range x.Params {
			if i > 0 {
				p.write(",")
			}
			p.write(" ")
			p.expr(param)
		}
		p.write(": ")
		p.expr(x.Body)
	case *syntax.Comprehension:
		p.comprehension(x)
	default:
		panic("starfmt: unexpected expression")
	}
}

// binary prints x op y. A keyword argument or a parameter's default (=)
// is written with spaces, as buildifier writes it. A line break after the
// operator is kept: the right operand then lines up with the left one (a
// keyword's value goes four columns in).
func (p *printer) binary(x *syntax.BinaryExpr) {
	if x.Op == syntax.EQ {
		p.assign(x.X, "=", x.Y)
		return
	}
	brk := end(x.X).Line < start(x.Y).Line
	m := p.margin
	if brk {
		p.margin = p.column()
	}
	p.expr(x.X)
	p.write(" " + x.Op.String())
	if brk {
		p.breakLine(start(x.Y))
	} else {
		p.write(" ")
	}
	p.expr(x.Y)
	p.margin = m
}

// comprehension prints [body for ... if ...] on one line, or, if the
// source breaks a line anywhere in it, body and each clause on a line of
// its own.
func (p *printer) comprehension(x *syntax.Comprehension) {
	multi := x.Lbrack.Line != start(x.Body).Line
	last := end(x.Body)
	for _, c := range x.Clauses {
		multi = multi || start(c).Line != last.Line
		last = end(c)
	}
	multi = multi || last.Line != x.Rbrack.Line
	open, close := "[", "]"
	if x.Curly {
		open, close = "{", "}"
	}
	p.depth++
	p.write(open)
	if multi {
		p.margin += listIndent
		p.newline(start(x.Body))
	}
	p.expr(x.Body)
	for _, c := range x.Clauses {
		if multi {
			p.newline(start(c))
		} else {
			p.write(" ")
		}
		switch c := c.(type) {
		case *syntax.ForClause:
			p.write("for ")
			p.expr(c.Vars)
			p.write(" in ")
			p.expr(c.X)
		case *syntax.IfClause:
			p.write("if ")
			p.expr(c.Cond)
		}
	}
	if multi {
		p.flush(x.Rbrack)
		p.margin -= listIndent
		p.endLine()
	}
	p.write(close)
	p.depth--
}

// A seqMode is a kind of bracketed sequence; they differ in trailing
// commas and in when they stay on one line.
type seqMode int

const (
	modeList  seqMode = iota // [x, y] and {k: v}
	modeCall                 // f(x, y)
	modeTuple                // (x,)
	modeParen                // (x)
	modeDef                  // def f(x, y):
	modeLoad                 // load("m", "x")
)

// seq prints a bracketed sequence: on one line if the source has it on
// one line (each element starting on the line where the one before ends,
// the closing bracket too), else one element a line, indented, each
// followed by a comma (none after a def's parameters, a parenthesized
// expression, *args or **kwargs), the closing bracket on a line of its
// own (a def's stays after the last parameter).
func (p *printer) seq(open, close string, lpos syntax.Position, list []syntax.Expr, rpos syntax.Position, mode seqMode) {
	p.write(open)
	p.depth++
	if p.oneLine(lpos, list, rpos, mode) {
		for i, x := range list {
			if i > 0 {
				p.write(", ")
			}
			p.expr(x)
		}
		if len(list) == 1 && mode == modeTuple {
			p.write(",")
		}
	} else {
		indent := listIndent
		if mode == modeDef {
			indent = defIndent
		}
		p.margin += indent
		for i, x := range list {
			if i == 0 {
				p.flushAsLines(start(x))
				p.endLine()
			} else {
				p.newline(start(x))
			}
			p.expr(x)
			if i+1 < len(list) || trailingComma(mode, x) {
				p.write(",")
			}
		}
		if mode != modeDef || p.lineCommentBefore(rpos) {
			p.flush(rpos) // at the elements' margin
		}
		p.margin -= indent
		if mode != modeDef {
			p.endLine()
		}
	}
	p.depth--
	p.write(close)
}

// oneLine reports whether a sequence stays on one line.
func (p *printer) oneLine(lpos syntax.Position, list []syntax.Expr, rpos syntax.Position, mode seqMode) bool {
	if p.commentIn(lpos, list, rpos, mode) {
		return false
	}
	if mode == modeLoad {
		return lpos.Line == rpos.Line || len(list) <= 1
	}
	last := lpos
	for _, x := range list {
		if start(x).Line != last.Line {
			return false
		}
		last = end(x)
	}
	return mode == modeDef || last.Line == rpos.Line
}

// commentIn reports whether a comment to print lies in the sequence but
// outside its elements (a def's parameters may be followed by a suffix
// comment and still stay on one line).
func (p *printer) commentIn(lpos syntax.Position, list []syntax.Expr, rpos syntax.Position, mode seqMode) bool {
	for _, c := range p.comments[p.next:] {
		if !before(c.pos, rpos) {
			break
		}
		if !before(lpos, c.pos) || c.suffix && mode == modeDef {
			continue
		}
		inside := false
		for _, x := range list {
			if !before(c.pos, start(x)) && before(c.pos, end(x)) {
				inside = true
				break
			}
		}
		if !inside {
			return true
		}
	}
	return false
}

// trailingComma reports whether x, last in a sequence over several lines,
// is followed by a comma.
func trailingComma(mode seqMode, x syntax.Expr) bool {
	switch mode {
	case modeDef, modeParen:
		return false
	case modeCall:
		if u, ok := x.(*syntax.UnaryExpr); ok && (u.Op == syntax.STAR || u.Op == syntax.STARSTAR) {
			return false
		}
	}
	return true
}

// literal returns how a literal is written: numbers as in the source,
// strings and bytes in double quotes unless they hold a double quote,
// with the author's escapes.
func literal(x *syntax.Literal) string {
	if x.Token != syntax.STRING && x.Token != syntax.BYTES {
		return x.Raw
	}
	raw := x.Raw
	i := strings.IndexAny(raw, `'"`)
	if raw[i] == '"' {
		return raw
	}
	if v, _ := x.Value.(string); strings.Contains(v, `"`) {
		return raw
	}
	prefix, body, q := raw[:i], raw[i+1:len(raw)-1], `"`
	if strings.HasPrefix(raw[i:], "'''") && len(raw)-i >= 6 {
		body, q = raw[i+3:len(raw)-3], `"""`
	}
	if strings.ContainsAny(prefix, "rR") {
		return prefix + q + body + q
	}
	var b strings.Builder
	for j := 0; j < len(body); j++ {
		if body[j] == '\\' && j+1 < len(body) {
			if body[j+1] != '\'' {
				b.WriteByte('\\')
			}
			b.WriteByte(body[j+1])
			j++
			continue
		}
		b.WriteByte(body[j])
	}
	return prefix + q + b.String() + q
}

// quote writes a name as a string literal.
func quote(name string) string { return `"` + name + `"` }
