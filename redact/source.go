package redact

import (
	"regexp"
	"strings"

	"go.starlark.net/syntax"
)

// namesPattern matches one of secretNames.
var namesPattern = strings.Join(secretNames, "|")

// settingSecret matches text that seems to give a secret a value: a secret
// name or data followed by = or : and a quote, or a key-loading command.
var settingSecret = regexp.MustCompile(`(?i)\b(` + namesPattern + `|data)["']?\s*[=:]\s*[bru]*["']|load[-_](shared|key|token)\b`)

// givenSecret matches a secret name given a quoted value in text that need
// not parse; the value is the first group.
var givenSecret = regexp.MustCompile(`(?i)\b(?:` + namesPattern + `)["']?\s*[=:]\s*[bru]*["']([^"'\n]+)["']`)

// givenData matches a quoted value given to a data key; the value is the
// first group.
var givenData = regexp.MustCompile(`(?i)\bdata["']?\s*[=:]\s*[bru]*["']([^"'\n]+)["']`)

// givenType matches a quoted value given to a type key; the value is the
// first group.
var givenType = regexp.MustCompile(`(?i)\btype["']?\s*[=:]\s*["']([^"'\n]*)["']`)

// loadsKeyText matches the name of a command that loads a shared or
// private key, as a builtin or as a wire name.
var loadsKeyText = regexp.MustCompile(`(?i)\bload[-_](shared|key|token)\b`)

// LearnText records the values that text, which need not parse (a line
// with a syntax error), seems to give to secret keys: psk = "...", and the
// data of a key-loading command or next to a type that is not a
// certificate's, as ScanSource would had the text parsed.
func (s *Secrets) LearnText(text string) {
	for _, m := range givenSecret.FindAllStringSubmatch(text, -1) {
		s.Add(m[1])
	}
	dataIsSecret := loadsKeyText.MatchString(text)
	for _, m := range givenType.FindAllStringSubmatch(text, -1) {
		dataIsSecret = dataIsSecret || keysFor(m[1], true, false).dataIsSecret
	}
	if dataIsSecret {
		for _, m := range givenData.FindAllStringSubmatch(text, -1) {
			s.Add(m[1])
		}
	}
}

// Private reports whether a line of input must stay out of a history file:
// it holds a known secret, or looks like it sets one (even when it does not
// parse: a PSK with a syntax error).
func (s *Secrets) Private(line string) bool {
	return s.contains(line) || settingSecret.MatchString(line)
}

// ScanSource records the secrets written as literals in a parsed program:
// string values given to keys or keyword arguments named like secrets, the
// data of a call or dict that also names a non-certificate type, strings
// assigned to variables named like secrets, and strings built from
// literals with +. It reports whether any were found.
func (s *Secrets) ScanSource(f *syntax.File) bool {
	found := false
	syntax.Walk(f, func(n syntax.Node) bool {
		var names []string
		var values []syntax.Expr
		loads := false
		switch n := n.(type) {
		case *syntax.AssignStmt:
			if id, ok := n.LHS.(*syntax.Ident); ok && isSecretName(id.Name) {
				names, values = []string{id.Name}, []syntax.Expr{n.RHS}
			}
		case *syntax.DictExpr:
			for _, e := range n.List {
				entry := e.(*syntax.DictEntry)
				if k, ok := constString(entry.Key, 0); ok {
					names = append(names, k)
					values = append(values, entry.Value)
				}
			}
		case *syntax.CallExpr:
			for i, a := range n.Args {
				if bin, ok := a.(*syntax.BinaryExpr); ok && bin.Op == syntax.EQ {
					if id, ok := bin.X.(*syntax.Ident); ok {
						names = append(names, id.Name)
						values = append(values, bin.Y)
					}
				} else if cmd, ok := constString(a, 0); ok && i == 0 && loadsKey(cmd) {
					loads = true // vici.call("load-shared", data=...)
				}
			}
			if fn, ok := n.Fn.(*syntax.DotExpr); ok && loadsKey(fn.Name.Name) {
				loads = true
			}
		}
		typ, hasType := "", false
		for i, name := range names {
			if name == "type" {
				typ, _ = constString(values[i], 0)
				hasType = true
			}
		}
		keys := keysFor(typ, hasType, loads)
		for i, name := range names {
			if !keys.secretName(name) {
				continue
			}
			if str, ok := constString(values[i], 0); ok {
				s.Add(str)
				found = true
			}
		}
		return true
	})
	return found
}

// constString returns the value of a string literal or of a sum of them
// ("a" + "b"), nested at most 64 deep.
func constString(e syntax.Expr, depth int) (string, bool) {
	if depth > 64 {
		return "", false
	}
	switch e := e.(type) {
	case *syntax.Literal:
		str, ok := e.Value.(string)
		return str, ok
	case *syntax.ParenExpr:
		return constString(e.X, depth+1)
	case *syntax.BinaryExpr:
		if e.Op == syntax.PLUS {
			x, ok1 := constString(e.X, depth+1)
			y, ok2 := constString(e.Y, depth+1)
			return x + y, ok1 && ok2
		}
	}
	return "", false
}
