package starfmt

import (
	"math"

	"go.starlark.net/syntax"
)

// file prints the program, ending it with a newline.
func (p *printer) file(f *syntax.File) {
	eof := syntax.MakePosition(nil, math.MaxInt32, 0)
	p.block(f.Stmts, eof, 0)
	p.endLine()
}

// block prints a sequence of statements at the margin, with the comments
// among them and after them: those before limit (where what follows the
// block starts) that are indented at least at column col (0: any column).
// Between two statements comes at most one blank line, and one always
// around a def, around a standalone comment block, before a statement with
// comments of its own and between load() and other statements.
func (p *printer) block(stmts []syntax.Stmt, limit syntax.Position, col int32) {
	var prev syntax.Stmt
	for i, s := range stmts {
		next := limit
		if i+1 < len(stmts) {
			next = start(stmts[i+1])
		}
		p.leading(prev, s)
		p.stmt(s, next)
		p.flush(lineAfter(end(s))) // the comment ending its last line
		p.endLine()
		prev = s
	}
	p.trailing(prev, limit, col)
}

// leading prints what comes between prev (nil at the start of a block)
// and s: a comment ending the line before, comment blocks, blank lines.
func (p *printer) leading(prev, s syntax.Stmt) {
	at := start(s)
	// A suffix comment not yet printed belongs to the line being ended
	// (a block's header, `if x:  # why`).
	p.suffixes(at)
	p.endLine()
	runs := p.runs(at, 0)
	for i, r := range runs {
		switch {
		case i > 0:
			p.blankLine()
		case prev == nil:
		case r[0].pos.Line > end(prev).Line+1 || isBlock(prev) ||
			len(runs) == 1 && at.Line == r[len(r)-1].pos.Line+1:
			// Separated from prev, after a block, or the comment of s.
			p.blankLine()
		}
		p.comment(r)
	}
	switch {
	case len(runs) > 0:
		if at.Line > runs[len(runs)-1][len(runs[len(runs)-1])-1].pos.Line+1 {
			p.blankLine()
		}
	case prev != nil && !compact(prev, s):
		p.blankLine()
	}
}

// trailing prints the comments after the last statement of a block (prev;
// nil for a file with none): those before limit indented at least at
// column col.
func (p *printer) trailing(prev syntax.Stmt, limit syntax.Position, col int32) {
	runs := p.runs(limit, col)
	for i, r := range runs {
		if i > 0 || prev != nil && (r[0].pos.Line > end(prev).Line+1 || isBlock(prev)) {
			p.blankLine()
		}
		p.comment(r)
	}
}

// runs takes the comments before pos, those indented at least at column
// col and all before the first that is not, in blocks of consecutive lines.
func (p *printer) runs(pos syntax.Position, col int32) [][]comment {
	var runs [][]comment
	for p.next < len(p.comments) {
		c := p.comments[p.next]
		if !before(c.pos, pos) || c.pos.Col < col {
			break
		}
		p.next++
		if n := len(runs); n > 0 && runs[n-1][len(runs[n-1])-1].pos.Line+1 == c.pos.Line {
			runs[n-1] = append(runs[n-1], c)
		} else {
			runs = append(runs, []comment{c})
		}
	}
	return runs
}

// comment prints a block of line comments at the margin.
func (p *printer) comment(r []comment) {
	for _, c := range r {
		p.endLine()
		p.write(c.text)
		p.endLine()
	}
}

// compact reports whether s follows prev without a blank line: loads
// stay together, other statements keep the source's choice, except that a
// def is always set apart, and so is a run of loads.
func compact(prev, s syntax.Stmt) bool {
	_, load1 := prev.(*syntax.LoadStmt)
	_, load2 := s.(*syntax.LoadStmt)
	_, def1 := prev.(*syntax.DefStmt)
	_, def2 := s.(*syntax.DefStmt)
	switch {
	case load1 && load2:
		return true
	case load1 || load2 || def1 || def2:
		return false
	}
	return start(s).Line-end(prev).Line <= 1
}

// isBlock reports whether s has a block of statements: a comment after it
// is set apart by a blank line.
func isBlock(s syntax.Stmt) bool {
	switch s.(type) {
	case *syntax.DefStmt, *syntax.IfStmt, *syntax.ForStmt, *syntax.WhileStmt:
		return true
	}
	return false
}

