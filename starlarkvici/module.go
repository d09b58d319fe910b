// Package starlarkvici is the "vici" Starlark module: one builtin per VICI
// command, a generic call and stream, sessions to several daemons, and
// event callbacks that run on the script's own thread.
//
// A host gives a thread the module in a few lines:
//
//	mod := starlarkvici.NewModule(starlarkvici.Config{URI: uri})
//	defer mod.Close()
//	thread := &starlark.Thread{Name: "main"}
//	release := starctx.Attach(thread, ctx) // cancelling ctx stops any command, listen or wait
//	defer release()
//	globals, err := starlark.ExecFileOptions(opts, thread, "script.star", nil,
//		starlark.StringDict{"vici": mod})
//
// The module connects to the daemon on first use. Builtins read the
// thread's context with starctx.From and end promptly when it is done.
package starlarkvici

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// Config is what a host tells the module.
type Config struct {
	// URI of the daemon's VICI socket (vicish --uri). "" means discovery
	// (vici.Discover): $VICI_URI, else the socket strongswan.conf names,
	// else vici.DefaultURI.
	URI string
	// Deadline is the default client-side deadline of every command;
	// 0 means none. Scripts override it per call with deadline=.
	Deadline time.Duration
	// Stderr receives callback errors that listen(keep_going=True)
	// reports and continues past. nil means os.Stderr.
	Stderr io.Writer
	// Getenv reads the environment for URI discovery; nil means os.Getenv.
	Getenv func(string) string
	// Reconnect makes the default session redial after the daemon
	// restarts and register its events again, as vici.connect(reconnect=True)
	// does (what a long-running hook wants).
	Reconnect bool
	// BeforeCall, if set, sees the name and arguments of every call of a
	// session's builtins (commands, call, stream, on, listen, ...) before
	// it runs; vicish's runtime learns the secrets being loaded from it.
	BeforeCall func(builtin string, args starlark.Tuple, kwargs []starlark.Tuple)
	// CheckURI, if set, is asked before vici.connect(uri) dials a URI the
	// script gave; an error refuses it (vicish refuses remote transports
	// without --allow-net unless the user gave that URI).
	CheckURI func(uri string) error
	// Collecting, if set, is called when a streamed command starts
	// collecting its entries into a list (no each= callback), and the
	// function it returns once the list is complete. The vicish binary
	// paces the garbage collector with it (docs/performance.md).
	Collecting func() (done func())
	// MaxListing is the most memory, in bytes, the entries of a streamed
	// command may take when collected into a list (no each=), estimated
	// from what the daemon sent; one entry more fails the command with a
	// *ListingError. 0 means DefaultMaxListing; less than 0, no limit.
	MaxListing int
	// MaxEventQueue is the most memory, in bytes, the events queued for
	// one session's callbacks and waits may take (vici.Message.MemSize);
	// one event more ends the session's events with an error wrapping
	// vici.ErrOverflow, which listen or wait reports. 0 means
	// DefaultMaxEventQueue; less than 0, no limit.
	MaxEventQueue int
	// Dial, if set, makes every connection of every session instead of
	// the transport its URI names (vici.Options.Dial): vicish test puts
	// fake daemons behind the URIs a runbook dials with it.
	Dial func(ctx context.Context, uri string) (net.Conn, error)
}

// Module is the "vici" module value. Its functions use a default session
// that connects on first use. It is safe to share between threads, but
// events are dispatched only on the thread that calls listen or wait.
type Module struct {
	cfg     Config
	def     *Session
	members starlark.StringDict

	mu       sync.Mutex
	sessions []*Session // sessions opened by connect or group, closed by Close
	closed   bool

	ls    listenState // the one listen() running, if any
	inbox inbox       // every session's events for listen and wait

	// dialing holds a token per connection being set up (see Session.dial).
	dialing chan struct{}
}

// maxDialing is how many connections a module sets up at once: each
// ssh:// one costs an OpenSSH client and handshake (some 100 ms of CPU on
// each side), and a hundred at once on a small machine take so long
// together that their deadlines pass and none succeeds; a few at a time
// each finish quickly.
func maxDialing() int { return max(8, 4*runtime.GOMAXPROCS(0)) }

var (
	_ starlark.HasAttrs = (*Module)(nil)
	_ starlark.HasAttrs = (*Session)(nil)
)

// NewModule returns the vici module for cfg. It does not connect yet.
func NewModule(cfg Config) *Module {
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	cfg.MaxListing = budget(cfg.MaxListing, DefaultMaxListing)
	cfg.MaxEventQueue = budget(cfg.MaxEventQueue, DefaultMaxEventQueue)
	m := &Module{cfg: cfg, dialing: make(chan struct{}, maxDialing())}
	m.def = newSession(m, cfg.URI, cfg.Deadline, cfg.Reconnect, true)
	// The module's own map: its listen and wait serve every session, the
	// default session's (a callback's session= argument) only itself.
	m.members = maps.Clone(m.def.members)
	for _, f := range otherBuiltins() {
		if fn := f.module; fn != nil {
			m.members[f.name] = starlark.NewBuiltin("vici."+f.name, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
				return fn(m, thread, b, args, kwargs)
			}).BindReceiver(m)
		}
	}
	return m
}

