package capability_test

import (
	"errors"
	"testing"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/capability"
)

// TestAll: every capability has a distinct name and says what it allows
// and what a refused builtin was about to do.
func TestAll(t *testing.T) {
	seen := map[capability.Capability]bool{}
	for _, c := range capability.All() {
		if c.Name == "" || seen[c.Name] || c.Allows == "" || c.Use == "" {
			t.Errorf("bad or repeated row %+v", c)
		}
		seen[c.Name] = true
		if got, ok := capability.Describe(c.Name); !ok || got != c {
			t.Errorf("Describe(%s) = %+v, %v", c.Name, got, ok)
		}
	}
	if _, ok := capability.Describe("teleport"); ok {
		t.Error("Describe found a capability that does not exist")
	}
}

// TestGate: a gate grants what it was given and refuses the rest, naming
// the capability as the host grants it; a nil gate refuses everything.
func TestGate(t *testing.T) {
	flag := func(c capability.Capability) string { return "--allow-" + string(c) }
	g := capability.NewGate(flag, capability.Net)
	if !g.Allows(capability.Net) || g.Allows(capability.Exec) {
		t.Errorf("gate granting net: Allows(net) = %v, Allows(exec) = %v", g.Allows(capability.Net), g.Allows(capability.Exec))
	}
	if err := g.Check(capability.Net, "x"); err != nil {
		t.Errorf("Check(net) = %v", err)
	}
	err := g.Check(capability.Exec, "exec.run runs local programs")
	var denied *capability.DeniedError
	if !errors.Is(err, capability.ErrDenied) || !errors.As(err, &denied) || denied.Capability != capability.Exec ||
		err.Error() != "exec.run runs local programs, which needs --allow-exec" {
		t.Errorf("Check(exec) = %v", err)
	}
	var none *capability.Gate
	if err := none.Check(capability.Write, "file.write replaces files"); err == nil || err.Error() != "file.write replaces files, which needs the write capability" {
		t.Errorf("nil gate: Check(write) = %v", err)
	}
}

// TestBuiltin: a gated builtin calls its function only when the gate
// grants the capability, and its refusal names the builtin.
func TestBuiltin(t *testing.T) {
	calls := 0
	fn := func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		calls++
		return starlark.None, nil
	}
	thread := &starlark.Thread{}
	refused := capability.NewGate(nil).Builtin(capability.Exec, "exec.run", fn)
	if _, err := starlark.Call(thread, refused, nil, nil); !errors.Is(err, capability.ErrDenied) ||
		err.Error() != "exec.run runs local programs, which needs the exec capability" || calls != 0 {
		t.Errorf("refused call: %v, %d calls", err, calls)
	}
	granted := capability.NewGate(nil, capability.Exec).Builtin(capability.Exec, "exec.run", fn)
	if _, err := starlark.Call(thread, granted, nil, nil); err != nil || calls != 1 || granted.Name() != "exec.run" {
		t.Errorf("granted call: %v, %d calls, name %q", err, calls, granted.Name())
	}
}
