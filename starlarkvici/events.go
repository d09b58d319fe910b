package starlarkvici

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// eventState is a session's event machinery. One subscription on the
// session's event connection covers every event name that has a callback
// or a wait() in progress, so events keep the order the daemon sent them
// in; it grows and shrinks in place (vici.Subscription Add and Remove).
// The engine queues events (never dropping any, and never making its
// reader wait) until listen or wait takes them, always on the script's own
// thread. pending holds events taken off the subscription that on()
// callbacks have yet to see.
type eventState struct {
	resubMu  sync.Mutex // held while the subscription changes
	mu       sync.Mutex
	handlers map[string][]starlark.Callable
	waiting  map[string]int // wait() calls in progress per event name
	sub      *vici.Subscription
	names    []string // the names sub covers, sorted
	pending  []pendingEvent
}

type pendingEvent struct {
	ev     vici.Event
	waited bool // a wait for this event name has already looked at it
	// gate is set for a reconnect notice: it is closed once the session's
	// commands work again, and holds back the notice and every later
	// event of the session until then.
	gate chan struct{}
}

// ready reports whether p may be handed to a callback or a wait.
func (p *pendingEvent) ready() bool {
	if p.gate == nil {
		return true
	}
	select {
	case <-p.gate:
		return true
	default:
		return false
	}
}

func (st *eventState) init() {
	st.handlers = map[string][]starlark.Callable{}
	st.waiting = map[string]int{}
	st.sub, st.names, st.pending = nil, nil, nil
}

// reset forgets every handler, subscription and queued event.
func (st *eventState) reset() {
	st.mu.Lock()
	sub := st.sub
	st.init()
	st.mu.Unlock()
	if sub != nil {
		_ = sub.Close()
	}
}

// subscribed reports whether the daemon sends event name to the session.
func (st *eventState) subscribed(name string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Contains(st.names, name)
}

// ReconnectEvent is vicish's own event, never registered with the daemon:
// once each time a session made with vici.connect(reconnect=True) has
// redialled its event connection and registered its events again, on()
// callbacks and wait() get it with data {"uri": ...}. It comes only once
// the session's commands work again (the command connection is back too),
// so a callback can resync at once. Events raised while the daemon was
// unreachable are lost, so a script should resync then.
const ReconnectEvent = "reconnect"

// reconnectProbeLimit bounds how long a reconnect notice waits for the
// session's command connection before it is delivered anyway.
const reconnectProbeLimit = 30 * time.Second

