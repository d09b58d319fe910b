package json

import (
	"fmt"

	"go.starlark.net/starlark"
)

// MaxDepth is how deeply arrays and objects may nest in the input of
// json.decode. The decoder recurses once per level, so a bound keeps
// hostile input (millions of brackets) from overflowing the stack; real
// documents stay far below it.
const MaxDepth = 1000

// decode implements json.decode: the depth of the input is checked in one
// pass before go.starlark.net's decoder runs.
func decode(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) > 0 {
		if s, ok := args[0].(starlark.String); ok {
			if at := tooDeep(string(s), MaxDepth); at >= 0 {
				return nil, fmt.Errorf("%s: at offset %d: arrays and objects nest deeper than %d levels", b.Name(), at, MaxDepth)
			}
		}
	}
	return lib("decode")(thread, b, args, kwargs)
}

// tooDeep returns the offset of the first '[' or '{' (outside strings) that
// opens level max+1, or -1 if s nests at most max levels. It does not
// validate s; the decoder does that.
func tooDeep(s string, max int) int {
	depth := 0
	inString := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inString:
			switch c {
			case '\\':
				i++ // skip the escaped byte
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > max {
				return i
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return -1
}
