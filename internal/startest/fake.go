package startest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/internal/recording"
	"github.com/vicish/vicish/starlarkvici"
	"github.com/vicish/vicish/vici"
	"github.com/vicish/vicish/vici/vicitest"
)

// DefaultURI is the URI of a test's default fake daemon: what vici (the
// test's and a script's started by run) reaches when no uri is given.
const DefaultURI = vici.DefaultURI

// fakes are the fake daemons of one test, by URI. Every connection a
// runtime of the test makes (vici.connect, vici.group, the default
// session) goes through dial, so a runbook reaches the fakes by the URIs it
// knows, and nothing else: a URI without a fake daemon (or a lab gateway)
// is a daemon that cannot be reached.
type fakes struct {
	test *testRun

	mu     sync.Mutex
	byURI  map[string]*daemon
	real   map[string]string // lab gateways: URI to socket path
	closed bool

	inline sync.Mutex // reply functions running off the test's thread, one at a time
}

func newFakes(test *testRun) *fakes {
	return &fakes{test: test, byURI: map[string]*daemon{}, real: map[string]string{}}
}

// daemon returns the fake daemon behind uri, making it if needed.
func (f *fakes) daemon(uri string) *daemon {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.byURI[uri]
	if d == nil {
		d = &daemon{set: f, uri: uri, replies: map[string][]starlark.Value{}, pending: map[string][]*vici.Message{}}
		f.byURI[uri] = d
	}
	return d
}

// close closes every fake connection.
func (f *fakes) close() {
	f.mu.Lock()
	f.closed = true
	ds := make([]*daemon, 0, len(f.byURI))
	for _, d := range f.byURI {
		ds = append(ds, d)
	}
	f.mu.Unlock()
	for _, d := range ds {
		d.disconnect()
	}
}

// An origin is a runtime of the test whose connections reach the fakes:
// the test's own, or that of a script run started. Its requests are
// logged in order, for the run's result.
type origin struct {
	set    *fakes
	script bool // a script run: its reply functions run on the test's thread

	mu       sync.Mutex
	requests []starlark.Value
}

func (o *origin) log(r starlark.Value) {
	o.mu.Lock()
	o.requests = append(o.requests, r)
	o.mu.Unlock()
}

func (o *origin) logged() []starlark.Value {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]starlark.Value(nil), o.requests...)
}

// dial is the origin's vici.Options.Dial: a connection to the fake
// daemon behind uri, a lab gateway's socket, or an error as for a daemon
// that is down.
func (o *origin) dial(ctx context.Context, uri string) (net.Conn, error) {
	f := o.set
	f.mu.Lock()
	d, socket, closed := f.byURI[uri], f.real[uri], f.closed
	f.mu.Unlock()
	switch {
	case closed:
		return nil, errors.New("the test has ended")
	case socket != "":
		var nd net.Dialer
		return nd.DialContext(ctx, "unix", socket)
	case d == nil:
		return nil, fmt.Errorf("nothing answers there: the test made no fake daemon for this URI (fake.daemon(%q))", uri)
	}
	return d.connect(o)
}

// daemon is a fake charon: it answers commands as the test scripted,
// streams listings, confirms registrations of the events charon knows,
// delivers the events the test emits, and records every command.
type daemon struct {
	set *fakes
	uri string

	mu       sync.Mutex
	replies  map[string][]starlark.Value // by command: the replies of successive calls, the last repeating
	calls    map[string]int              // by command: calls answered
	pending  map[string][]*vici.Message  // emitted events waiting for a registration
	conns    []*conn
	requests []starlark.Value
	stopped  bool
	replay   *replay // a recording to answer from, if any
}

// conn is the daemon's side of one client connection.
type conn struct {
	d      *daemon
	origin *origin
	c      *vicitest.Conn

	// Guarded by d.mu.
	registered map[string]int
}

// connect makes a connection from origin to the daemon: a socket pair,
// the daemon serving its end.
func (d *daemon) connect(o *origin) (net.Conn, error) {
	d.mu.Lock()
	stopped := d.stopped
	d.mu.Unlock()
	if stopped {
		return nil, errors.New("nothing answers there: the fake daemon is stopped (d.stop())")
	}
	client, server, err := socketPair()
	if err != nil {
		return nil, err
	}
	c := &conn{d: d, origin: o, c: vicitest.NewConn(server), registered: map[string]int{}}
	d.mu.Lock()
	d.conns = append(d.conns, c)
	d.mu.Unlock()
	go c.serve()
	return client, nil
}