// wantedLocked returns the sorted event names that have callbacks or
// waits, plus extra, to register with the daemon (so without
// ReconnectEvent). Call with st.mu held.
func (st *eventState) wantedLocked(extra string) []string {
	var names []string
	for n, hs := range st.handlers {
		if len(hs) > 0 && n != ReconnectEvent {
			names = append(names, n)
		}
	}
	for n, c := range st.waiting {
		if c > 0 && n != ReconnectEvent && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if extra != "" && extra != ReconnectEvent && !slices.Contains(names, extra) {
		names = append(names, extra)
	}
	sort.Strings(names)
	return names
}

// resubscribe makes the session's subscription cover exactly the names
// wanted now (plus extra). New names are registered with a round trip
// bounded by ctx; names no longer wanted are dropped at once and
// unregistered in the background, so shrinking never waits for the
// daemon. Events already queued keep their place. Errors are explained
// against parent, the context ctx was derived from.
func (s *Session) resubscribe(parent, ctx context.Context, fname, extra string) error {
	st := &s.events
	st.resubMu.Lock() // one change of the subscription at a time
	defer st.resubMu.Unlock()
	st.mu.Lock()
	wanted := st.wantedLocked(extra)
	sub, have := st.sub, st.names
	st.mu.Unlock()
	if slices.Equal(wanted, have) {
		return nil
	}
	var add, drop []string
	for _, n := range wanted {
		if !slices.Contains(have, n) {
			add = append(add, n)
		}
	}
	for _, n := range have {
		if !slices.Contains(wanted, n) {
			drop = append(drop, n)
		}
	}
	if len(add) > 0 {
		var err error
		if sub == nil {
			var client *vici.Client
			if client, err = s.eventClient(ctx); err != nil {
				return s.explain(fname, "", parent, s.deadline, err)
			}
			sub, err = client.Subscribe(ctx, add...)
		} else {
			err = sub.Add(ctx, add...)
		}
		if err != nil {
			return s.subscribeError(parent, fname, add, err)
		}
	}
	if sub != nil && len(drop) > 0 {
		sub.Remove(drop...)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.sub = sub
	st.names = nil
	if sub != nil {
		st.names = sub.Names()
		sort.Strings(st.names)
	}
	return nil
}

// subscribeError explains a failed registration.
func (s *Session) subscribeError(ctx context.Context, fname string, names []string, err error) error {
	if !errors.Is(err, vici.ErrUnknownEvent) {
		return s.explain(fname, "", ctx, s.deadline, err)
	}
	name := ""
	for _, n := range names {
		if strings.Contains(err.Error(), strconv.Quote(n)) {
			name = n
		}
	}
	hint := "check the name (help(vici) lists the events)"
	for _, e := range Events() {
		if e.Name == name && e.Since != "" {
			hint = fmt.Sprintf("%q needs strongSwan %s or newer (vici.version() shows the daemon's version)", name, e.Since)
		}
	}
	return fmt.Errorf("%s: the daemon at %s does not know the event %q; %s%w", fname, s.resolvedURI(), name, hint, quiet{err})
}

// dropPendingLocked forgets queued events nobody has a callback for.
func (st *eventState) dropPendingLocked() {
	kept := st.pending[:0]
	for _, p := range st.pending {
		if len(st.handlers[p.ev.Name]) > 0 || !p.ready() {
			kept = append(kept, p)
		}
	}
	clear(st.pending[len(kept):])
	st.pending = kept
}

// admitLocked appends an event taken off the subscription to pending. A
// reconnect notice becomes ReconnectEvent, held back until the session's
// commands work again. Call with st.mu held.
func (s *Session) admitLocked(ev vici.Event, waited bool) *pendingEvent {
	st := &s.events
	p := pendingEvent{ev: ev, waited: waited}
	if ev.Reconnected {
		p.ev = vici.Event{Name: ReconnectEvent, Message: vici.NewMessage().Set("uri", s.resolvedURI()), Received: ev.Received}
		p.gate = make(chan struct{})
		go s.awaitCommands(p.gate)
	}
	st.pending = append(st.pending, p)
	return &st.pending[len(st.pending)-1]
}

// awaitCommands closes gate once a command on the session works again
// after its event connection was redialled: the command connection may
// still be waiting out its backoff, or not have noticed the restart yet.
// It gives up after reconnectProbeLimit, or when the session is closed.
func (s *Session) awaitCommands(gate chan struct{}) {
	defer close(gate)
	ctx, cancel := context.WithTimeout(context.Background(), reconnectProbeLimit)
	defer cancel()
	for !s.isClosed() {
		c, err := s.commandClient(ctx)
		if err == nil {
			if err = c.Ready(ctx); err == nil {
				_, err = c.Call(ctx, "version", nil)
			}
			if err == nil {
				return
			}
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// on implements vici.on(event, fn).
func (s *Session) on(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var fn starlark.Callable
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "event", &name, "fn", &fn); err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("%s: the event name is empty", b.Name())
	}
	ctx, cancel := starctx.WithTimeout(thread, s.deadline)
	defer cancel()
	if err := s.resubscribe(starctx.From(thread), ctx, b.Name(), name); err != nil {
		return nil, err
	}
	st := &s.events
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, h := range st.handlers[name] {
		if h == fn {
			return starlark.None, nil
		}
	}
	st.handlers[name] = append(st.handlers[name], fn)
	return starlark.None, nil
}

// off implements vici.off(event, fn=None).
func (s *Session) off(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var fn starlark.Callable
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "event", &name, "fn??", &fn); err != nil {
		return nil, err
	}
	s.removeHandler(name, fn)
	// Only drops registrations: never waits for the daemon.
	if err := s.resubscribe(starctx.From(thread), starctx.From(thread), b.Name(), ""); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// removeHandler removes fn (every callback when nil) from event name.
func (s *Session) removeHandler(name string, fn starlark.Callable) {
	st := &s.events
	st.mu.Lock()
	defer st.mu.Unlock()
	if fn == nil {
		delete(st.handlers, name)
	} else {
		hs := st.handlers[name]
		kept := make([]starlark.Callable, 0, len(hs))
		for _, h := range hs {
			if h != fn {
				kept = append(kept, h)
			}
		}
		if len(kept) == 0 {
			delete(st.handlers, name)
		} else {
			st.handlers[name] = kept
		}
	}
	st.dropPendingLocked()
}

// listenState is the module's one listen at a time: callbacks run inside
// it and may not start another; stop() ends it after the current event.
type listenState struct {
	mu     sync.Mutex
	active bool
	stop   bool
}

// stop implements vici.stop(): listen returns after the current event.
func (m *Module) stop(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	m.ls.mu.Lock()
	defer m.ls.mu.Unlock()
	if !m.ls.active {
		return nil, fmt.Errorf("%s: not listening; stop() ends vici.listen() from inside an event callback", b.Name())
	}
	m.ls.stop = true
	return starlark.None, nil
}

var (
	errTimeout = errors.New("timeout")
	errIdle    = errors.New("no callbacks left")
)

// listenArgs are listen's parameters.
type listenArgs struct {
	timeout   starctx.Duration
	count     int // -1: no limit
	keepGoing bool
}

func unpackListen(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (listenArgs, error) {
	a := listenArgs{count: -1}
	var countArg starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "timeout??", &a.timeout, "count??", &countArg, "keep_going?", &a.keepGoing); err != nil {
		return a, err
	}
	if countArg != starlark.None {
		if err := starlark.AsInt(countArg, &a.count); err != nil || a.count < 0 {
			return a, fmt.Errorf("%s: count must be a non-negative int, got %s", b.Name(), countArg)
		}
	}
	return a, nil
}

// listen implements s.listen(timeout=None, count=None, keep_going=False):
// the callbacks of this session only.
func (s *Session) listen(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	a, err := unpackListen(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	return s.mod.listenOn(thread, b.Name(), func() []*Session { return []*Session{s} }, a)
}

// listenAll implements the module's vici.listen: the callbacks of the
// default session and of every session the script opened, merged in the
// order the events arrived.
func (m *Module) listenAll(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	a, err := unpackListen(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	return m.listenOn(thread, b.Name(), m.allSessions, a)
}

// listenOn runs callbacks of the sessions that served returns (asked
// again before each event, so a session a callback opens is served too).
func (m *Module) listenOn(thread *starlark.Thread, fname string, served func() []*Session, a listenArgs) (starlark.Value, error) {
	m.ls.mu.Lock()
	if m.ls.active {
		m.ls.mu.Unlock()
		return nil, fmt.Errorf("%s: already listening; a callback cannot call listen() again (use vici.stop() to end the outer listen)", fname)
	}
	if !a.timeout.Set && !anyCallbacks(served()) {
		m.ls.mu.Unlock()
		return nil, fmt.Errorf("%s: no events registered, so listening would never end; call vici.on(event, fn) first", fname)
	}
	m.ls.active, m.ls.stop = true, false
	m.ls.mu.Unlock()
	defer func() {
		m.ls.mu.Lock()
		m.ls.active, m.ls.stop = false, false
		m.ls.mu.Unlock()
	}()
	ctx := starctx.From(thread)
	timer, stopTimer := timerFor(a.timeout)
	defer stopTimer()

	handled := 0
	for a.count < 0 || handled < a.count {
		m.ls.mu.Lock()
		stop := m.ls.stop
		m.ls.mu.Unlock()
		if stop {
			break
		}
		sessions := served()
		s, ev, err := nextEvent(ctx, fname, sessions, timer)
		if errors.Is(err, errTimeout) || errors.Is(err, errIdle) {
			break
		}
		if err != nil {
			if len(sessions) > 1 && a.keepGoing && ctx.Err() == nil {
				fmt.Fprintf(m.cfg.Stderr, "%v (keep_going=True, listening goes on with the other sessions)\n", err)
				continue
			}
			return nil, err
		}
		ran, err := s.dispatch(thread, fname, ev, a.keepGoing)
		if err != nil {
			return nil, err
		}
		if ran {
			handled++
		}
	}
	return starlark.MakeInt(handled), nil
}

// anyCallbacks reports whether any of sessions has a callback or an event
// queued for one.
func anyCallbacks(sessions []*Session) bool {
	for _, s := range sessions {
		st := &s.events
		st.mu.Lock()
		n := len(st.names) + len(st.pending)
		st.mu.Unlock()
		if n > 0 {
			return true
		}
	}
	return false
}

// nextEvent takes the next event for callbacks among sessions: of the
// events each session has ready, the one that arrived first. It waits
// while there is none, until timer fires (errTimeout) or ctx ends; with no
// callbacks left and no timer it returns errIdle. A session whose event
// connection is lost is reset and reported as an error.
func nextEvent(ctx context.Context, fname string, sessions []*Session, timer <-chan time.Time) (*Session, vici.Event, error) {
	for {
		var best *Session
		var bestAt time.Time
		var waitOn []*Session
		var gates []chan struct{}
		callbacks := false
		for _, s := range sessions {
			st := &s.events
			st.mu.Lock()
			if len(st.names) > 0 || len(st.pending) > 0 {
				callbacks = true
			}
			if len(st.pending) == 0 && st.sub != nil {
				select {
				case ev, ok := <-st.sub.Events():
					if !ok {
						sub := st.sub
						st.mu.Unlock()
						return nil, vici.Event{}, s.lostEvents(fname, sub)
					}
					s.admitLocked(ev, false)
				default:
				}
			}
			switch {
			case len(st.pending) > 0 && !st.pending[0].ready():
				gates = append(gates, st.pending[0].gate)
			case len(st.pending) > 0:
				if at := st.pending[0].ev.Received; best == nil || at.Before(bestAt) {
					best, bestAt = s, at
				}
			case st.sub != nil:
				waitOn = append(waitOn, s)
			}
			st.mu.Unlock()
		}
		if best != nil {
			st := &best.events
			st.mu.Lock()
			ev := st.pending[0].ev
			st.pending[0] = pendingEvent{}
			st.pending = st.pending[1:]
			st.mu.Unlock()
			return best, ev, nil
		}
		if !callbacks && timer == nil {
			return nil, vici.Event{}, errIdle
		}
		s, ev, ok, err := waitAny(ctx, fname, waitOn, gates, timer)
		if err != nil {
			return nil, vici.Event{}, err
		}
		if s != nil {
			if !ok {
				return nil, vici.Event{}, s.lostEvents(fname, s.subscription())
			}
			s.events.mu.Lock()
			s.admitLocked(ev, false)
			s.events.mu.Unlock()
		}
	}
}

func (s *Session) subscription() *vici.Subscription {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	return s.events.sub
}

// waitAny waits until one of the sessions' subscriptions delivers (it
// returns that session and the event; ok is false if the channel closed),
// a gate opens (nil session), timer fires (errTimeout) or ctx ends.
func waitAny(ctx context.Context, fname string, sessions []*Session, gates []chan struct{}, timer <-chan time.Time) (*Session, vici.Event, bool, error) {
	cases := make([]reflect.SelectCase, 0, len(sessions)+len(gates)+2)
	cases = append(cases,
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer)})
	for _, s := range sessions {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(s.subscription().Events())})
	}
	for _, g := range gates {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(g)})
	}
	i, v, ok := reflect.Select(cases)
	switch {
	case i == 0:
		return nil, vici.Event{}, false, fmt.Errorf("%s: %w", fname, starctx.Interrupted(ctx))
	case i == 1:
		return nil, vici.Event{}, false, errTimeout
	case i < 2+len(sessions):
		var ev vici.Event
		if ok {
			ev = v.Interface().(vici.Event)
		}
		return sessions[i-2], ev, ok, nil
	}
	return nil, vici.Event{}, true, nil // a reconnect notice's gate opened
}

