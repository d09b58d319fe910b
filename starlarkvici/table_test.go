package starlarkvici

import (
	"slices"
	"testing"

	"go.starlark.net/starlark"
)

// The table is built once and indexed by builtin and wire name; every
// command is found both ways, and a session's builtins are the table's.
func TestCommandIndex(t *testing.T) {
	idx := commands()
	if commands() != idx {
		t.Fatal("commands() built the table twice")
	}
	if len(idx.list) != 36 || len(idx.byName) != len(idx.list) || len(idx.byWire) != len(idx.list) {
		t.Fatalf("%d commands, %d names, %d wire names", len(idx.list), len(idx.byName), len(idx.byWire))
	}
	for i := range idx.list {
		c := &idx.list[i]
		if got, ok := idx.lookup(c.Name); !ok || got != c {
			t.Errorf("lookup(%q) = %v, %v", c.Name, got, ok)
		}
		if got, ok := idx.lookup(c.Wire); !ok || got != c {
			t.Errorf("lookup(%q) = %v, %v", c.Wire, got, ok)
		}
		if want := c.kwNames[:len(c.Keys)]; !slices.Equal(want, keywordsOf(c)) {
			t.Errorf("%s: keywords %v, want %v", c.Name, want, keywordsOf(c))
		}
	}
	if _, ok := idx.lookup("no-such-command"); ok {
		t.Error("lookup found a command that does not exist")
	}
	// Commands hands out a copy: changing it leaves the table alone.
	cs := Commands()
	cs[0].Name = "changed"
	if commands().list[0].Name == "changed" {
		t.Error("Commands() returned the table itself")
	}
}

func keywordsOf(c *Command) []string {
	var out []string
	for _, k := range c.Keys {
		out = append(out, k.Keyword())
	}
	return out
}

// Lookup tells the module's and a session's functions from any other
// value, a builtin of the same name included.
func TestLookup(t *testing.T) {
	m := NewModule(Config{URI: "unix:///nonexistent"})
	defer m.Close()
	for _, name := range []string{"list_sas", "connect", "on", "wait", "call"} {
		if got, ok := Lookup(mustAttr(t, m, name)); !ok || got != name {
			t.Errorf("Lookup(vici.%s) = %q, %v", name, got, ok)
		}
	}
	fake := starlark.NewBuiltin("vici.list_sas", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		return starlark.None, nil
	})
	for _, v := range []starlark.Value{fake, fake.BindReceiver(starlark.None), starlark.String("vici.list_sas"), m} {
		if name, ok := Lookup(v); ok {
			t.Errorf("Lookup(%s) = %q, true for something not vici's", v, name)
		}
	}
	if kws := KeywordNames("vici.list_sas"); !slices.Contains(kws, "ike_id") || !slices.Contains(kws, "each") {
		t.Errorf("KeywordNames(vici.list_sas) = %v", kws)
	}
	kws := KeywordNames("list_sas")
	kws[0] = "changed"
	if KeywordNames("list_sas")[0] == "changed" {
		t.Error("KeywordNames returned the table's own slice")
	}
}