// disconnect closes every connection, as a daemon that stops does.
func (d *daemon) disconnect() {
	d.mu.Lock()
	conns := d.conns
	d.conns = nil
	d.mu.Unlock()
	for _, c := range conns {
		c.c.Close()
	}
}

// serve answers the client until it hangs up.
func (c *conn) serve() {
	defer c.c.Close()
	for {
		p, err := c.c.Read()
		if err != nil {
			// A client that hangs up, even with bytes unread (a reset),
			// is no fault.
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, syscall.ECONNRESET) && !c.d.isStopped() {
				c.d.set.test.errorf("fake daemon %s: reading from the client: %v", c.d.uri, err)
			}
			return
		}
		switch p.Type {
		case vicitest.CmdRequest:
			err = c.command(p.Name, p.Message)
		case vicitest.EventRegister:
			err = c.register(p.Name)
		case vicitest.EventUnregister:
			err = c.unregister(p.Name)
		default:
			c.d.set.test.errorf("fake daemon %s: the client sent a packet of type %d", c.d.uri, p.Type)
			return
		}
		if err != nil {
			return
		}
	}
}

func (d *daemon) isStopped() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopped
}

// command answers one command request.
func (c *conn) command(name string, req *vici.Message) error {
	d := c.d
	args := starlarkvici.FromMessage(req)
	r := starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"command": starlark.String(name),
		"args":    args,
		"uri":     starlark.String(d.uri),
	})
	r.Freeze()
	d.mu.Lock()
	d.requests = append(d.requests, r)
	replies := d.replies[name]
	rp := d.replay
	n := d.calls[name]
	if d.calls == nil {
		d.calls = map[string]int{}
	}
	d.calls[name]++
	d.mu.Unlock()
	c.origin.log(r)

	var reply starlark.Value
	switch {
	case len(replies) > 0:
		reply = replies[min(n, len(replies)-1)]
	case rp != nil && rp.has(name):
		return c.replayed(rp.next(name, req))
	case name == "version":
		reply = defaultVersion()
	case streamEvent(name) != "":
		reply = starlark.NewList(nil) // a daemon with nothing to list
	default:
		d.set.test.notef("fake daemon %s: no reply for %s was given (d.reply(%q, ...)); it answered as to an unknown command", d.uri, name, name)
		return c.c.Write(vicitest.Packet{Type: vicitest.CmdUnknown})
	}
	if fn, ok := reply.(starlark.Callable); ok {
		v, err := c.call(fn, args)
		if err != nil {
			d.set.test.errorf("fake daemon %s: the reply function for %s failed: %s", d.uri, name, errorText(err))
			return c.c.Write(vicitest.Packet{Type: vicitest.CmdUnknown})
		}
		reply = v
	}
	return c.answer(name, reply)
}

// answer sends reply, as the test gave it, for command name: a dict is
// the reply; a list, the entries of a streamed listing (each sent as the
// command's event, to a client registered for it) followed by an empty
// reply; None, an empty reply.
func (c *conn) answer(name string, reply starlark.Value) error {
	d := c.d
	if list, ok := reply.(*starlark.List); ok {
		event := streamEvent(name)
		if event == "" {
			d.set.test.errorf("fake daemon %s: %s streams nothing, so its reply is a dict, not a list", d.uri, name)
			return c.c.Write(vicitest.Packet{Type: vicitest.CmdUnknown})
		}
		for i := range list.Len() {
			m, err := starlarkvici.ToMessage(list.Index(i))
			if err != nil {
				d.set.test.errorf("fake daemon %s: entry %d of the %s listing: %v", d.uri, i, name, err)
				return c.c.Write(vicitest.Packet{Type: vicitest.CmdUnknown})
			}
			d.mu.Lock()
			registered := c.registered[event] > 0
			d.mu.Unlock()
			if registered {
				if err := c.c.Event(event, m); err != nil {
					return err
				}
			}
		}
		reply = starlark.None
	}
	m := vici.NewMessage()
	if reply != starlark.None {
		var err error
		if m, err = starlarkvici.ToMessage(reply); err != nil {
			d.set.test.errorf("fake daemon %s: the reply to %s: %v", d.uri, name, err)
			return c.c.Write(vicitest.Packet{Type: vicitest.CmdUnknown})
		}
	}
	return c.c.Reply(m)
}