// budget is a Config budget with its default filled in: 0 means def,
// less than 0 none (0 from then on).
func budget(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

// Close closes the default session and every session the script opened.
func (m *Module) Close() error {
	m.mu.Lock()
	m.closed = true
	sessions := m.sessions
	m.sessions = nil
	m.mu.Unlock()
	err := m.def.close()
	for _, s := range sessions {
		if e := s.close(); err == nil {
			err = e
		}
	}
	return err
}

// Client returns a client to the default session's daemon for other
// modules (swanctl.apply), connecting first if needed. It is a connection
// of its own, so they work inside an each= or log= callback while the
// session's command connection streams, and Config.Deadline bounds each
// of its operations (vici.Options.Timeout), so --deadline holds for them
// as for vici commands.
func (m *Module) Client(ctx context.Context) (*vici.Client, error) {
	return m.def.auxClient(ctx)
}

// MaxListing returns the budget of a listing collected into a list, in
// bytes: Config.MaxListing with its default filled in, 0 for none. A host
// gives the other modules that collect listings (swanctl) the same one.
func (m *Module) MaxListing() int { return m.cfg.MaxListing }

// URI returns the URI the default session uses (or will use).
func (m *Module) URI() string { return m.def.resolvedURI() }

// String implements starlark.Value.
func (m *Module) String() string { return `<module "vici">` }

// Type implements starlark.Value.
func (m *Module) Type() string { return "module" }

// Freeze implements starlark.Value; the module has no Starlark state to freeze.
func (m *Module) Freeze() {}

// Truth implements starlark.Value.
func (m *Module) Truth() starlark.Bool { return true }

// Hash implements starlark.Value.
func (m *Module) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: module") }

// Attr implements starlark.HasAttrs.
func (m *Module) Attr(name string) (starlark.Value, error) { return m.members[name], nil }

// AttrNames implements starlark.HasAttrs.
func (m *Module) AttrNames() []string { return m.members.Keys() }

// connect implements vici.connect(uri=None, deadline=None, reconnect=False, name=None).
func (m *Module) connect(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var uri, name string
	var deadline starctx.Duration
	var reconnect bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "uri??", &uri, "deadline??", &deadline, "reconnect?", &reconnect, "name??", &name); err != nil {
		return nil, err
	}
	if uri != "" && m.cfg.CheckURI != nil {
		if err := m.cfg.CheckURI(uri); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	}
	s := m.newSession(uri, name, deadline, reconnect)
	if _, err := s.commandClient(starctx.From(thread)); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if err := m.adopt(s); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return s, nil
}

// use implements vici.use(uri).
func (m *Module) use(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var uri string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "uri", &uri); err != nil {
		return nil, err
	}
	if err := m.Use(starctx.From(thread), uri); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.None, nil
}

// Use points the module's default session (the functions called on the
// module itself) at the daemon at uri without restarting the host: it
// connects there first, and only when that works closes the old
// connections. Config.CheckURI applies, as for vici.connect. It refuses
// while the default session has event callbacks or waits, which belong to
// the daemon they were registered with.
func (m *Module) Use(ctx context.Context, uri string) error {
	if uri == "" {
		return fmt.Errorf("want the daemon's URI, e.g. \"unix:///run/charon.vici\"")
	}
	if m.cfg.CheckURI != nil {
		if err := m.cfg.CheckURI(uri); err != nil {
			return err
		}
	}
	s := m.def
	s.events.mu.Lock()
	events := s.events.wantedLocked("")
	s.events.mu.Unlock()
	if len(events) > 0 {
		return fmt.Errorf("the default session has callbacks for %s, registered with %s; remove them with vici.off first", strings.Join(events, ", "), s.resolvedURI())
	}
	next := newSession(m, uri, s.deadline, s.reconnect, false)
	client, err := next.commandClient(ctx)
	if err != nil {
		return err
	}
	next.mu.Lock()
	next.cmd = nil // the default session's from now on
	next.mu.Unlock()
	old := s.close()
	s.mu.Lock()
	s.uri, s.discoverErr, s.cmd = uri, nil, client
	s.mu.Unlock()
	if old != nil {
		return fmt.Errorf("now using %s; closing the connection to the previous daemon: %w", uri, old)
	}
	return nil
}

// newSession makes a session that is not connected yet, with the
// module's URI and deadline unless given.
func (m *Module) newSession(uri, name string, deadline starctx.Duration, reconnect bool) *Session {
	if uri == "" {
		uri = m.def.resolvedURI()
	}
	d := m.cfg.Deadline
	if deadline.Set {
		d = deadline.D
	}
	s := newSession(m, uri, d, reconnect, false)
	s.name = name
	return s
}

// adopt adds s to the sessions Close closes and vici.listen serves.
func (m *Module) adopt(s *Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		_ = s.close()
		return fmt.Errorf("the vici module was closed by the host")
	}
	m.sessions = append(m.sessions, s)
	return nil
}

// allSessions returns the default session and every open session the
// script made: the sessions vici.listen serves.
func (m *Module) allSessions() []*Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*Session{m.def}, m.sessions...)
}

// waitSessions returns the sessions vici.wait waits on: those of
// allSessions, but without the default session while the script has
// others and never used it, so a script that talks only to vici.connect()
// sessions needs no daemon at the default socket.
func (m *Module) waitSessions() []*Session {
	all := m.allSessions()
	if len(all) > 1 && !all[0].used() {
		return all[1:]
	}
	return all
}

// forget drops a closed session from the module's list.
func (m *Module) forget(s *Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, x := range m.sessions {
		if x == s {
			m.sessions = append(m.sessions[:i], m.sessions[i+1:]...)
			return
		}
	}
}