// stmt prints one statement; limit is where the next one starts.
func (p *printer) stmt(s syntax.Stmt, limit syntax.Position) {
	switch s := s.(type) {
	case *syntax.ExprStmt:
		p.expr(s.X)
	case *syntax.AssignStmt:
		p.assign(s.LHS, s.Op.String(), s.RHS)
	case *syntax.BranchStmt:
		p.write(s.Token.String())
	case *syntax.ReturnStmt:
		p.write("return")
		if s.Result != nil {
			p.write(" ")
			p.expr(s.Result)
		}
	case *syntax.LoadStmt:
		p.load(s)
	case *syntax.DefStmt:
		p.write("def " + s.Name.Name)
		p.seq("(", ")", s.Lparen, s.Params, s.Rparen, modeDef)
		p.write(":")
		p.body(s.Body, limit, true)
	case *syntax.ForStmt:
		p.write("for ")
		p.expr(s.Vars)
		p.write(" in ")
		p.expr(s.X)
		p.write(":")
		p.body(s.Body, limit, true)
	case *syntax.WhileStmt:
		p.write("while ")
		p.expr(s.Cond)
		p.write(":")
		p.body(s.Body, limit, true)
	case *syntax.IfStmt:
		p.ifStmt(s, limit)
	default:
		panic("starfmt: unexpected statement")
	}
}

// assign prints lhs op rhs; a line break after the operator (a backslash
// continuation in the source) is kept, the right side indented.
func (p *printer) assign(lhs syntax.Expr, op string, rhs syntax.Expr) {
	brk := end(lhs).Line < start(rhs).Line
	m := p.margin
	if brk {
		p.margin = p.column() + listIndent
	}
	p.expr(lhs)
	p.write(" " + op)
	if brk {
		p.breakLine(start(rhs))
	} else {
		p.write(" ")
	}
	p.expr(rhs)
	p.margin = m
}

// body prints a nested block; its trailing comments are those before
// limit indented as deeply as its statements (all of them if !indented).
func (p *printer) body(stmts []syntax.Stmt, limit syntax.Position, indented bool) {
	col := int32(0)
	if indented {
		col = start(stmts[0]).Col
	}
	p.margin += blockIndent
	p.block(stmts, limit, col)
	p.margin -= blockIndent
}

// ifStmt prints an if statement, an else block holding nothing but an if
// becoming elif.
func (p *printer) ifStmt(s *syntax.IfStmt, limit syntax.Position) {
	p.write("if ")
	for {
		p.expr(s.Cond)
		p.write(":")
		if len(s.False) == 0 {
			p.body(s.True, limit, true)
			return
		}
		p.body(s.True, s.ElsePos, false)
		p.endLine()
		if s.ElsePos.Line-end(s.True[len(s.True)-1]).Line > 1 {
			p.blankLine()
		}
		if next, ok := s.False[0].(*syntax.IfStmt); ok && len(s.False) == 1 && !p.commentBefore(next.If) {
			p.write("elif ")
			s = next
			continue
		}
		p.write("else:")
		p.body(s.False, limit, true)
		return
	}
}

// commentBefore reports whether a comment before pos is still to be
// printed.
func (p *printer) commentBefore(pos syntax.Position) bool {
	return p.next < len(p.comments) && before(p.comments[p.next].pos, pos)
}

// load prints a load statement: the module, then each name as a string,
// or local = "name" when it is bound under another name.
func (p *printer) load(s *syntax.LoadStmt) {
	args := []syntax.Expr{s.Module}
	for i, from := range s.From {
		name := &syntax.Literal{Token: syntax.STRING, TokenPos: from.NamePos, Raw: quote(from.Name), Value: from.Name}
		if s.To[i].Name == from.Name {
			args = append(args, name)
		} else {
			args = append(args, &syntax.BinaryExpr{X: s.To[i], OpPos: s.To[i].NamePos, Op: syntax.EQ, Y: name})
		}
	}
	p.write("load")
	p.seq("(", ")", s.Load, args, s.Rparen, modeLoad)
}
