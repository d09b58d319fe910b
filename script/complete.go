package script

import (
	"slices"
	"strings"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/starlarkvici"
)

// starlarkKeywords are completed alongside the global names.
var starlarkKeywords = []string{
	"and", "break", "continue", "def", "elif", "else", "for", "if", "in",
	"lambda", "load", "not", "or", "pass", "return", "while",
	"True", "False", "None",
}

// completer completes over a session's globals: names, members after a dot
// (found by attribute access only, never by calling anything), keyword
// arguments inside a call, and event names in vici.on("...
type completer struct {
	globals starlark.StringDict
	rt      *Runtime // its registry knows the builtins' keywords
}

// Complete returns what TAB offers for line with the cursor at pos (in
// runes): each candidate's remaining text after the word being typed, and
// that word's length, as readline.AutoCompleter wants them.
func (s *Session) Complete(line []rune, pos int) ([][]rune, int) {
	return (&completer{globals: s.globals, rt: s.rt}).Do(line, pos)
}

// Do implements Complete.
func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	text := string(line[:pos])
	open, str := scanBrackets(text)
	if str >= 0 { // inside a string: only event names, in vici.on("...
		prefix := text[str+1:]
		return suffixes(withPrefix(c.eventNames(openCall(text, open)), prefix), len(prefix)), len([]rune(prefix))
	}
	word := trailingWord(text)
	var cands []string
	if dot := strings.LastIndexByte(word, '.'); dot >= 0 {
		base, prefix := word[:dot], word[dot+1:]
		if v := c.resolve(base); v != nil {
			if h, ok := v.(starlark.HasAttrs); ok {
				cands = withPrefix(h.AttrNames(), prefix)
			}
		}
		return suffixes(cands, len(prefix)), len([]rune(prefix))
	}
	if word == "" && strings.TrimSpace(text) == "" {
		return [][]rune{[]rune("    ")}, 0 // TAB at the start of a line indents
	}
	if callee := openCall(text, open); callee != "" && word == "" {
		if starts := c.valueStarts(callee, text); starts != nil {
			return suffixes(starts, 0), 0
		}
	}
	if callee := openCall(text, open); callee != "" {
		if fn := c.resolve(callee); fn != nil {
			for _, k := range withPrefix(c.rt.KeywordNames(fn), word) {
				cands = append(cands, k+"=")
			}
		}
	}
	if len(cands) > 0 { // inside a call, keyword arguments come first
		return suffixes(preferSpecific(cands), len(word)), len([]rune(word))
	}
	names := make([]string, 0, len(c.globals)+len(starlark.Universe)+len(starlarkKeywords))
	for name := range c.globals {
		names = append(names, name)
	}
	for name := range starlark.Universe {
		names = append(names, name)
	}
	names = append(names, starlarkKeywords...)
	slices.Sort(names)
	cands = withPrefix(slices.Compact(names), word)
	return suffixes(cands, len(word)), len([]rune(word))
}

// resolve evaluates a dotted name (a.b.c) by global lookup and attribute
// access; it returns nil if any part is missing.
func (c *completer) resolve(dotted string) starlark.Value {
	parts := strings.Split(dotted, ".")
	v, ok := c.globals[parts[0]]
	if !ok {
		v, ok = starlark.Universe[parts[0]]
	}
	if !ok {
		return nil
	}
	for _, name := range parts[1:] {
		h, ok := v.(starlark.HasAttrs)
		if !ok {
			return nil
		}
		next, err := h.Attr(name)
		if err != nil || next == nil {
			return nil
		}
		v = next
	}
	return v
}

