// Package display holds Starlark values that people read as text: the REPL
// and pp() show them as their lines, not as a quoted string literal.
//
// A module whose result is meant to be read (the table module's listings)
// returns a Text; vicish's REPL echoes it line by line, print(t) prints the
// same text, and otherwise it behaves like a string: its methods
// (t.splitlines(), t.strip()), len(t), t[i], t[i:j] and t + "more" (strings),
// json.encode(t) a JSON string. It is not a string: compare it with one, or
// iterate over it, through str(t), which gives the plain string.
package display

import (
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Text is a string shown as its lines by the REPL and by pp().
type Text string

var (
	_ starlark.Value      = Text("")
	_ starlark.HasAttrs   = Text("")
	_ starlark.HasBinary  = Text("")
	_ starlark.Comparable = Text("")
	_ starlark.Sliceable  = Text("")
)

// String returns the text itself, so print(t) and "%s" % t show it as is.
func (t Text) String() string { return string(t) }

// Type returns "text".
func (t Text) Type() string { return "text" }

// Freeze does nothing: a Text is immutable.
func (t Text) Freeze() {}

// Truth reports whether the text is not empty.
func (t Text) Truth() starlark.Bool { return len(t) > 0 }

// Hash hashes as the equal string does.
func (t Text) Hash() (uint32, error) { return starlark.String(t).Hash() }

// Len returns the length in bytes, as len() of a string.
func (t Text) Len() int { return len(t) }

// Index returns the i'th byte as a string, as t[i] of a string.
func (t Text) Index(i int) starlark.Value { return starlark.String(t).Index(i) }

// Slice returns t[start:end:step] as a string, as slicing a string does.
func (t Text) Slice(start, end, step int) starlark.Value {
	return starlark.String(t).Slice(start, end, step)
}

// Attr returns the string method name bound to the text.
func (t Text) Attr(name string) (starlark.Value, error) { return starlark.String(t).Attr(name) }

// AttrNames lists the string methods.
func (t Text) AttrNames() []string { return starlark.String(t).AttrNames() }

// CompareSameType compares two texts as strings.
func (t Text) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	return starlark.Compare(op, starlark.String(t), starlark.String(y.(Text)))
}

// Binary implements t + s and s + t for a string (or text) s; the result is
// a string.
func (t Text) Binary(op syntax.Token, y starlark.Value, side starlark.Side) (starlark.Value, error) {
	var other starlark.String
	switch y := y.(type) {
	case starlark.String:
		other = y
	case Text:
		other = starlark.String(y)
	default:
		return nil, nil // unsupported: Starlark reports the operand types
	}
	x := starlark.String(t)
	if side == starlark.Right {
		x, other = other, x
	}
	if op != syntax.PLUS {
		return nil, nil
	}
	return x + other, nil
}
