package script_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/registry"
	"github.com/vicish/vicish/script"
)

// TestRegistryNamesEveryGlobal: the registry has a row for each
// predeclared global (a module, or a global builtin) and for each builtin
// member of each module, so help(), completion and vicish check know them.
func TestRegistryNamesEveryGlobal(t *testing.T) {
	rt, _ := newRuntime(t)
	reg := rt.Registry()
	for name, v := range rt.Predeclared() {
		if _, ok := reg.Module(name); ok {
			if m, isStruct := v.(*starlarkstruct.Module); isStruct {
				for member, mv := range m.Members {
					if b, isBuiltin := mv.(*starlark.Builtin); isBuiltin {
						if _, _, ok := reg.Lookup(b.Name()); !ok {
							t.Errorf("%s.%s has no row", name, member)
						}
					}
				}
			}
			continue
		}
		if _, _, ok := reg.Lookup(name); !ok {
			t.Errorf("the global %s has no row", name)
		}
	}
}

// TestRegistryParamsMatchBuiltins calls every builtin the registry
// describes as its parameters say: a parameter that may be given by
// keyword is accepted by that name, a positional-only one is not, and a
// call without the required parameters fails. vicish check trusts these
// rows; a row that drifts from its builtin fails here.
func TestRegistryParamsMatchBuiltins(t *testing.T) {
	var out bytes.Buffer
	all := []capability.Capability{}
	for _, c := range capability.All() {
		all = append(all, c.Name)
	}
	rt := script.New(script.Options{
		URI:    "unix://" + filepath.Join(t.TempDir(), "absent.vici"),
		Stdout: &out, Stderr: &out,
		Getenv: func(string) string { return "" },
		Allow:  all, // so that the builtins themselves read their arguments
	})
	defer rt.Close()
	pre := rt.Predeclared()
	reg := rt.Registry()
	check := func(qualified string, b registry.Builtin, fn starlark.Value) {
		call := func(kwargs []starlark.Tuple) error {
			thread, release := rt.NewThread(context.Background(), "registry")
			defer release()
			_, err := starlark.Call(thread, fn, nil, kwargs)
			return err
		}
		for _, p := range b.Params {
			kw := []starlark.Tuple{{starlark.String(p.Name), starlark.None}}
			switch err := call(kw); {
			case p.Keyword() && err != nil && strings.Contains(err.Error(), "unexpected keyword argument"):
				t.Errorf("%s(%s=None): %v; the registry says it takes that keyword", qualified, p.Name, err)
			case p.Kind == registry.PositionalOnly && err == nil:
				t.Errorf("%s(%s=None) succeeded; the registry says it is positional only", qualified, p.Name)
			}
		}
		if slices.ContainsFunc(b.Params, registry.Param.Required) {
			if err := call(nil); err == nil {
				t.Errorf("%s() succeeded; the registry says it needs an argument", qualified)
			}
		}
	}
	for _, g := range reg.Globals {
		if g.Name == "exit" || g.Name == "quit" || g.Name == "help" {
			continue // exit ends the program, help prints everything: they take no required argument
		}
		check(g.Name, g, pre[g.Name])
	}
	for _, m := range reg.Modules {
		if m.Name == "vici" {
			continue // the command table's own tests cover the vici module
		}
		mod := pre[m.Name].(*starlarkstruct.Module)
		for _, b := range m.Builtins {
			if b.Method() {
				continue
			}
			check(m.Name+"."+b.Name, b, mod.Members[b.Name])
		}
	}
}
