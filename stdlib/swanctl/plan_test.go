package swanctl

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// downTarget is a session whose daemon cannot be reached.
type downTarget struct{ name string }

func (d downTarget) String() string        { return "<session " + d.name + ">" }
func (d downTarget) Type() string          { return "test.session" }
func (d downTarget) Freeze()               {}
func (d downTarget) Truth() starlark.Bool  { return true }
func (d downTarget) Hash() (uint32, error) { return 0, errors.New("unhashable") }
func (d downTarget) Attr(name string) (starlark.Value, error) {
	if name == "name" {
		return starlark.String(d.name), nil
	}
	return nil, nil
}
func (d downTarget) AttrNames() []string { return []string{"name"} }
func (d downTarget) Client(context.Context) (*vici.Client, error) {
	return nil, errors.New("vici: cannot connect to unix:///nonexistent: no such file")
}

// TestPlanArguments: what a new user gets wrong gets a clear error, and a
// member that cannot be reached or read is reported, not fatal.
func TestPlanArguments(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "new", "swanctl.conf"), "connections {\n  gw {\n    remote_addrs = 192.0.2.2\n  }\n}\n")
	writeFile(t, filepath.Join(dir, "old", "swanctl.conf"), "connections {\n}\n")
	writeFile(t, filepath.Join(dir, "bad", "swanctl.conf"), "connections {\n")
	extra := starlark.StringDict{
		"dir":  starlark.String(dir),
		"down": downTarget{"gw1"},
		"group": func() *starlark.Dict {
			d := starlark.NewDict(2)
			_ = d.SetKey(starlark.String("gw1"), downTarget{"gw1"})
			_ = d.SetKey(starlark.String("gw2"), downTarget{"gw2"})
			return d
		}(),
	}
	for _, tc := range []struct{ src, want string }{
		{`swanctl.plan()`, "swanctl.plan: missing argument for conf"},
		{`swanctl.plan(dir + "/new")`, "swanctl.plan: missing argument for previous"},
		{`swanctl.plan(dir + "/new", dir + "/old", target = "unix:///x")`, "swanctl.plan: target: got string, want a session"},
		{`swanctl.plan(dir + "/new", dir + "/old", target = group)`, "swanctl.plan: conf: got string, want a dict {member: path} for a group target"},
		{`swanctl.plan({"gw1": dir + "/new"}, {"gw1": dir + "/old", "gw2": dir + "/old"}, target = group)`, `swanctl.plan: conf: no path (str) for member "gw2"`},
		{`swanctl.plan({"gw1": "a", "gw2": "b", "gw3": "c"}, {}, target = group)`, `swanctl.plan: conf: "gw3" is not a member of the target`},
		{`swanctl.plan([dir], dir, target = down)`, "swanctl.plan: conf: got list, want the path of a swanctl.conf"},
		{`swanctl.plan(dir + "/new", dir + "/old", target = {})`, "swanctl.plan: target: the group has no members"},
		{`swanctl.plan(dir + "/new", dir + "/old", target = {"x": 1})`, `swanctl.plan: target: member "x" is a int, not a session`},
		{`swanctl.plan(dir + "/new", dir + "/old", target = down).apply(prove = -1)`, `swanctl.plan.apply: for parameter "prove": duration -1 seconds is negative`},
		{`swanctl.apply(dir + "/new", target = group)`, "swanctl.apply: target: a group is several daemons"},
	} {
		var out bytes.Buffer
		_, err := runStar(t, NewModule(Config{Stdout: &out}), &out, tc.src, extra)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.src, err, tc.want)
		}
	}

	// Members that fail: unreachable, unreadable files. The plan says so
	// per member; apply and rollback touch nothing.
	var out bytes.Buffer
	g, err := runStar(t, NewModule(Config{Stdout: &out}), &out, `
p = swanctl.plan({"gw1": dir + "/new", "gw2": dir + "/bad"}, {"gw1": dir + "/old", "gw2": dir + "/old"}, target = group)
text = str(p)
names = list(p)
gw1 = p["gw1"]
gw2 = p["gw2"]
applied = p.apply(prove = 5)
rolled = p.rollback()
`, extra)
	if err != nil {
		t.Fatal(err)
	}
	if got := g["names"].String(); got != `["gw1", "gw2"]` {
		t.Errorf("members: %s", got)
	}
	text := string(g["text"].(starlark.String))
	for _, want := range []string{"plan for gw1: unreachable: vici: cannot connect", "plan for gw2: files: conf: "} {
		if !strings.Contains(text, want) {
			t.Errorf("plan text lacks %q:\n%s", want, text)
		}
	}
	for name, reason := range map[string]string{"gw1": "unreachable", "gw2": "files"} {
		m := g[name].(*starlark.Dict)
		if r, _, _ := m.Get(starlark.String("reason")); r != starlark.String(reason) {
			t.Errorf("%s: reason %v, want %s", name, r, reason)
		}
		for _, key := range []string{"applied", "rolled"} {
			o, _, _ := g[key].(*starlark.Dict).Get(starlark.String(name))
			d := o.(*starlark.Dict)
			ok, _, _ := d.Get(starlark.String("ok"))
			applied, _, _ := d.Get(starlark.String("applied"))
			r, _, _ := d.Get(starlark.String("reason"))
			if ok != starlark.False || applied != starlark.False || r != starlark.String(reason) {
				t.Errorf("%s of %s: %s", key, name, d)
			}
		}
	}
}
