package json_test

import (
	"fmt"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/starlarktest"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/stdlib/json"
)

// TestModule checks the re-exported module on the shapes runbooks use: the
// nested string dicts and lists the vici module returns, and structs.
func TestModule(t *testing.T) {
	assert, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	thread := &starlark.Thread{Name: "test"}
	starlarktest.SetReporter(thread, t)
	predeclared := starlark.StringDict{
		"json":   json.Module,
		"assert": assert["assert"],
		"struct": starlark.NewBuiltin("struct", starlarkstruct.Make),
	}
	src := `
assert.eq(sorted(dir(json)), ["decode", "encode", "encode_indent", "indent"])
sa = {"gw": {"state": "ESTABLISHED", "child-sas": {"net-1": {"local-ts": ["10.1.0.0/24"]}}}}
s = json.encode(sa)
assert.eq(s, '{"gw":{"state":"ESTABLISHED","child-sas":{"net-1":{"local-ts":["10.1.0.0/24"]}}}}')
assert.eq(json.decode(s), sa)
assert.eq(json.encode(struct(code=0, stdout="ok\n")), '{"code":0,"stdout":"ok\\n"}')
assert.eq(json.indent('{"a":[1]}', indent="  "), '{\n  "a": [\n    1\n  ]\n}')
assert.eq(json.decode("nope", None), None)
assert.fails(lambda: json.decode("nope"), "json.decode: at offset 0")
assert.fails(lambda: json.encode({1: 2}), "json.encode: dict has int key 1, want str")
`
	if _, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "test.star", src, predeclared); err != nil {
		t.Fatal(err)
	}
}

// TestDecodeDepth: input nesting past MaxDepth is refused before decoding
// (3,000,000 brackets overflowed the stack), with or without a default;
// MaxDepth levels decode, and brackets inside strings do not count.
func TestDecodeDepth(t *testing.T) {
	thread := &starlark.Thread{Name: "test"}
	decode := json.Module.Members["decode"]
	call := func(s string, args ...starlark.Value) (starlark.Value, error) {
		return starlark.Call(thread, decode, append(starlark.Tuple{starlark.String(s)}, args...), nil)
	}
	huge := strings.Repeat("[", 3_000_000) + strings.Repeat("]", 3_000_000)
	for _, args := range [][]starlark.Value{nil, {starlark.None}} {
		_, err := call(huge, args...)
		want := fmt.Sprintf("json.decode: at offset %d: arrays and objects nest deeper than %d levels", json.MaxDepth, json.MaxDepth)
		if err == nil || err.Error() != want {
			t.Errorf("3,000,000 brackets (default %v): got %v, want %q", args, err, want)
		}
	}
	obj := strings.Repeat(`{"a":`, json.MaxDepth+1) + "1" + strings.Repeat("}", json.MaxDepth+1)
	if _, err := call(obj); err == nil || !strings.Contains(err.Error(), "nest deeper than") {
		t.Errorf("objects %d deep: got %v", json.MaxDepth+1, err)
	}
	ok := strings.Repeat("[", json.MaxDepth) + `"[[[{\"[["` + strings.Repeat("]", json.MaxDepth)
	v, err := call(ok)
	if err != nil {
		t.Fatalf("%d levels: %v", json.MaxDepth, err)
	}
	for range json.MaxDepth {
		v = v.(*starlark.List).Index(0)
	}
	if v != starlark.String(`[[[{"[[`) {
		t.Errorf("innermost value = %v", v)
	}
	// invalid input keeps its own error and still honours the default
	if v, err := call("[1,", starlark.MakeInt(7)); err != nil || v != starlark.MakeInt(7) {
		t.Errorf("invalid input with default: %v, %v", v, err)
	}
}
