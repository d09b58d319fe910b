package settings

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vicish/vicish/internal/readfile"
)

// This file reads the strongswan.conf/swanctl.conf syntax the way
// libstrongswan's settings lexer does: three lexer states besides the
// default one (references after ':', values after '=', include patterns),
// includes spliced into the token stream at the point where they appear,
// glob matches read one after the other in sorted order.

type tokKind int

const (
	tEOF     tokKind = iota
	tName            // a section or key name (or a reference, in refs)
	tString          // a quoted string inside a value
	tLBrace          // {
	tRBrace          // }
	tDot             // .
	tComma           // ,
	tColon           // :
	tEq              // =
	tNewline         // end of a value
)

func (k tokKind) String() string {
	switch k {
	case tEOF:
		return "end of file"
	case tName:
		return "name"
	case tString:
		return "string"
	case tLBrace:
		return "'{'"
	case tRBrace:
		return "'}'"
	case tDot:
		return "'.'"
	case tComma:
		return "','"
	case tColon:
		return "':'"
	case tEq:
		return "'='"
	case tNewline:
		return "end of value"
	}
	return "token"
}

type token struct {
	kind tokKind
	text string
	pos  position // for errors
}

// lexState mirrors the flex start conditions.
type lexState int

const (
	stInitial lexState = iota
	stRef
	stVal
)

// maxIncludeDepth stops include loops (strongSwan itself has no guard).
const maxIncludeDepth = 32

type buffer struct {
	name    string
	data    []byte
	pos     int
	line    int
	pending []string // remaining glob matches of an include made in this file
}

type lexer struct {
	ctx    context.Context
	tokens int // read so far
	files  []*buffer
	last   position // where the input ended
	states []lexState
}

func newLexer(ctx context.Context, path string, data []byte) *lexer {
	return &lexer{
		ctx:   ctx,
		files: []*buffer{{name: path, data: data, line: 1}},
	}
}

// checkEvery is how many tokens the lexer reads between two looks at its
// context.
const checkEvery = 4096

func (lx *lexer) state() lexState {
	if len(lx.states) == 0 {
		return stInitial
	}
	return lx.states[len(lx.states)-1]
}

func (lx *lexer) push(s lexState) { lx.states = append(lx.states, s) }
func (lx *lexer) pop() {
	if len(lx.states) > 0 {
		lx.states = lx.states[:len(lx.states)-1]
	}
}

func (lx *lexer) cur() *buffer {
	if len(lx.files) == 0 {
		return nil
	}
	return lx.files[len(lx.files)-1]
}

// position is a file and line, formatted only for an error.
type position struct {
	file string
	line int
}

func (p position) String() string { return fmt.Sprintf("%s:%d", p.file, p.line) }

func (lx *lexer) where() position {
	if b := lx.cur(); b != nil {
		return position{b.name, b.line}
	}
	return lx.last
}

func (lx *lexer) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", lx.where(), fmt.Sprintf(format, args...))
}

// peek returns the next byte of the current file, or -1 at its end.
func (b *buffer) peek(off int) int {
	if b.pos+off >= len(b.data) {
		return -1
	}
	return int(b.data[b.pos+off])
}

func (b *buffer) advance() byte {
	c := b.data[b.pos]
	b.pos++
	if c == '\n' {
		b.line++
	}
	return c
}

// isNameByte reports whether c may appear in a section or key name.
func isNameByte(c int) bool {
	if c < 0 {
		return false
	}
	switch byte(c) {
	case '#', '{', '}', ':', '.', ',', '=', '"', '\r', '\n', '\t', ' ':
		return false
	}
	return true
}

// isValueByte reports whether c may appear in an unquoted value part.
func isValueByte(c int) bool {
	if c < 0 {
		return false
	}
	switch byte(c) {
	case '#', '}', '"', '\r', '\n', '\t', ' ':
		return false
	}
	return true
}

// endOfFile closes the current file and opens the next pending include
// match, if any. It reports whether input remains.
func (lx *lexer) endOfFile() (bool, error) {
	lx.last = lx.where()
	lx.files = lx.files[:len(lx.files)-1]
	if len(lx.files) == 0 {
		return false, nil
	}
	if err := lx.openNext(); err != nil {
		return false, err
	}
	return true, nil
}

