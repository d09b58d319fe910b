// Package starfmt lays out Starlark source the way Bazel's buildifier lays
// out .bzl files: four spaces a block, a sequence either on one line or one
// element a line with a trailing comma, one blank line at most between
// statements and always one around a def, comments kept where they are. It
// prints the syntax tree of go.starlark.net, the parser vicish runs
// scripts with, so it accepts every construct vicish does (while loops,
// bytes literals, sets) and changes layout only: the formatted program has
// the same syntax tree. Unlike buildifier's Format it rewrites nothing
// (load() arguments stay in their order).
//
// Where a layout is a choice, the source decides, as in buildifier: a
// sequence written on one line stays on one line, one written over several
// lines gets one element a line; a binary operator followed by a line
// break keeps it. Strings keep the author's escapes; one in single quotes
// moves to double quotes unless it holds a double quote.
package starfmt

import (
	"bytes"
	"fmt"

	"go.starlark.net/syntax"
)

// Options is the dialect the formatter parses: everything vicish enables.
var options = syntax.FileOptions{
	Set:             true,
	While:           true,
	TopLevelControl: true,
	GlobalReassign:  true,
	Recursion:       true,
}

// Format returns src laid out canonically. filename is used in the error
// for a program that does not parse.
func Format(filename string, src []byte) ([]byte, error) {
	f, err := options.Parse(filename, src, 0)
	if err != nil {
		return nil, err
	}
	p := &printer{comments: scanComments(filename, src)}
	p.file(f)
	if p.next != len(p.comments) { // cannot happen: file() places every comment
		return nil, fmt.Errorf("%s: internal error: comment %q was not placed", p.comments[p.next].pos, p.comments[p.next].text)
	}
	return p.out.Bytes(), nil
}

const (
	blockIndent = 4 // a nested block
	listIndent  = 4 // the elements of a sequence over several lines
	defIndent   = 8 // the parameters of a def over several lines
)

// A printer writes one file. Indentation is written lazily, by write,
// so that a line's margin is the one in force when its first text comes.
type printer struct {
	out      bytes.Buffer
	margin   int // indentation of the lines to come, in spaces
	depth    int // open brackets: a line may break without a backslash
	comments []comment
	next     int // comments[:next] are printed
}

// write writes s, indenting first at the start of a line.
func (p *printer) write(s string) {
	if p.atLineStart() && s != "" {
		for range p.margin {
			p.out.WriteByte(' ')
		}
	}
	p.out.WriteString(s)
}

// atLineStart reports whether nothing is written on the current line.
func (p *printer) atLineStart() bool {
	b := p.out.Bytes()
	return len(b) == 0 || b[len(b)-1] == '\n'
}

// column is the byte offset on the current line where the next text goes.
func (p *printer) column() int {
	if p.atLineStart() {
		return p.margin
	}
	b := p.out.Bytes()
	return len(b) - 1 - bytes.LastIndexByte(b, '\n')
}

// endLine ends the current line, if anything is on it.
func (p *printer) endLine() {
	if p.atLineStart() {
		return
	}
	b := p.out.Bytes()
	n := len(b)
	for n > 0 && b[n-1] == ' ' {
		n--
	}
	p.out.Truncate(n)
	p.out.WriteByte('\n')
}

// blankLine ends the current line and leaves one empty line, unless the
// output is at its start or already there.
func (p *printer) blankLine() {
	p.endLine()
	b := p.out.Bytes()
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\n\n")) {
		p.out.WriteByte('\n')
	}
}

// lineCommentBefore reports whether the next comment to print is a line
// comment before pos.
func (p *printer) lineCommentBefore(pos syntax.Position) bool {
	return p.next < len(p.comments) && !p.comments[p.next].suffix && before(p.comments[p.next].pos, pos)
}

// flush prints the comments before pos: a suffix comment at the end of
// the current line, a line comment on a line of its own at the margin.
func (p *printer) flush(pos syntax.Position) {
	for p.next < len(p.comments) && before(p.comments[p.next].pos, pos) {
		c := p.comments[p.next]
		p.next++
		p.print(c)
	}
}

// suffixes prints the suffix comments before pos that come next, at the
// end of the current line.
func (p *printer) suffixes(pos syntax.Position) {
	for p.next < len(p.comments) && p.comments[p.next].suffix && before(p.comments[p.next].pos, pos) {
		c := p.comments[p.next]
		p.next++
		p.print(c)
	}
}

// print prints one comment, a suffix comment at the end of the current
// line if there is text on it, any other on a line of its own; either way
// the line ends after it.
func (p *printer) print(c comment) {
	if c.suffix && !p.atLineStart() {
		p.endLine()
		p.out.Truncate(p.out.Len() - 1)
		p.out.WriteString("  " + c.text + "\n")
		return
	}
	p.endLine()
	p.write(c.text)
	p.endLine()
}

// flushAsLines prints the comments before pos, each on a line of its own
// at the margin, suffix comments too (buildifier moves the comment after
// an opening bracket onto the first element's line).
func (p *printer) flushAsLines(pos syntax.Position) {
	for p.next < len(p.comments) && before(p.comments[p.next].pos, pos) {
		c := p.comments[p.next]
		p.next++
		p.endLine()
		p.write(c.text)
		p.endLine()
	}
}

// newline breaks the line inside brackets before the node at pos,
// printing the comments that come before it.
func (p *printer) newline(pos syntax.Position) {
	p.flush(pos)
	p.endLine()
}

// breakLine breaks the line before the node at pos: a plain newline inside
// brackets, a backslash continuation outside them.
func (p *printer) breakLine(pos syntax.Position) {
	if p.depth > 0 {
		p.newline(pos)
		return
	}
	p.write(" \\")
	p.endLine()
}

// lineAfter is the position just past the line of pos: the comments
// before it include the one ending that line.
func lineAfter(pos syntax.Position) syntax.Position {
	return syntax.MakePosition(nil, pos.Line+1, 0)
}

func start(n syntax.Node) syntax.Position {
	s, _ := n.Span()
	return s
}

func end(n syntax.Node) syntax.Position {
	_, e := n.Span()
	return e
}