// replayed answers as the recording says the daemon did: the events that
// came after the command was sent first (once), then its listing and its
// reply.
func (c *conn) replayed(it *recording.Item, events []*recording.Item) error {
	d := c.d
	for _, ev := range events {
		if err := d.emit(ev.Event, ev.Data); err != nil {
			return err
		}
	}
	if it.Unknown {
		return c.c.Write(vicitest.Packet{Type: vicitest.CmdUnknown})
	}
	if event := streamEvent(it.Command); event != "" {
		d.mu.Lock()
		registered := c.registered[event] > 0
		d.mu.Unlock()
		for _, m := range it.Stream {
			if !registered {
				break
			}
			if err := c.c.Event(event, m); err != nil {
				return err
			}
		}
	}
	return c.c.Reply(it.Reply)
}

// call runs a reply function with the request: on the test's thread for
// a script's request (the test waits in run() or a started script's
// method meanwhile), else on a thread of its own, as the test's thread is
// itself waiting for the reply.
func (c *conn) call(fn starlark.Callable, args *starlark.Dict) (starlark.Value, error) {
	t := c.d.set.test
	if c.origin.script {
		return t.callOnTestThread(fn, starlark.Tuple{args})
	}
	c.d.set.inline.Lock()
	defer c.d.set.inline.Unlock()
	thread, release := t.rt.NewThread(t.ctx, "fake daemon "+c.d.uri)
	defer release()
	return starlark.Call(thread, fn, starlark.Tuple{args}, nil)
}

// register confirms a registration for an event charon knows (others are
// refused, as charon refuses them) and delivers the events emitted for it
// so far.
func (c *conn) register(event string) error {
	d := c.d
	if !knownEvent(event) {
		return c.c.Write(vicitest.Packet{Type: vicitest.EventUnknown})
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c.registered[event]++
	if err := c.c.Write(vicitest.Packet{Type: vicitest.EventConfirm}); err != nil {
		return err
	}
	for _, m := range d.pending[event] {
		if err := c.c.Event(event, m); err != nil {
			return err
		}
	}
	delete(d.pending, event)
	return nil
}

func (c *conn) unregister(event string) error {
	d := c.d
	d.mu.Lock()
	known := c.registered[event] > 0
	if known {
		c.registered[event]--
	}
	d.mu.Unlock()
	if !known {
		return c.c.Write(vicitest.Packet{Type: vicitest.EventUnknown})
	}
	return c.c.Write(vicitest.Packet{Type: vicitest.EventConfirm})
}

// emit delivers an event to every connection registered for it, or keeps
// it for the first that registers.
func (d *daemon) emit(event string, m *vici.Message) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	sent := false
	for _, c := range d.conns {
		if c.registered[event] > 0 {
			sent = true
			if err := c.c.Event(event, m); err != nil && !errors.Is(err, net.ErrClosed) {
				return err
			}
		}
	}
	if !sent {
		d.pending[event] = append(d.pending[event], m)
	}
	return nil
}

// streamEvent returns the event a command streams its listing as ("" for
// none: control-log, which initiate and the like stream, is emitted by the
// test), from the command table.
func streamEvent(command string) string {
	for _, c := range starlarkvici.Commands() {
		if c.Wire == command && c.Streamed() {
			return c.Event
		}
	}
	return ""
}

// knownEvent reports whether charon knows an event name.
func knownEvent(name string) bool {
	for _, e := range starlarkvici.Events() {
		if e.Name == name {
			return true
		}
	}
	return false
}

// defaultVersion is what a fake daemon answers to version unless told
// otherwise.
func defaultVersion() starlark.Value {
	d := starlark.NewDict(5)
	for _, kv := range [][2]string{{"daemon", "charon"}, {"version", "6.1.0"}, {"sysname", "Linux"}, {"release", "6.1.0"}, {"machine", "x86_64"}} {
		d.SetKey(starlark.String(kv[0]), starlark.String(kv[1]))
	}
	return d
}

// errorText is the message of a Starlark error with its backtrace.
func errorText(err error) string {
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		return strings.TrimSpace(ee.Backtrace())
	}
	return err.Error()
}