// valueStarts offers how the value of a vici command's keyword starts when
// text ends with "keyword=" inside a call of callee, so TAB shows the type
// charon reads: True or False for a flag, a quote for a str, a list's
// opening for a list; nil for numbers, durations and anything else.
func (c *completer) valueStarts(callee, text string) []string {
	before, ok := strings.CutSuffix(strings.TrimRight(text, " "), "=")
	if !ok || strings.HasSuffix(before, "=") || strings.HasSuffix(before, "!") || strings.HasSuffix(before, "<") || strings.HasSuffix(before, ">") {
		return nil
	}
	kw := trailingWord(strings.TrimRight(before, " "))
	fn, ok := c.resolve(callee).(*starlark.Builtin)
	if !ok || kw == "" || strings.Contains(kw, ".") {
		return nil
	}
	if _, ok := starlarkvici.Help(fn); !ok { // a vici function, not a look-alike
		return nil
	}
	t, ok := starlarkvici.KeywordType(fn.Name(), kw)
	if !ok {
		return nil
	}
	switch t {
	case starlarkvici.Flag, starlarkvici.Bool:
		return []string{"False", "True"}
	case starlarkvici.Str, starlarkvici.Bytes:
		return []string{`"`}
	case starlarkvici.List:
		return []string{`["`}
	}
	return nil
}

// genericKeywords are the options every vici command takes; a command's
// own request keys are offered before them, so ch<TAB> in vici.initiate
// gives child= rather than a choice with check=.
var genericKeywords = map[string]bool{"deadline=": true, "check=": true, "log=": true, "each=": true}

func preferSpecific(cands []string) []string {
	var specific []string
	for _, c := range cands {
		if !genericKeywords[c] {
			specific = append(specific, c)
		}
	}
	if len(specific) == 0 {
		return cands
	}
	return specific
}

func isIdent(r byte) bool {
	return r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// trailingWord returns the dotted identifier ending text.
func trailingWord(text string) string {
	i := len(text)
	for i > 0 && (isIdent(text[i-1]) || text[i-1] == '.') {
		i--
	}
	return text[i:]
}

// scanBrackets reads a line of Starlark up to the cursor and returns the
// positions of the brackets still open there and, if the cursor is inside a
// string literal, where its quote is (else -1).
func scanBrackets(text string) (open []int, str int) {
	var quote byte
	str = -1
	for i := 0; i < len(text); i++ {
		ch := text[i]
		switch {
		case quote != 0:
			if ch == '\\' {
				i++
			} else if ch == quote {
				quote, str = 0, -1
			}
		case ch == '"' || ch == '\'':
			quote, str = ch, i
		case ch == '#':
			return open, -1
		case ch == '(' || ch == '[' || ch == '{':
			open = append(open, i)
		case ch == ')' || ch == ']' || ch == '}':
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
		}
	}
	return open, str
}

// eventNames lists the VICI events when callee is vici's (or a session's)
// on, off or wait: the functions whose first argument is an event name.
func (c *completer) eventNames(callee string) []string {
	fn, ok := c.resolve(callee).(*starlark.Builtin)
	if !ok || !slices.Contains([]string{"vici.on", "vici.off", "vici.wait"}, fn.Name()) {
		return nil
	}
	if _, ok := starlarkvici.Help(fn); !ok { // a vici function, not a look-alike
		return nil
	}
	var names []string
	for _, e := range starlarkvici.Events() {
		names = append(names, e.Name)
	}
	return names
}

// openCall returns the dotted name of the function whose call is innermost
// at the cursor, given the open brackets of text ("" if the innermost open
// bracket is not a call).
func openCall(text string, open []int) string {
	if len(open) == 0 || text[open[len(open)-1]] != '(' {
		return ""
	}
	name := trailingWord(strings.TrimRight(text[:open[len(open)-1]], " "))
	if name == "" || name[0] >= '0' && name[0] <= '9' || name[0] == '.' {
		return ""
	}
	return name
}

// withPrefix returns the names starting with prefix; names starting with
// "_" only when the prefix does too.
func withPrefix(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && (strings.HasPrefix(prefix, "_") || !strings.HasPrefix(n, "_")) {
			out = append(out, n)
		}
	}
	return out
}

// suffixes cuts the first n bytes (the typed word) off each candidate.
func suffixes(cands []string, n int) [][]rune {
	out := make([][]rune, len(cands))
	for i, c := range cands {
		out[i] = []rune(c[n:])
	}
	return out
}