// lostEvents handles a subscription whose channel closed: the event
// connection is gone (or its consumer fell too far behind). Event state is
// reset so a later on() redials.
func (s *Session) lostEvents(fname string, sub *vici.Subscription) error {
	var cause error = vici.ErrClosed
	if sub != nil && sub.Err() != nil {
		cause = sub.Err()
	}
	s.mu.Lock()
	ev := s.ev
	s.ev = nil
	s.mu.Unlock()
	s.events.reset()
	if ev != nil {
		_ = ev.Close()
	}
	if errors.Is(cause, vici.ErrOverflow) {
		return fmt.Errorf("%s: events from %s arrived faster than the callbacks took them; more than %d were queued, so the session's callbacks were dropped: %w",
			fname, s.resolvedURI(), maxQueued, cause)
	}
	return fmt.Errorf("%s: lost the event connection to %s (did charon stop? vici.connect(reconnect=True) redials and re-registers), callbacks were dropped: %w",
		fname, s.resolvedURI(), cause)
}

func timerFor(t starctx.Duration) (<-chan time.Time, func()) {
	if !t.Set {
		return nil, func() {}
	}
	tm := time.NewTimer(t.D)
	return tm.C, func() { tm.Stop() }
}

// dispatch calls every handler of ev on thread. It reports whether there
// was any handler. A callback with a parameter named "session" gets the
// session the event came from as that keyword argument.
func (s *Session) dispatch(thread *starlark.Thread, fname string, ev vici.Event, keepGoing bool) (bool, error) {
	st := &s.events
	st.mu.Lock()
	hs := append([]starlark.Callable(nil), st.handlers[ev.Name]...)
	st.mu.Unlock()
	for _, fn := range hs {
		var kwargs []starlark.Tuple
		if wantsSession(fn) {
			kwargs = []starlark.Tuple{{starlark.String("session"), s}}
		}
		_, err := starlark.Call(thread, fn, starlark.Tuple{starlark.String(ev.Name), FromMessage(ev.Message)}, kwargs)
		if err == nil {
			continue
		}
		if !keepGoing || starctx.From(thread).Err() != nil {
			return true, err
		}
		msg := err.Error()
		var evalErr *starlark.EvalError
		if errors.As(err, &evalErr) {
			msg = evalErr.Backtrace()
		}
		fmt.Fprintf(s.mod.cfg.Stderr, "%s: error in the %s callback for event %q (keep_going=True, listening goes on):\n%s\n", fname, fn.Name(), ev.Name, msg)
	}
	return len(hs) > 0, nil
}

