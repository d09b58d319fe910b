package starlarkvici

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// Session is a connection to one daemon, as returned by vici.connect. It
// has the module's command and event functions plus .uri and .close().
// Commands use one VICI connection; events registered with on/wait use a
// second one, so a callback can run commands while events keep queueing.
type Session struct {
	mod  *Module
	name string // connect(name=) or the group's key; "" means the URI
	uri  string // "" for the default session until first use
	// discoverErr is why discovering the default session's URI failed.
	discoverErr error
	deadline    time.Duration
	reconnect   bool
	isDefault   bool
	members     starlark.StringDict

	mu     sync.Mutex
	cmd    *vici.Client
	ev     *vici.Client
	aux    *vici.Client // for other modules (swanctl), see Module.Client
	closed bool
	// inCallback counts, per thread, commands running with each=/log=
	// callbacks (the re-entry guard of enter).
	inCallback map[*starlark.Thread]int

	events eventState
}

func newSession(m *Module, uri string, deadline time.Duration, reconnect, isDefault bool) *Session {
	s := &Session{mod: m, uri: uri, deadline: deadline, reconnect: reconnect, isDefault: isDefault}
	s.events.init()
	s.members = starlark.StringDict{}
	for i := range commands().list {
		c := &commands().list[i]
		s.members[c.Name] = starlark.NewBuiltin("vici."+c.Name, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return s.runTable(thread, b.Name(), c, args, kwargs)
		}).BindReceiver(s)
	}
	for _, f := range otherBuiltins() {
		if f.session == nil || f.name == "close" && isDefault { // the default session is the module's to close
			continue
		}
		fn := f.session
		s.members[f.name] = starlark.NewBuiltin("vici."+f.name, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return fn(s, thread, b, args, kwargs)
		}).BindReceiver(s)
	}
	m.observe(s.members, s)
	return s
}

// observe wraps members so that Config.BeforeCall sees every call.
func (m *Module) observe(members starlark.StringDict, recv starlark.Value) {
	seen := m.cfg.BeforeCall
	if seen == nil {
		return
	}
	for name, v := range members {
		b := v.(*starlark.Builtin)
		members[name] = starlark.NewBuiltin(b.Name(), func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			seen(b.Name(), args, kwargs)
			return b.CallInternal(thread, args, kwargs)
		}).BindReceiver(recv)
	}
}

// String implements starlark.Value.
func (s *Session) String() string { return fmt.Sprintf("<vici.session %q>", s.resolvedURI()) }

// Type implements starlark.Value.
func (s *Session) Type() string { return "vici.session" }

// Freeze implements starlark.Value; a session is a handle and stays usable.
func (s *Session) Freeze() {}

// Truth implements starlark.Value.
func (s *Session) Truth() starlark.Bool { return true }

// Hash implements starlark.Value.
func (s *Session) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: vici.session") }

// Attr implements starlark.HasAttrs.
func (s *Session) Attr(name string) (starlark.Value, error) {
	switch {
	case name == "uri":
		return starlark.String(s.resolvedURI()), nil
	case name == "name":
		return starlark.String(s.label()), nil
	}
	return s.members[name], nil
}

// AttrNames implements starlark.HasAttrs.
func (s *Session) AttrNames() []string {
	names := append(s.members.Keys(), "name", "uri")
	sort.Strings(names)
	return names
}

// label is the session's name: connect(name=), the key it has in the
// group that opened it, else its URI.
func (s *Session) label() string {
	if s.name != "" {
		return s.name
	}
	return s.resolvedURI()
}

// resolvedURI is the session's URI, discovering it (vici.Discover) for
// the default session.
func (s *Session) resolvedURI() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.uri == "" {
		s.uri, s.discoverErr = vici.Discover(s.mod.cfg.Getenv)
	}
	return s.uri
}

// dial connects to the session's daemon; timeout bounds each operation
// (vici.Options.Timeout). When discovery found an invalid strongswan.conf,
// it fails with that error instead of trying the default socket, as
// swanctl refuses to run then.
func (s *Session) dial(ctx context.Context, timeout time.Duration) (*vici.Client, error) {
	uri := s.resolvedURI()
	s.mu.Lock()
	err := s.discoverErr
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%w; fix the file, or name the socket with --uri or $VICI_URI", err)
	}
	// At most maxDialing connections are set up at once, across sessions;
	// waiting for a turn counts against the deadline.
	select {
	case s.mod.dialing <- struct{}{}:
		defer func() { <-s.mod.dialing }()
	case <-ctx.Done():
		return nil, &vici.DialError{URI: uri, Err: context.Cause(ctx)}
	}
	return vici.DialOptions(ctx, uri, s.options(vici.Options{Reconnect: s.reconnect, Timeout: timeout}))
}

// options adds the session's event limits to o: the engine's queue has
// the same limits as the session's (the feed keeps it short).
func (s *Session) options(o vici.Options) vici.Options {
	o.MaxQueued = maxQueued
	o.Dial = s.mod.cfg.Dial
	o.MaxQueuedBytes = s.mod.cfg.MaxEventQueue
	if o.MaxQueuedBytes == 0 {
		o.MaxQueuedBytes = -1 // none
	}
	return o
}

