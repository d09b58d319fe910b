package starlarkvici

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// cmdOpts are the options every command takes besides its request keys.
type cmdOpts struct {
	deadline time.Duration
	check    bool
	each     starlark.Callable // streamed commands: called per entry
	log      starlark.Callable // initiate/terminate: called per control-log
}

// request is a command about to be sent.
type request struct {
	name   string // builtin name, for errors: "vici.initiate"
	prefix string // error prefix: name, or "vici.call: initiate"
	wire   string
	event  string // streamed event, "" for none
	stream bool   // result is a list of streamed entries
	msg    *vici.Message
	opts   cmdOpts
}

// body converts the optional positional message of a command with c.
func body(c *converter, name string, args starlark.Tuple, sc *schema) (*vici.Message, error) {
	if len(args) == 0 || args[0] == starlark.None {
		return vici.NewMessage(), nil
	}
	m, ok := args[0].(starlark.IterableMapping)
	if !ok {
		return nil, fmt.Errorf("%s: the positional argument is the request message and must be a dict, got %s", name, args[0].Type())
	}
	msg, err := c.section("", m, sc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return msg, nil
}

// commonOption handles deadline=, check=, each= and log= (a function, or
// True to print each control-log line as swanctl does). It reports
// whether kw was one of them.
func commonOption(name string, kw starlark.Tuple, o *cmdOpts, allowEach, allowLog bool) (bool, error) {
	k, v := string(kw[0].(starlark.String)), kw[1]
	switch {
	case k == "deadline":
		var d starctx.Duration
		if err := d.Unpack(v); err != nil {
			return true, fmt.Errorf("%s: for parameter \"deadline\": %v", name, err)
		}
		if d.Set {
			o.deadline = d.D
		}
	case k == "check":
		b, ok := v.(starlark.Bool)
		if !ok {
			return true, fmt.Errorf("%s: for parameter \"check\": got %s, want bool", name, v.Type())
		}
		o.check = bool(b)
	case k == "each" && allowEach, k == "log" && allowLog:
		if v == starlark.None || v == starlark.False {
			return true, nil
		}
		if v == starlark.True && k == "log" {
			o.log = logPrinter()
			return true, nil
		}
		fn, ok := v.(starlark.Callable)
		if !ok && k == "log" {
			return true, fmt.Errorf("%s: for parameter \"log\": got %s, want a function or True", name, v.Type())
		}
		if !ok {
			return true, fmt.Errorf("%s: for parameter %q: got %s, want a function", name, k, v.Type())
		}
		if k == "each" {
			o.each = fn
		} else {
			o.log = fn
		}
	default:
		return false, nil
	}
	return true, nil
}

// runTable runs a command from the table: vici.initiate(child="net") etc.
func (s *Session) runTable(thread *starlark.Thread, name string, c *Command, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r, err := s.tableRequest(thread, name, c, args, kwargs)
	if err != nil {
		return nil, err
	}
	return s.execute(thread, r)
}

// tableRequest builds the request of a command from the table, converting
// on thread (whose context cancels a long conversion).
func (s *Session) tableRequest(thread *starlark.Thread, name string, c *Command, args starlark.Tuple, kwargs []starlark.Tuple) (request, error) {
	if len(args) > 1 {
		return request{}, fmt.Errorf("%s: takes at most one positional argument (the request dict), got %d", name, len(args))
	}
	if c.schema != nil && (len(args) == 0 || args[0] == starlark.None) {
		// The daemon accepts an empty load and changes nothing: say what
		// is missing instead of reporting success.
		return request{}, fmt.Errorf("%s: missing the dict to load, e.g. %s({name: {settings}}) (help(%s) lists the settings)", name, name, name)
	}
	if len(args) == 1 && len(c.Keys) > 0 {
		if _, isStr := args[0].(starlark.String); isStr {
			// vici.initiate("net"): say which keywords name things
			kws := make([]string, 0, len(c.Keys))
			for _, k := range c.Keys {
				kws = append(kws, k.Keyword()+"=")
			}
			return request{}, fmt.Errorf("%s: the positional argument is the request message and must be a dict, got string; name it with a keyword: %s",
				name, strings.Join(kws, ", "))
		}
	}
	conv := newConverter(starctx.From(thread))
	msg, err := body(conv, name, args, c.top)
	if err != nil {
		return request{}, err
	}
	r := request{name: name, prefix: name, wire: c.Wire, event: c.event(), stream: c.Streamed(), msg: msg,
		opts: cmdOpts{deadline: s.deadline, check: true}}
	for _, kw := range kwargs {
		ok, err := commonOption(name, kw, &r.opts, c.Streamed(), c.Log)
		if err != nil {
			return request{}, err
		}
		if ok {
			continue
		}
		kwName := string(kw[0].(starlark.String))
		key, found := c.keywords[kwName]
		if !found {
			return request{}, fmt.Errorf("%s: unexpected keyword argument %q; valid keywords: %s", name, kwName, strings.Join(c.kwNames, ", "))
		}
		if err := conv.set(msg, kwName, key.Name, kw[1], c.top); err != nil {
			return request{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	defaultFlags(c, msg, args, kwargs)
	return r, nil
}

// plainWireName reports whether a command name can be shown as written:
// at most 255 bytes of printable ASCII, as the protocol allows.
func plainWireName(name string) bool {
	if len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] > 0x7e {
			return false
		}
	}
	return true
}

// generic builds the request of vici.call and vici.stream: the command's
// table entry (if it has one) still types its keys (see KeyType) and names
// them (pass_ is "pass"); other keywords are sent as request keys with "_"
// written as "-".
func (s *Session) generic(thread *starlark.Thread, name string, cmd string, args starlark.Tuple, kwargs []starlark.Tuple, allowEach bool) (request, error) {
	wire := cmd
	var (
		sc       *schema
		keywords map[string]Key
	)
	if c, known := commands().lookup(cmd); known {
		wire, sc, keywords = c.Wire, c.top, c.keywords
	}
	conv := newConverter(starctx.From(thread))
	msg, err := body(conv, name, args, sc)
	if err != nil {
		return request{}, err
	}
	r := request{name: name, prefix: name + ": " + wire, wire: wire, msg: msg,
		opts: cmdOpts{deadline: s.deadline, check: true}}
	if !plainWireName(wire) {
		r.prefix = name // the engine refuses it, naming it quoted and cut
	}
	for _, kw := range kwargs {
		ok, err := commonOption(name, kw, &r.opts, allowEach, false)
		if err != nil {
			return request{}, err
		}
		if ok {
			continue
		}
		kwName := string(kw[0].(starlark.String))
		wireKey := strings.ReplaceAll(kwName, "_", "-")
		if k, ok := keywords[kwName]; ok { // pass_ is "pass"
			wireKey = k.Name
		}
		if err := conv.set(msg, kwName, wireKey, kw[1], sc); err != nil {
			return request{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	return r, nil
}

// call implements vici.call(command, msg=None, **kw).
func (s *Session) call(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r, err := s.callRequest(thread, b.Name(), args, kwargs)
	if err != nil {
		return nil, err
	}
	return s.execute(thread, r)
}

// callRequest builds the request of vici.call.
func (s *Session) callRequest(thread *starlark.Thread, name string, args starlark.Tuple, kwargs []starlark.Tuple) (request, error) {
	if len(args) < 1 || len(args) > 2 {
		return request{}, fmt.Errorf("%s: want call(command, msg=None, **keys), got %d positional arguments", name, len(args))
	}
	cmd, ok := starlark.AsString(args[0])
	if !ok {
		return request{}, fmt.Errorf("%s: command must be a non-empty str, got %s", name, args[0].Type())
	}
	if cmd == "" {
		return request{}, fmt.Errorf("%s: command must be a non-empty str, got \"\"", name)
	}
	return s.generic(thread, name, cmd, args[1:], kwargs, false)
}

// stream implements vici.stream(command, event, msg=None, each=None, **kw).
func (s *Session) stream(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r, err := s.streamRequest(thread, b.Name(), args, kwargs)
	if err != nil {
		return nil, err
	}
	return s.execute(thread, r)
}

// streamRequest builds the request of vici.stream.
func (s *Session) streamRequest(thread *starlark.Thread, name string, args starlark.Tuple, kwargs []starlark.Tuple) (request, error) {
	if len(args) < 2 || len(args) > 3 {
		return request{}, fmt.Errorf("%s: want stream(command, event, msg=None, each=None, **keys), got %d positional arguments", name, len(args))
	}
	cmd, ok1 := starlark.AsString(args[0])
	ev, ok2 := starlark.AsString(args[1])
	if !ok1 || !ok2 || cmd == "" || ev == "" {
		return request{}, fmt.Errorf("%s: command and event must be non-empty str", name)
	}
	r, err := s.generic(thread, name, cmd, args[2:], kwargs, true)
	if err != nil {
		return request{}, err
	}
	r.event, r.stream = ev, true
	return r, nil
}

// callbackError carries an error raised by a Starlark each=/log= callback
// through the engine, so it reaches the script unchanged (with its
// backtrace) rather than reworded as a protocol failure.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }
func (e callbackError) Unwrap() error { return e.err }

// enter marks thread as running a command with callbacks on this session.
// A command issued from inside such a callback on the same session would
// wait for a reply queued behind the running command's own stream, so it
// is refused with advice instead of hanging.
func (s *Session) enter(thread *starlark.Thread, name string, withCallback bool) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inCallback[thread] > 0 {
		return nil, fmt.Errorf("%s: cannot run a command on this session from inside an each= or log= callback; collect the entries first (omit each=), or use another session (vici.connect())", name)
	}
	if !withCallback {
		return func() {}, nil
	}
	if s.inCallback == nil {
		s.inCallback = map[*starlark.Thread]int{}
	}
	s.inCallback[thread]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.inCallback[thread]--; s.inCallback[thread] <= 0 {
			delete(s.inCallback, thread)
		}
	}, nil
}

// callback returns r's each=/log= callback and the event it takes.
func (r request) callback() (starlark.Callable, string) {
	if r.opts.log != nil {
		return r.opts.log, "control-log"
	}
	return r.opts.each, r.event
}

// execute sends r and converts the outcome.
func (s *Session) execute(thread *starlark.Thread, r request) (starlark.Value, error) {
	parent := starctx.From(thread)
	if err := starctx.Interrupted(parent); err != nil {
		return nil, fmt.Errorf("%s: %w", r.prefix, err)
	}
	callback, event := r.callback()
	leave, err := s.enter(thread, r.name, callback != nil)
	if err != nil {
		return nil, err
	}
	defer leave()
	var (
		entries []starlark.Value
		conv    fromConverter // one for the whole command: see fromConverter
	)
	if r.stream && callback == nil && s.mod.cfg.Collecting != nil {
		defer s.mod.cfg.Collecting()()
	}
	collected := listing{budget: s.mod.cfg.MaxListing}
	reply, err := s.send(parent, r, event, func(m *vici.Message) error {
		if callback == nil {
			made := conv.made
			entries = append(entries, conv.dict(m))
			err := collected.add(m.Size(), conv.made-made)
			m.Release() // the entry holds copies of what it took from m
			return err
		}
		data := conv.dict(m)
		m.Release()
		if _, err := starlark.Call(thread, callback, starlark.Tuple{data}, nil); err != nil {
			return callbackError{err}
		}
		return nil
	}, callback == nil) // a conversion alone runs on the engine's reader
	switch {
	case err != nil:
		return s.failed(r, parent, event, reply, err, &conv)
	case !r.stream:
		return conv.dict(reply), nil
	case r.opts.each != nil:
		return starlark.None, nil
	}
	return starlark.NewList(entries), nil
}

// send runs r on the session's command connection within its deadline,
// handing each streamed entry of event to each, on the engine's reader
// goroutine when inline (a quick each that waits for nothing: see
// vici.Client.CallStreamInline). It touches no Starlark value itself, so a
// group runs it for several sessions at once.
func (s *Session) send(parent context.Context, r request, event string, each func(*vici.Message) error, inline bool) (*vici.Message, error) {
	ctx, cancel := ctxWithin(parent, r.opts.deadline)
	defer cancel()
	client, err := s.commandClient(ctx)
	if err != nil {
		return nil, err
	}
	var reply *vici.Message
	switch {
	case event != "" && inline:
		reply, err = client.CallStreamInline(ctx, r.wire, event, r.msg, each)
	case event != "":
		reply, err = client.CallStream(ctx, r.wire, event, r.msg, each)
	default:
		reply, err = client.Call(ctx, r.wire, r.msg)
	}
	if err != nil && (ctx.Err() != nil || (errors.Is(err, vici.ErrClosed) && !s.reconnect)) {
		// Given up on (deadline or host cancel): the daemon may take long
		// to answer, and the engine keeps the connection until it does.
		// Or the connection is gone (charon restarted) and the session
		// does not reconnect by itself. Either way the script's next
		// command starts on a fresh connection.
		s.dropCommandClient(client)
	}
	return reply, err
}

// failed turns the error of command r into the script's outcome: a
// callback's own error as it is, the reply of a refused command when
// check=False, or an error that explains the failure.
func (s *Session) failed(r request, parent context.Context, event string, reply *vici.Message, err error, conv *fromConverter) (starlark.Value, error) {
	var cbErr callbackError
	var cmdErr *vici.CommandError
	switch {
	case errors.As(err, &cbErr):
		return nil, cbErr.err
	case errors.As(err, &cmdErr) && !r.opts.check:
		if cmdErr.Reply != nil {
			return conv.dict(cmdErr.Reply), nil
		}
		return conv.dict(reply), nil
	case errors.Is(err, vici.ErrUnknownEvent) && !errors.Is(err, vici.ErrUnknownCommand):
		return nil, fmt.Errorf("%s: the daemon at %s does not know the event %q this command should stream; check its name%w",
			r.prefix, s.resolvedURI(), event, quiet{err})
	}
	return nil, s.explain(r.prefix, r.wire, parent, r.opts.deadline, err)
}