// wantsSession reports whether fn declares a parameter named "session".
func wantsSession(fn starlark.Callable) bool {
	f, ok := fn.(*starlark.Function)
	if !ok {
		return false
	}
	for i := range f.NumParams() {
		if name, _ := f.Param(i); name == "session" {
			return true
		}
	}
	return false
}

// waitArgs are wait's parameters.
type waitArgs struct {
	name    string
	match   starlark.Callable
	timeout starctx.Duration
	session bool // return (session, data)
}

func unpackWait(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (waitArgs, error) {
	var a waitArgs
	err := starlark.UnpackArgs(b.Name(), args, kwargs, "event", &a.name, "match??", &a.match, "timeout??", &a.timeout, "session?", &a.session)
	return a, err
}

// wait implements s.wait(event, match=None, timeout=None, session=False):
// the events of s only.
func (s *Session) wait(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	a, err := unpackWait(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	from, data, err := waitOn(thread, b.Name(), []*Session{s}, a)
	return waitResult(from, data, a), err
}

// waitAll implements the module's vici.wait: the events of every session
// vici.listen serves (waitSessions), the earliest match first.
func (m *Module) waitAll(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	a, err := unpackWait(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	from, data, err := waitOn(thread, b.Name(), m.waitSessions(), a)
	return waitResult(from, data, a), err
}

// waitResult is what wait returns: the event's data, or (session, data)
// with session=True; None after the timeout or on an error.
func waitResult(from *Session, data starlark.Value, a waitArgs) starlark.Value {
	switch {
	case from == nil || data == nil:
		return starlark.None
	case a.session:
		return starlark.Tuple{from, data}
	}
	return data
}

// registration is one session's registration for a wait, running
// concurrently with the others'.
type registration struct {
	s     *Session
	done  chan struct{} // closed when err and note are set
	err   error
	note  error // a reconnect=True session that is down and watched
	taken bool  // the wait has looked at the outcome
}

// waitOn registers a.name on every session and returns the first event
// of that name, from any of them, for which match is true, with the
// session it came from; (nil, nil, nil) after the timeout. Other events
// taken meanwhile stay queued for on() callbacks. The sessions register
// concurrently and events are taken as soon as any is registered, so a
// daemon that is slow to answer holds up only its own events. Over
// several sessions, one that cannot register or whose event connection is
// lost is reported on stderr and left out (its error is returned only
// when no session is left), and a reconnect=True session whose daemon is
// down is watched from when it comes up, as g.on does.
func waitOn(thread *starlark.Thread, fname string, sessions []*Session, a waitArgs) (*Session, starlark.Value, error) {
	if len(sessions) == 0 {
		return nil, nil, fmt.Errorf("%s: every session is closed, so no event can come", fname)
	}
	ctx := starctx.From(thread)
	var deadline time.Time
	if a.timeout.Set {
		deadline = time.Now().Add(a.timeout.D)
	}
	several := len(sessions) > 1
	for _, s := range sessions {
		st := &s.events
		st.mu.Lock()
		st.waiting[a.name]++
		st.mu.Unlock()
		defer func() {
			st.mu.Lock()
			if st.waiting[a.name]--; st.waiting[a.name] <= 0 {
				delete(st.waiting, a.name)
			}
			st.dropPendingLocked() // events only a wait wanted are of no use now
			st.mu.Unlock()
			_ = s.resubscribe(ctx, ctx, fname, "") // only drops names: never waits
		}()
	}
	// Registrations still running when the wait returns are cancelled and
	// awaited before the deferred clean-ups above drop their names.
	regCtx, cancelRegs := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancelRegs()
		wg.Wait()
	}()
	regs := make([]*registration, len(sessions))
	for i, s := range sessions {
		r := &registration{s: s, done: make(chan struct{})}
		regs[i] = r
		wg.Go(func() {
			defer close(r.done)
			r.err, r.note = s.registerWait(regCtx, fname, deadline, several)
		})
	}
	var timer <-chan time.Time
	if a.timeout.Set {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timer = t.C
	}
	live := slices.Clone(sessions)
	stderr := sessions[0].mod.cfg.Stderr
	// leaveOut drops a failed session from the wait; it returns err when
	// the wait cannot go on without it.
	leaveOut := func(s *Session, err error) error {
		live = slices.DeleteFunc(live, func(x *Session) bool { return x == s })
		if !several || len(live) == 0 || ctx.Err() != nil {
			return err
		}
		fmt.Fprintf(stderr, "%v (waiting goes on with the other sessions)\n", err)
		return nil
	}
	matches := func(ev vici.Event) (bool, starlark.Value, error) {
		data := FromMessage(ev.Message)
		if a.match == nil {
			return true, data, nil
		}
		ok, err := starlark.Call(thread, a.match, starlark.Tuple{data}, nil)
		if err != nil {
			return false, nil, err
		}
		return bool(ok.Truth()), FromMessage(ev.Message), nil
	}
	for {
		// registrations that ended: the failed ones leave the wait
		var gates []chan struct{}
		for _, r := range regs {
			if r.taken {
				continue
			}
			select {
			case <-r.done:
				r.taken = true
				switch {
				case errors.Is(r.err, errTimeout):
					return nil, nil, nil // the wait's own timeout passed
				case r.err != nil:
					if err := leaveOut(r.s, r.err); err != nil {
						return nil, nil, err
					}
				case r.note != nil:
					fmt.Fprintf(stderr, "%v\n", r.note)
				}
			default:
				gates = append(gates, r.done)
			}
		}
		// each session's first event of the name that no wait has looked
		// at yet, taking what its subscription already holds until there
		// is one, so the earliest of all sessions is chosen; a reconnect
		// notice only once its gate is open
		var from *Session
		var ev vici.Event
		for _, s := range slices.Clone(live) {
			first, gate, lost := s.firstUnwaited(a.name)
			switch {
			case lost != nil:
				if err := leaveOut(s, s.lostEvents(fname, lost)); err != nil {
					return nil, nil, err
				}
			case gate != nil:
				gates = append(gates, gate)
			}
			if first != nil && (from == nil || first.Received.Before(ev.Received)) {
				from, ev = s, *first
			}
		}
		if from != nil {
			st := &from.events
			st.mu.Lock()
			for i := range st.pending {
				if st.pending[i].ev.Message == ev.Message && st.pending[i].ev.Name == ev.Name {
					st.pending[i].waited = true
					break
				}
			}
			st.mu.Unlock()
			ok, data, err := matches(ev)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				return from, data, nil
			}
			continue
		}
		var subs []*Session
		for _, s := range live {
			if s.subscription() != nil {
				subs = append(subs, s)
			}
		}
		s, got, ok, err := waitAny(ctx, fname, subs, gates, timer)
		if errors.Is(err, errTimeout) {
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if s == nil {
			continue // a gate opened or a registration ended
		}
		if !ok {
			if err := leaveOut(s, s.lostEvents(fname, s.subscription())); err != nil {
				return nil, nil, err
			}
			continue
		}
		s.events.mu.Lock()
		s.admitLocked(got, false)
		s.events.mu.Unlock()
	}
}

// firstUnwaited returns the session's first event named name that no
// wait has looked at yet, taking events off the subscription (without
// blocking) while none is queued. gate is set when a reconnect notice
// that is not ready holds back the rest; lost is the subscription when
// its channel closed.
func (s *Session) firstUnwaited(name string) (first *vici.Event, gate chan struct{}, lost *vici.Subscription) {
	st := &s.events
	st.mu.Lock()
	defer st.mu.Unlock()
	for i := 0; ; i++ {
		if i == len(st.pending) {
			if st.sub == nil {
				return nil, nil, nil
			}
			select {
			case got, ok := <-st.sub.Events():
				if !ok {
					return nil, nil, st.sub
				}
				s.admitLocked(got, false)
			default:
				return nil, nil, nil
			}
		}
		p := &st.pending[i]
		if !p.ready() {
			return nil, p.gate, nil // later events of the session wait behind it
		}
		if p.ev.Name == name && !p.waited {
			ev := p.ev
			return &ev, nil, nil
		}
	}
}

// registerWait registers the names waits want now on s (registerFor).
// With watch, a reconnect=True session whose daemon cannot be reached is
// watched instead (vici.Connecting): note then says so, and its events
// flow from when the daemon comes up, after a reconnect notice.
func (s *Session) registerWait(ctx context.Context, fname string, deadline time.Time, watch bool) (err, note error) {
	err = s.registerFor(ctx, fname, deadline)
	var dialErr *vici.DialError
	if err == nil || !watch || !s.reconnect || !errors.As(err, &dialErr) || s.watchEvents() != nil {
		return err, nil
	}
	if s.registerFor(ctx, fname, deadline) != nil {
		return err, nil
	}
	return nil, fmt.Errorf("%w; watching it from when it comes up (reconnect=True)", err)
}

// registerFor registers the names waits want now on s, within the
// session's deadline and the wait's own (errTimeout when that passes
// first; zero for none).
func (s *Session) registerFor(parent context.Context, fname string, deadline time.Time) error {
	ctx, cancel := ctxWithin(parent, s.deadline)
	defer cancel()
	if !deadline.IsZero() {
		var c2 context.CancelFunc
		ctx, c2 = context.WithDeadlineCause(ctx, deadline, errTimeout)
		defer c2()
	}
	err := s.resubscribe(parent, ctx, fname, "")
	if err != nil && errors.Is(context.Cause(ctx), errTimeout) && parent.Err() == nil {
		return errTimeout
	}
	return err
}
