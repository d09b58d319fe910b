package startest

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/starlarkvici"
	"github.com/vicish/vicish/vici"
)

func fakeDaemon(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	uri := DefaultURI
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "uri?", &uri); err != nil {
		return nil, err
	}
	if _, _, err := vici.ParseURI(uri); err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return testOf(thread).fakes.daemon(uri), nil
}

var _ starlark.HasAttrs = (*daemon)(nil)

func (d *daemon) String() string        { return fmt.Sprintf("<fake daemon %s>", d.uri) }
func (d *daemon) Type() string          { return "fake_daemon" }
func (d *daemon) Freeze()               {}
func (d *daemon) Truth() starlark.Bool  { return true }
func (d *daemon) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: fake_daemon") }

func (d *daemon) AttrNames() []string {
	return []string{"emit", "replay", "reply", "requests", "start", "stop", "uri"}
}

func (d *daemon) Attr(name string) (starlark.Value, error) {
	switch name {
	case "uri":
		return starlark.String(d.uri), nil
	case "requests":
		d.mu.Lock()
		defer d.mu.Unlock()
		return starlark.NewList(append([]starlark.Value(nil), d.requests...)), nil
	case "reply":
		return starlark.NewBuiltin("reply", d.reply), nil
	case "emit":
		return starlark.NewBuiltin("emit", d.emitBuiltin), nil
	case "replay":
		return starlark.NewBuiltin("replay", d.replayBuiltin), nil
	case "stop":
		return starlark.NewBuiltin("stop", d.stopBuiltin), nil
	case "start":
		return starlark.NewBuiltin("start", d.startBuiltin), nil
	}
	return nil, nil
}

// reply implements d.reply(command, reply, *more): how the daemon answers
// command (its Starlark name, list_sas, or its name on the wire,
// list-sas): reply for the first call, more[0] for the second, ..., the
// last for every call after. A reply is a dict; a list (a listing's
// entries, for a command that streams them); None (an empty reply); or a
// function of the request's dict returning one of those, which may
// emit events first (d.emit), as charon raises child-updown before it
// answers initiate.
func (d *daemon) reply(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(kwargs) > 0 {
		return nil, fmt.Errorf("%s: unexpected keyword argument %s", b.Name(), kwargs[0][0])
	}
	if len(args) < 2 {
		return nil, fmt.Errorf("%s: want a command and its reply, e.g. d.reply(\"initiate\", {\"success\": \"yes\"})", b.Name())
	}
	name, ok := starlark.AsString(args[0])
	if !ok {
		return nil, fmt.Errorf("%s: command: got %s, want str", b.Name(), args[0].Type())
	}
	wire, err := wireName(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	replies := make([]starlark.Value, 0, len(args)-1)
	for i, r := range args[1:] {
		switch r := r.(type) {
		case *starlark.Dict, starlark.NoneType, starlark.Callable:
		case *starlark.List:
			if streamEvent(wire) == "" {
				return nil, fmt.Errorf("%s: reply %d: %s streams no listing: give a dict", b.Name(), i+1, name)
			}
		default:
			return nil, fmt.Errorf("%s: reply %d: got %s, want a dict, a list of entries, None or a function", b.Name(), i+1, r.Type())
		}
		replies = append(replies, r)
	}
	d.mu.Lock()
	d.replies[wire] = replies
	d.mu.Unlock()
	return starlark.None, nil
}

// wireName returns the wire name of a command given by either name.
func wireName(name string) (string, error) {
	for _, c := range starlarkvici.Commands() {
		if c.Name == name || c.Wire == name {
			return c.Wire, nil
		}
	}
	return "", fmt.Errorf("charon has no command %q", name)
}

// emitBuiltin implements d.emit(event, data={}): the event goes to every
// connection registered for it now, or to the first that registers.
func (d *daemon) emitBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var event string
	var data starlark.Value = starlark.NewDict(0)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "event", &event, "data?", &data); err != nil {
		return nil, err
	}
	if !knownEvent(event) {
		return nil, fmt.Errorf("%s: charon raises no event %q", b.Name(), event)
	}
	m, err := starlarkvici.ToMessage(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	if err := d.emit(event, m); err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return starlark.None, nil
}

// stopBuiltin implements d.stop(): the daemon closes its connections and
// takes no new ones, as a charon that stops or crashes.
func (d *daemon) stopBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	d.disconnect()
	return starlark.None, nil
}

// startBuiltin implements d.start(): a stopped daemon takes connections
// again (its replies as before, no registrations).
func (d *daemon) startBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.stopped = false
	d.mu.Unlock()
	return starlark.None, nil
}
