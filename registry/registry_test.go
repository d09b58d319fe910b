package registry_test

import (
	"errors"
	"reflect"
	"testing"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/registry"
)

func TestParseParams(t *testing.T) {
	P := func(name string, kind registry.Kind, def string) registry.Param {
		return registry.Param{Name: name, Kind: kind, Default: def}
	}
	for _, tc := range []struct {
		list string
		want []registry.Param
	}{
		{"", nil},
		{"x", []registry.Param{P("x", registry.Plain, "")}},
		{`x, /, limit=50, *, prefix="a, b", indent="\t", **kw`, []registry.Param{
			P("x", registry.PositionalOnly, ""), P("limit", registry.Plain, "50"),
			P("prefix", registry.KeywordOnly, `"a, b"`), P("indent", registry.KeywordOnly, `"\t"`), P("kw", registry.Kwargs, "")}},
		{`*args, sep=" "`, []registry.Param{P("args", registry.Args, ""), P("sep", registry.KeywordOnly, `" "`)}},
		{`path=$DIR or "/etc/swanctl", columns=[("k", "h")]`, []registry.Param{P("path", registry.Plain, `$DIR or "/etc/swanctl"`), P("columns", registry.Plain, `[("k", "h")]`)}},
	} {
		got, err := registry.ParseParams(tc.list)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseParams(%q) = %+v, %v; want %+v", tc.list, got, err, tc.want)
		}
	}
	for _, bad := range []string{"x,", "1x", "*, /", "**kw=1", "x=", "a b"} {
		if got, err := registry.ParseParams(bad); err == nil {
			t.Errorf("ParseParams(%q) = %+v, want an error", bad, got)
		}
	}
}

func TestSignature(t *testing.T) {
	for list, want := range map[string]string{
		"":                                    "f()",
		"x, /, limit=50":                      "f(x, limit=50)",
		"msg=None, /, *, child=None, **keys":  "f(msg=None, *, child=None, **keys)",
		`*args, sep=" "`:                      `f(*args, sep=" ")`,
		"command, msg=None, /, *, check=True": "f(command, msg=None, *, check=True)",
		"event, match=None, timeout=None":     "f(event, match=None, timeout=None)",
		"a, *, b, c=1":                        "f(a, *, b, c=1)",
		"members, deadline=None, **options":   "f(members, deadline=None, **options)",
		"sas=None, *, short=False, **options": "f(sas=None, *, short=False, **options)",
		"x, *, prefix=\"\", indent=\"\\t\"":   "f(x, *, prefix=\"\", indent=\"\\t\")",
		"year=0, month=0, location=\"UTC\"":   "f(year=0, month=0, location=\"UTC\")",
		"code=0":                              "f(code=0)",
		"**fields":                            "f(**fields)",
		"s, /, *, prefix=\"\"":                "f(s, *, prefix=\"\")",
		"argv, timeout=None, stdin=None":      "f(argv, timeout=None, stdin=None)",
		"name, default=None":                  "f(name, default=None)",
		"path, data":                          "f(path, data)",
		"uri=None, deadline=None, name=None":  "f(uri=None, deadline=None, name=None)",
		"timeout=None, count=None":            "f(timeout=None, count=None)",
		"event, fn=None":                      "f(event, fn=None)",
		"msg, /, **fields":                    "f(msg, **fields)",
		"d, /":                                "f(d)",
	} {
		if got := registry.Signature("f", registry.MustParams(list)); got != want {
			t.Errorf("Signature(f, %q) = %q, want %q", list, got, want)
		}
	}
}

// TestBuild: a module's value has its values and a builtin per row with a
// function, named module.member; a row that needs a capability is behind
// the gate; a method row is not a member.
func TestBuild(t *testing.T) {
	ran := 0
	fn := func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		ran++
		return starlark.None, nil
	}
	m := registry.Module{Name: "m", Values: starlark.StringDict{"k": starlark.MakeInt(1)}, Builtins: []registry.Builtin{
		{Name: "free", Fn: fn},
		{Name: "gated", Fn: fn, Needs: capability.Exec},
		{Name: "thing.method", Doc: "a method of a value m returns"},
	}}
	v := m.Build(nil)
	if v.Name != "m" || len(v.Members) != 3 || v.Members["k"] != starlark.MakeInt(1) {
		t.Fatalf("Build = %v", v)
	}
	thread := &starlark.Thread{}
	free := v.Members["free"].(*starlark.Builtin)
	if _, err := starlark.Call(thread, free, nil, nil); err != nil || free.Name() != "m.free" || ran != 1 {
		t.Errorf("m.free: %v, name %q, ran %d", err, free.Name(), ran)
	}
	if _, err := starlark.Call(thread, v.Members["gated"], nil, nil); !errors.Is(err, capability.ErrDenied) || ran != 1 {
		t.Errorf("m.gated without the gate's grant: %v, ran %d", err, ran)
	}
	granted := m.Build(capability.NewGate(nil, capability.Exec))
	if _, err := starlark.Call(thread, granted.Members["gated"], nil, nil); err != nil || ran != 2 {
		t.Errorf("m.gated with exec granted: %v, ran %d", err, ran)
	}
}

// TestLookup finds globals, members and methods by the names
// starlark.Builtin.Name reports.
func TestLookup(t *testing.T) {
	reg := &registry.Registry{
		Globals: []registry.Builtin{{Name: "print"}},
		Modules: []registry.Module{{Name: "json", Builtins: []registry.Builtin{{Name: "encode"}, {Name: "secret.reveal"}}}},
	}
	for _, tc := range []struct {
		name, module, member string
		ok                   bool
	}{
		{"print", "", "print", true},
		{"json.encode", "json", "encode", true},
		{"json.secret.reveal", "json", "secret.reveal", true},
		{"json.nope", "", "", false},
		{"nope.encode", "", "", false},
		{"encode", "", "", false},
	} {
		module, b, ok := reg.Lookup(tc.name)
		if ok != tc.ok || module != tc.module || b.Name != tc.member {
			t.Errorf("Lookup(%q) = %q, %q, %v", tc.name, module, b.Name, ok)
		}
	}
}
