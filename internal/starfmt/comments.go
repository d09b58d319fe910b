package starfmt

import (
	"unicode/utf8"

	"go.starlark.net/syntax"
)

// A comment is one # comment of the source.
type comment struct {
	pos    syntax.Position
	text   string // from # to the end of the line, trailing blanks removed
	suffix bool   // code precedes it on its line
}

// scanComments returns the comments of src, a program the parser accepted,
// in source order. It finds them itself rather than trusting the
// attachment go.starlark.net makes (which may move a comment before a
// closing bracket past it), so that every comment is placed, once, by
// position.
func scanComments(filename string, src []byte) []comment {
	var out []comment
	line, col := int32(1), int32(1)
	code := false // the current line has code before this point
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line, col, code = line+1, 1, false
			i++
		case c == '#':
			j := i
			for j < len(src) && src[j] != '\n' {
				j++
			}
			text := trimRight(string(src[i:j]))
			out = append(out, comment{pos: syntax.MakePosition(&filename, line, col), text: text, suffix: code})
			col += int32(utf8.RuneCount(src[i:j]))
			i = j
		case c == '\'' || c == '"':
			n := stringLen(src[i:])
			for _, r := range string(src[i : i+n]) {
				if r == '\n' {
					line, col = line+1, 1
				} else {
					col++
				}
			}
			i += n
			code = true
		case c == '\\' && i+1 < len(src) && src[i+1] == '\n': // line continuation
			i += 2
			line, col = line+1, 1
		default:
			_, n := utf8.DecodeRune(src[i:])
			if c != ' ' && c != '\t' && c != '\r' && c != '\f' {
				code = true
			}
			i += n
			col++
		}
	}
	return out
}

// stringLen returns the length in bytes of the string literal that s
// starts with (at its opening quote), as go.starlark.net's scanner reads
// it: a backslash always takes the next character with it, raw or not.
func stringLen(s []byte) int {
	q := s[0]
	if len(s) >= 3 && s[1] == q && s[2] == q { // triple-quoted
		n := 0
		for i := 3; i < len(s); i++ {
			switch {
			case s[i] == '\\':
				i++
				n = 0
			case s[i] == q:
				n++
				if n == 3 {
					return i + 1
				}
			default:
				n = 0
			}
		}
		return len(s)
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case q, '\n':
			return i + 1
		}
	}
	return len(s)
}

func trimRight(s string) string {
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

// before reports whether a comes before b in the source.
func before(a, b syntax.Position) bool {
	return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
}
