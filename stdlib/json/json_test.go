package json_test

import (
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/starlarktest"

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
assert.eq(s, '{"gw":{"child-sas":{"net-1":{"local-ts":["10.1.0.0/24"]}},"state":"ESTABLISHED"}}')
assert.eq(json.decode(s), sa)
assert.eq(json.encode(struct(code=0, stdout="ok\n")), '{"code":0,"stdout":"ok\\n"}')
assert.eq(json.indent('{"a":[1]}', indent="  "), '{\n  "a": [\n    1\n  ]\n}')
assert.eq(json.decode("nope", None), None)
assert.fails(lambda: json.decode("nope"), "json.decode: at offset 0")
assert.fails(lambda: json.encode({1: 2}), "json.encode: dict has int key, want string")
`
	if _, err := starlark.ExecFile(thread, "test.star", src, predeclared); err != nil {
		t.Fatal(err)
	}
}