// openNext opens the next readable regular file among the current file's
// pending include matches; unreadable matches are skipped like strongSwan
// does.
func (lx *lexer) openNext() error {
	b := lx.cur()
	for len(b.pending) > 0 {
		name := b.pending[0]
		b.pending = b.pending[1:]
		st, err := os.Stat(name)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		data, err := readFile(name)
		if errors.Is(err, readfile.ErrTooLarge) {
			return lx.errorf("include: %v", err)
		}
		if err != nil {
			continue
		}
		if len(lx.files) >= maxIncludeDepth {
			return lx.errorf("include %q: includes nested more than %d deep (an include loop?)", name, maxIncludeDepth)
		}
		lx.files = append(lx.files, &buffer{name: name, data: data, line: 1})
		return nil
	}
	return nil
}

// include resolves pattern relative to the current file's directory and
// starts reading its matches.
func (lx *lexer) include(pattern string) error {
	if pattern == "" {
		return nil // strongSwan: "no include pattern specified, ignored"
	}
	b := lx.cur()
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(b.name), pattern)
	}
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return lx.errorf("include %q: %v", pattern, err)
	}
	b.pending = append(matches, b.pending...)
	return lx.openNext()
}

// next returns the next token.
func (lx *lexer) next() (token, error) {
	if lx.tokens++; lx.tokens%checkEvery == 0 && lx.ctx.Err() != nil {
		return token{}, fmt.Errorf("%s: reading stopped: %w", lx.where(), context.Cause(lx.ctx))
	}
	for {
		b := lx.cur()
		if b == nil {
			return token{kind: tEOF, pos: lx.where()}, nil
		}
		if b.pos >= len(b.data) {
			if lx.state() == stVal {
				lx.pop()
				return token{kind: tNewline, pos: lx.where()}, nil
			}
			more, err := lx.endOfFile()
			if err != nil {
				return token{}, err
			}
			if !more {
				return token{kind: tEOF, pos: lx.where()}, nil
			}
			continue
		}
		var (
			tok  token
			done bool
			err  error
		)
		switch lx.state() {
		case stVal:
			tok, done, err = lx.lexValue(b)
		case stRef:
			tok, done, err = lx.lexRef(b)
		default:
			tok, done, err = lx.lexInitial(b)
		}
		if err != nil || done {
			return tok, err
		}
	}
}

// skipComment skips from '#' to the end of the line (not the newline).
func skipComment(b *buffer) {
	for b.peek(0) >= 0 && b.peek(0) != '\n' && b.peek(0) != '\r' {
		b.advance()
	}
}

// skipBlank consumes a comment or one blank character, as the states
// outside values do between tokens, and reports whether it did.
func skipBlank(b *buffer) bool {
	switch c := b.peek(0); c {
	case '#':
		skipComment(b)
	case ' ', '\t', '\r', '\n':
		b.advance()
	default:
		return false
	}
	return true
}

func (lx *lexer) lexInitial(b *buffer) (token, bool, error) {
	if skipBlank(b) {
		return token{}, false, nil
	}
	pos := lx.where()
	c := b.peek(0)
	switch {
	case c == '{':
		b.advance()
		return token{kind: tLBrace, pos: pos}, true, nil
	case c == '}':
		b.advance()
		return token{kind: tRBrace, pos: pos}, true, nil
	case c == '.':
		b.advance()
		return token{kind: tDot, pos: pos}, true, nil
	case c == ',':
		b.advance()
		return token{kind: tComma, pos: pos}, true, nil
	case c == ':':
		b.advance()
		lx.push(stRef)
		return token{kind: tColon, pos: pos}, true, nil
	case c == '=':
		b.advance()
		lx.push(stVal)
		return token{kind: tEq, pos: pos}, true, nil
	case c == '"':
		return token{}, false, lx.errorf("unexpected string (quotes are allowed in values only)")
	}
	// A name, or the include directive: "include" followed by blanks and
	// something other than '='.
	start := b.pos
	for isNameByte(b.peek(0)) {
		b.pos++
	}
	name := string(b.data[start:b.pos])
	if name == "include" {
		i := 0
		for b.peek(i) == ' ' || b.peek(i) == '\t' {
			i++
		}
		if i > 0 && b.peek(i) != '=' {
			b.pos += i
			pattern, err := lx.lexInclude(b)
			if err != nil {
				return token{}, false, err
			}
			return token{}, false, lx.include(pattern)
		}
	}
	return token{kind: tName, text: name, pos: pos}, true, nil
}

