// Package capability names the privileges a host grants the scripts it
// runs (running local programs, the network, replacing files) and is the
// one gate every builtin needing one asks before it acts.
//
// A module names the capability a builtin needs; the host decides which
// are granted and says, in the gate's refusal, how to grant one (vicish
// names its command-line flag, --allow-exec):
//
//	gate := capability.NewGate(func(c capability.Capability) string { return "--allow-" + string(c) }, capability.Net)
//	run := gate.Builtin(capability.Exec, "exec.run", runFn)
//	// exec.run(...) fails: "exec.run runs local programs, which needs --allow-exec"
//
// A new capability is one row of All.
package capability

import (
	"errors"

	"go.starlark.net/starlark"
)

// Capability is a privilege a script may use only when its host grants it.
type Capability string

// The capabilities; All describes each.
const (
	Exec   Capability = "exec"   // running local programs
	Net    Capability = "net"    // network access beyond the daemon the user named
	Write  Capability = "write"  // replacing files
	Listen Capability = "listen" // accepting connections
)

// Info describes a capability.
type Info struct {
	Name Capability
	// Allows says what granting it lets scripts do, for a host's help:
	// "run local programs (the exec module)".
	Allows string
	// Use says what a refused builtin was about to do, for the refusal:
	// "runs local programs".
	Use string
}

// All describes every capability, one row each.
func All() []Info {
	return []Info{
		{Exec, "run local programs (the exec module)", "runs local programs"},
		{Net, "make HTTP requests (the http module) and vici.connect(), vici.group() or vici.use() dial a remote URI (tcp://, ssh://) that the user did not name", "uses the network"},
		{Write, "replace files (file.write)", "replaces files"},
		{Listen, "accept connections (http.listen: an exporter's /metrics, a webhook receiver)", "accepts connections"},
	}
}

// Describe returns the row of All describing c.
func Describe(c Capability) (Info, bool) {
	for _, i := range All() {
		if i.Name == c {
			return i, true
		}
	}
	return Info{}, false
}

// ErrDenied is matched (errors.Is) by every refusal of a gate.
var ErrDenied = errors.New("capability not granted")

// DeniedError is a gate's refusal: Subject needed Capability, which the
// host did not grant.
type DeniedError struct {
	Capability Capability
	Subject    string // what was refused: "exec.run runs local programs"
	Grant      string // how the host grants the capability: "--allow-exec"
}

// Error says what was refused and how to grant it:
// "exec.run runs local programs, which needs --allow-exec".
func (e *DeniedError) Error() string { return e.Subject + ", which needs " + e.Grant }

// Is reports whether target is ErrDenied.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// Gate grants some capabilities and refuses the others. A nil *Gate
// grants none. It is read-only once made and safe for concurrent use.
type Gate struct {
	granted map[Capability]bool
	grant   func(Capability) string
}

// NewGate returns a gate that grants the capabilities given. howToGrant
// names, in a refusal, how the host grants a capability ("--allow-exec");
// nil says "the exec capability".
func NewGate(howToGrant func(Capability) string, granted ...Capability) *Gate {
	g := &Gate{granted: make(map[Capability]bool, len(granted)), grant: howToGrant}
	for _, c := range granted {
		g.granted[c] = true
	}
	return g
}

// Allows reports whether the gate grants c.
func (g *Gate) Allows(c Capability) bool { return g != nil && g.granted[c] }

// Check returns nil if the gate grants c, else a *DeniedError for subject
// (what needs c: "exec.run runs local programs", "tcp://gw:4502 is a
// remote transport").
func (g *Gate) Check(c Capability, subject string) error {
	if g.Allows(c) {
		return nil
	}
	grant := "the " + string(c) + " capability"
	if g != nil && g.grant != nil {
		grant = g.grant(c)
	}
	return &DeniedError{Capability: c, Subject: subject, Grant: grant}
}

// Builtin returns the builtin name implemented by fn behind the gate:
// unless c is granted, every call fails without calling fn, saying that
// name needs c ("exec.run runs local programs, which needs --allow-exec").
func (g *Gate) Builtin(c Capability, name string, fn func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)) *starlark.Builtin {
	subject := name
	if info, ok := Describe(c); ok {
		subject += " " + info.Use
	}
	return starlark.NewBuiltin(name, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if err := g.Check(c, subject); err != nil {
			return nil, err
		}
		return fn(thread, b, args, kwargs)
	})
}
