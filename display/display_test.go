package display_test

import (
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/display"
	"github.com/vicish/vicish/stdlib/json"
)

// TestTextBehavesLikeAString runs the documented operations on a Text.
func TestTextBehavesLikeAString(t *testing.T) {
	src := `
assert(type(t) == "text", type(t))
assert(str(t) == "a  b\n1  2", repr(str(t)))
assert(t.splitlines() == ["a  b", "1  2"], t.splitlines())
assert(len(t) == 9, len(t))
assert(t[0] == "a", t[0])
assert(t[:4] == "a  b" and t[::-1][0] == "2", t[:4])
assert(t + "!" == "a  b\n1  2!", t + "!")
assert(">" + t == ">a  b\n1  2", ">" + t)
assert("%s" % t == str(t), "%s" % t)
assert(json.encode(t) == '"a  b\\n1  2"', json.encode(t))
assert(t == t and t != display("x") and display("a") < display("b"), "compare")
assert({t: 1}[t] == 1, "hash")
assert(bool(t) and not bool(display("")), "truth")
`
	assert := starlark.NewBuiltin("assert", func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
		if !args[0].Truth() {
			t.Errorf("assertion failed: %v", args[1])
		}
		return starlark.None, nil
	})
	mk := starlark.NewBuiltin("display", func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
		return display.Text(args[0].(starlark.String)), nil
	})
	globals := starlark.StringDict{"t": display.Text("a  b\n1  2"), "assert": assert, "json": json.Module, "display": mk}
	if _, err := starlark.ExecFileOptions(&syntax.FileOptions{}, &starlark.Thread{}, "t.star", src, globals); err != nil {
		t.Fatal(err)
	}
	var printed string
	thread := &starlark.Thread{Print: func(_ *starlark.Thread, msg string) { printed = msg }}
	if _, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "p.star", "print(t)", globals); err != nil {
		t.Fatal(err)
	}
	if printed != "a  b\n1  2" {
		t.Errorf("print(t) printed %q, want the text itself", printed)
	}
}
