package registry

import (
	"fmt"
	"strings"
)

// Kind says how a parameter is given in a call.
type Kind uint8

// The kinds of parameter, as in a Python def.
const (
	Plain          Kind = iota // by position or by keyword: f(x) or f(x=1)
	PositionalOnly             // by position only (before "/" in a def)
	KeywordOnly                // by keyword only (after "*" or *args)
	Args                       // *args: any further positional arguments
	Kwargs                     // **kwargs: any further keyword arguments
)

// Param is one parameter of a builtin.
type Param struct {
	Name string
	Kind Kind
	// Default is the default as help shows it ("None", "10", `"\t"`);
	// "" for a parameter the call must give.
	Default string
	// Type says what the parameter takes, where the table knows it
	// ("str", "list of str", "bool", "duration"); "" when it does not.
	Type string
}

// Required reports whether every call must give p.
func (p Param) Required() bool {
	return p.Default == "" && p.Kind != Args && p.Kind != Kwargs
}

// Keyword reports whether p may be given as name=value.
func (p Param) Keyword() bool { return p.Kind == Plain || p.Kind == KeywordOnly }

// ParseParams reads a parameter list written as in a Python def:
// `x, /, limit=50, *, prefix="", **kwargs`. A default runs to the next
// comma outside quotes and brackets and is kept as written; "/" ends the
// positional-only parameters, "*" (or *args) starts the keyword-only ones.
func ParseParams(list string) ([]Param, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var params []Param
	keywordOnly := false
	for _, item := range splitTop(list) {
		item = strings.TrimSpace(item)
		name, def, hasDefault := strings.Cut(item, "=")
		name, def = strings.TrimSpace(name), strings.TrimSpace(def)
		p := Param{Name: name, Default: def, Kind: Plain}
		switch {
		case item == "/":
			if keywordOnly {
				return nil, fmt.Errorf("%q: / after the keyword-only parameters begin", list)
			}
			for i := range params {
				params[i].Kind = PositionalOnly
			}
			continue
		case item == "*":
			keywordOnly = true
			continue
		case strings.HasPrefix(name, "**"):
			p.Name, p.Kind = name[2:], Kwargs
		case strings.HasPrefix(name, "*"):
			p.Name, p.Kind = name[1:], Args
			keywordOnly = true
		case keywordOnly:
			p.Kind = KeywordOnly
		}
		if !isIdentifier(p.Name) || hasDefault && (def == "" || p.Kind == Args || p.Kind == Kwargs) {
			return nil, fmt.Errorf("%q: bad parameter %q", list, item)
		}
		params = append(params, p)
	}
	return params, nil
}

// MustParams is ParseParams for a list written in the program: it panics
// if the list is malformed, as regexp.MustCompile does.
func MustParams(list string) []Param {
	params, err := ParseParams(list)
	if err != nil {
		panic("registry: " + err.Error())
	}
	return params
}

// Signature renders name(params) as help shows it:
// "exec.run(argv, timeout=None, stdin=None, env=None)". A "*" comes before
// the first keyword-only parameter unless *args does; "/" is left out.
func Signature(name string, params []Param) string {
	var parts []string
	star := false
	for _, p := range params {
		switch p.Kind {
		case Args:
			star = true
			parts = append(parts, "*"+p.Name)
			continue
		case Kwargs:
			parts = append(parts, "**"+p.Name)
			continue
		case KeywordOnly:
			if !star {
				parts = append(parts, "*")
				star = true
			}
		}
		if p.Default != "" {
			parts = append(parts, p.Name+"="+p.Default)
		} else {
			parts = append(parts, p.Name)
		}
	}
	return name + "(" + strings.Join(parts, ", ") + ")"
}

// splitTop splits s at the commas outside quotes and brackets.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
		case c == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func isIdentifier(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}