// lexInclude reads an include pattern: unquoted characters up to a blank,
// '#', '}' or the end of the line (a backslash escapes '"', '#', '}' and
// ' '), or one quoted string.
func (lx *lexer) lexInclude(b *buffer) (string, error) {
	if b.peek(0) == '"' {
		b.advance()
		return lx.lexString(b)
	}
	var sb strings.Builder
	for {
		c := b.peek(0)
		switch {
		case c < 0, c == '#', c == '}', c == '\n', c == '\t', c == ' ':
			return sb.String(), nil
		case c == '\r':
			b.advance()
		case c == '\\':
			b.advance()
			if n := b.peek(0); n == '"' || n == '#' || n == '}' || n == ' ' {
				sb.WriteByte(b.advance())
			} else {
				sb.WriteByte('\\')
			}
		case c == '"':
			b.advance()
			s, err := lx.lexString(b)
			if err != nil {
				return "", err
			}
			sb.WriteString(s)
			return sb.String(), nil
		default:
			sb.WriteByte(b.advance())
		}
	}
}

// lexString reads a quoted string after its opening quote.
func (lx *lexer) lexString(b *buffer) (string, error) {
	var sb strings.Builder
	for {
		c := b.peek(0)
		switch c {
		case -1:
			return "", lx.errorf("unterminated string")
		case '"':
			b.advance()
			return sb.String(), nil
		case '\r':
			b.advance()
		case '\\':
			b.advance()
			n := b.peek(0)
			switch n {
			case -1:
				return "", lx.errorf("unterminated string")
			case 'n':
				b.advance()
				sb.WriteByte('\n')
			case 'r':
				b.advance()
				sb.WriteByte('\r')
			case 't':
				b.advance()
				sb.WriteByte('\t')
			case '\n':
				b.advance() // an escaped end of line joins the lines
			case '\r':
				if b.peek(1) == '\n' {
					b.advance()
					b.advance()
				} else {
					sb.WriteByte(b.advance())
				}
			default:
				sb.WriteByte(b.advance())
			}
		default:
			sb.WriteByte(b.advance())
		}
	}
}

func (lx *lexer) lexRef(b *buffer) (token, bool, error) {
	if skipBlank(b) {
		return token{}, false, nil
	}
	pos := lx.where()
	c := b.peek(0)
	switch {
	case c == ',':
		b.advance()
		return token{kind: tComma, pos: pos}, true, nil
	case isNameByte(c):
		// NAME+(\.NAME+)*
		start := b.pos
		for {
			for isNameByte(b.peek(0)) {
				b.pos++
			}
			if b.peek(0) == '.' && isNameByte(b.peek(1)) {
				b.pos++
				continue
			}
			break
		}
		return token{kind: tName, text: string(b.data[start:b.pos]), pos: pos}, true, nil
	}
	lx.pop() // anything else ends the references; read it in the default state
	return token{}, false, nil
}

func (lx *lexer) lexValue(b *buffer) (token, bool, error) {
	pos := lx.where()
	c := b.peek(0)
	switch {
	case c == '\r' || c == ' ' || c == '\t':
		b.advance()
		return token{}, false, nil
	case c == '\n' || c == '#' || c == '}':
		// The value ends; the character is read again in the default state.
		lx.pop()
		return token{kind: tNewline, pos: pos}, true, nil
	case c == '"':
		b.advance()
		s, err := lx.lexString(b)
		if err != nil {
			return token{}, false, err
		}
		return token{kind: tString, text: s, pos: pos}, true, nil
	}
	start := b.pos
	for isValueByte(b.peek(0)) {
		b.pos++
	}
	return token{kind: tName, text: string(b.data[start:b.pos]), pos: pos}, true, nil
}

// Quote returns s as a quoted value that reads back as s: '"' and '\'
// escaped with a backslash, newline, carriage return and tab as \n, \r
// and \t, every other byte as it is.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