// used reports whether the session has connected to its daemon.
func (s *Session) used() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil || s.ev != nil || s.aux != nil
}

// isClosed reports whether the session was closed for good.
func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// commandClient returns the command connection, dialling it if needed. A
// failed dial is not remembered: the next command tries again.
func (s *Session) commandClient(ctx context.Context) (*vici.Client, error) {
	return s.client(ctx, &s.cmd, 0)
}

// eventClient returns the connection dedicated to on/wait events.
func (s *Session) eventClient(ctx context.Context) (*vici.Client, error) {
	return s.client(ctx, &s.ev, 0)
}

// watchEvents gives a reconnect=True session whose daemon cannot be
// reached an event connection that connects in the background
// (vici.Connecting), so events registered now flow from when the daemon
// comes up, after a reconnect notice.
func (s *Session) watchEvents() error {
	uri := s.resolvedURI()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return fmt.Errorf("the session to %s is closed", uri)
	case s.ev != nil:
		return nil
	}
	c, err := vici.Connecting(uri, s.options(vici.Options{}))
	if err != nil {
		return err
	}
	s.ev = c
	return nil
}

// Client returns a connection to the session's daemon for other modules
// (swanctl's target=), connecting first if needed, as Module.Client does
// for the default session: a connection of its own, whose every
// operation the session's deadline bounds.
func (s *Session) Client(ctx context.Context) (*vici.Client, error) { return s.auxClient(ctx) }

// auxClient returns the connection other modules use, whose every
// operation the session's deadline bounds.
func (s *Session) auxClient(ctx context.Context) (*vici.Client, error) {
	return s.client(ctx, &s.aux, s.deadline)
}

func (s *Session) client(ctx context.Context, slot **vici.Client, timeout time.Duration) (*vici.Client, error) {
	uri := s.resolvedURI()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("the session to %s is closed", uri)
	}
	if c := *slot; c != nil {
		s.mu.Unlock()
		return c, nil
	}
	s.mu.Unlock()
	c, err := s.dial(ctx, timeout)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.Close()
		return nil, fmt.Errorf("the session to %s is closed", uri)
	}
	if *slot != nil { // another thread won the race
		_ = c.Close()
		return *slot, nil
	}
	*slot = c
	return c, nil
}

// dropCommandClient closes c if it is still the command connection; the
// next command dials a new one.
func (s *Session) dropCommandClient(c *vici.Client) {
	s.mu.Lock()
	if s.cmd != c {
		s.mu.Unlock()
		return
	}
	s.cmd = nil
	s.mu.Unlock()
	_ = c.Close()
}

// close closes both connections; the default session can be used again
// afterwards only if the module is not closed (it redials on demand).
func (s *Session) close() error {
	s.mu.Lock()
	cmd, ev, aux := s.cmd, s.ev, s.aux
	s.cmd, s.ev, s.aux = nil, nil, nil
	if !s.isDefault {
		s.closed = true
	} else {
		s.mod.mu.Lock()
		s.closed = s.mod.closed
		s.mod.mu.Unlock()
	}
	s.mu.Unlock()
	s.resetEvents()
	var err error
	for _, c := range []*vici.Client{cmd, ev, aux} {
		if c != nil {
			if e := c.Close(); e != nil && err == nil && !errors.Is(e, vici.ErrClosed) {
				err = e
			}
		}
	}
	return err
}

func (s *Session) closeBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	err := s.close()
	s.mod.forget(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.None, nil
}

// ctxWithin returns ctx bounded by deadline d (0 = none).
func ctxWithin(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

// explain turns an error from the engine into a message a person can act
// on, prefixed with the builtin's name. It wraps err, so Go callers can
// still match it with errors.Is/As.
func (s *Session) explain(name, wire string, parent context.Context, d time.Duration, err error) error {
	var cmdErr *vici.CommandError
	switch {
	case errors.As(err, &cmdErr):
		if msg := strings.TrimSpace(cmdErr.Errmsg); msg != "" {
			return fmt.Errorf("%s: %s%w", name, msg, quiet{err})
		}
		return fmt.Errorf("%s: the daemon reported failure without a reason%w", name, quiet{err})
	case errors.Is(err, vici.ErrUnknownCommand):
		return fmt.Errorf("%s: the daemon at %s does not know the command %q; check the spelling, or the daemon may be older than this vicish (vici.version() shows its version)%w",
			name, s.resolvedURI(), wire, quiet{err})
	case parent.Err() != nil:
		return fmt.Errorf("%s: %w%w", name, starctx.Interrupted(parent), quiet{err})
	case errors.Is(err, context.DeadlineExceeded) && errors.As(err, new(*vici.DialError)):
		return fmt.Errorf("%s: not connected to %s within %v (deadline); nothing was sent%w", name, s.resolvedURI(), d, quiet{err})
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: no reply from the daemon within %v (deadline); it may still complete the command%w", name, d, quiet{err})
	case errors.Is(err, vici.ErrClosed) && !s.reconnect:
		return fmt.Errorf("%s: %w (the next command connects again; vici.connect(reconnect=True) redials by itself)", name, err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// quiet wraps an error for errors.Is/As without adding to the message.
type quiet struct{ err error }

func (q quiet) Error() string { return "" }
func (q quiet) Unwrap() error { return q.err }
