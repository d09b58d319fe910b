package starlarkvici

import (
	"context"
	"errors"
	"fmt"
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

// Events flow one way. Each session has one subscription on its event
// connection, covering every event name that has a callback or a wait()
// in progress, so its events keep the daemon's order; it grows and shrinks
// in place (vici.Subscription Add and Remove). A feed goroutine per
// subscription moves the events into the module's inbox, which keeps the
// events of every session in order of arrival (inbox.go). listen and wait
// take them with inbox.next, always on the script's own thread.

// eventState is a session's event registrations.
type eventState struct {
	resubMu  sync.Mutex // held while the subscription changes
	mu       sync.Mutex
	handlers map[string][]starlark.Callable
	waiting  map[string]int // wait() calls in progress per event name
	sub      *vici.Subscription
	feed     *feed    // moves sub's events to the inbox
	names    []string // the names sub covers, sorted
}

func (st *eventState) init() {
	st.handlers = map[string][]starlark.Callable{}
	st.waiting = map[string]int{}
	st.sub, st.feed, st.names = nil, nil, nil
}

// resetEvents forgets every handler, the subscription and the events
// queued in the inbox.
func (s *Session) resetEvents() {
	st := &s.events
	st.mu.Lock()
	sub, f := st.sub, st.feed
	st.init()
	st.mu.Unlock()
	s.mod.inbox.forget(s, f)
	if sub != nil {
		_ = sub.Close()
	}
}

// callbacks returns the event names that have on() callbacks.
func (st *eventState) callbacks() map[string]bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	names := make(map[string]bool, len(st.handlers))
	for name, hs := range st.handlers {
		names[name] = len(hs) > 0
	}
	return names
}

// ReconnectEvent is vicish's own event, never registered with the daemon:
// once each time a session made with vici.connect(reconnect=True) has
// redialled its event connection and registered its events again, on()
// callbacks and wait() get it with data {"uri": ...}. It comes only once
// the session's commands work again (the command connection is back too),
// so a callback can resync at once. Events raised while the daemon was
// unreachable are lost, so a script should resync then.
const ReconnectEvent = "reconnect"

// wantedLocked returns the sorted event names that have callbacks or
// waits, plus extra, to register with the daemon (so without
// ReconnectEvent). Call with st.mu held.
func (st *eventState) wantedLocked(extra string) []string {
	var names []string
	for n, hs := range st.handlers {
		if len(hs) > 0 {
			names = append(names, n)
		}
	}
	for n, c := range st.waiting {
		if c > 0 {
			names = append(names, n)
		}
	}
	names = append(names, extra)
	sort.Strings(names)
	names = slices.Compact(names)
	return slices.DeleteFunc(names, func(n string) bool { return n == "" || n == ReconnectEvent })
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
	var f *feed
	if len(add) > 0 {
		var err error
		if sub == nil {
			var client *vici.Client
			if client, err = s.eventClient(ctx); err != nil {
				return s.explain(fname, "", parent, s.deadline, err)
			}
			if sub, err = client.Subscribe(ctx, add...); err == nil {
				f = s.startFeed(sub)
			}
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
	if f != nil {
		st.sub, st.feed = sub, f
	}
	st.names = nil
	if st.sub != nil {
		st.names = st.sub.Names()
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
	if near := nearestEvent(name); near != "" {
		hint = fmt.Sprintf("did you mean %q?", near)
	}
	for _, e := range Events() {
		if e.Name == name && e.Since != "" {
			hint = fmt.Sprintf("%q needs strongSwan %s or newer (vici.version() shows the daemon's version)", name, e.Since)
		}
	}
	return fmt.Errorf("%s: the daemon at %s does not know the event %q; %s%w", fname, s.resolvedURI(), name, hint, quiet{err})
}

// orWatch runs register. When it fails because the daemon of a
// reconnect=True session cannot be reached, the session's events are
// watched instead (watchEvents: they flow from when the daemon comes up,
// after a reconnect event) and register runs again; note then says so.
func (s *Session) orWatch(register func() error) (err, note error) {
	err = register()
	var dialErr *vici.DialError
	if err == nil || !s.reconnect || !errors.As(err, &dialErr) || s.watchEvents() != nil || register() != nil {
		return err, nil
	}
	return nil, fmt.Errorf("%w; watching it from when it comes up (reconnect=True)", err)
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
	if err := checkCallback(b.Name(), "the callback", fn, 2, true, "fn(name, data), with session= too if it has a parameter named session"); err != nil {
		return nil, err
	}
	ctx, cancel := starctx.WithTimeout(thread, s.deadline)
	defer cancel()
	if err := s.resubscribe(starctx.From(thread), ctx, b.Name(), name); err != nil {
		return nil, err
	}
	st := &s.events
	st.mu.Lock()
	defer st.mu.Unlock()
	if !slices.Contains(st.handlers[name], fn) {
		st.handlers[name] = append(st.handlers[name], fn)
	}
	return starlark.None, nil
}

// off implements vici.off(event, fn=None).
func (s *Session) off(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var fn starlark.Callable
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "event", &name, "fn??", &fn); err != nil {
		return nil, err
	}
	if err := s.events.unknownOff(b.Name(), name); err != nil {
		return nil, err
	}
	return starlark.None, s.removeHandler(starctx.From(thread), b.Name(), name, fn)
}

// unknownOff refuses off() of a name that has no callback and looks like
// a misspelt event: the callback meant goes on being called otherwise.
func (st *eventState) unknownOff(fname, name string) error {
	near := nearestEvent(name)
	if near == "" || st.callbacks()[name] {
		return nil
	}
	return fmt.Errorf("%s: no callback is registered for the event %q; did you mean %q?", fname, name, near)
}

// removeHandler removes fn (every callback when nil) from event name and
// drops the registrations nobody needs (never waiting for the daemon).
// Events already queued stay: a callback registered again gets them.
func (s *Session) removeHandler(ctx context.Context, fname, name string, fn starlark.Callable) error {
	st := &s.events
	st.mu.Lock()
	st.handlers[name] = slices.DeleteFunc(st.handlers[name], func(h starlark.Callable) bool { return fn == nil || h == fn })
	if len(st.handlers[name]) == 0 {
		delete(st.handlers, name)
	}
	st.mu.Unlock()
	return s.resubscribe(ctx, ctx, fname, "")
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

// limit is when a listen or wait returns: at at, or never when at is
// zero. Once at has passed nothing more is taken, so the call returns at
// most the running callback's time late, however many events keep
// coming; except with drain (timeout=0), which still takes the events
// that arrived before at: what was queued when the call began.
type limit struct {
	at    time.Time
	drain bool
}

// limitFor is the limit of a call with timeout t.
func limitFor(t starctx.Duration) limit {
	if !t.Set {
		return limit{}
	}
	return limit{at: time.Now().Add(t.D), drain: t.D <= 0}
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
	if !a.timeout.Set && !m.inbox.anyCallbacks(served()) {
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
	until := limitFor(a.timeout)
	handled := 0
	for a.count < 0 || handled < a.count {
		m.ls.mu.Lock()
		stop := m.ls.stop
		m.ls.mu.Unlock()
		if stop {
			break
		}
		sessions := served()
		idle := func() error {
			if until.at.IsZero() && !m.inbox.anyCallbacks(sessions) {
				return errIdle
			}
			return nil
		}
		served := func(it *item) bool { return slices.Contains(sessions, it.f.s) }
		it, err := m.inbox.next(ctx, fname, until, idle, served, func(*item) bool { return true })
		if errors.Is(err, errTimeout) || errors.Is(err, errIdle) {
			break
		}
		if err == nil && it.end != nil {
			err = it.f.s.lostEvents(fname, it.end)
			if len(sessions) > 1 && a.keepGoing && ctx.Err() == nil {
				fmt.Fprintf(m.cfg.Stderr, "%v (keep_going=True, listening goes on with the other sessions)\n", err)
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		ran, err := it.f.s.dispatch(thread, fname, it.ev, a.keepGoing)
		if err != nil {
			return nil, err
		}
		if ran {
			handled++
		}
	}
	return starlark.MakeInt(handled), nil
}

// lostEvents handles the end of a session's events: its event connection
// is gone, or its callbacks fell too far behind. Event state is reset so a
// later on() redials.
func (s *Session) lostEvents(fname string, cause error) error {
	s.mu.Lock()
	ev := s.ev
	s.ev = nil
	s.mu.Unlock()
	s.resetEvents()
	if ev != nil {
		_ = ev.Close()
	}
	if errors.Is(cause, vici.ErrOverflow) {
		return fmt.Errorf("%s: events from %s arrived faster than the callbacks took them; %v, so the session's callbacks were dropped", fname, s.resolvedURI(), cause)
	}
	return fmt.Errorf("%s: lost the event connection to %s (did charon stop? vici.connect(reconnect=True) redials and re-registers), callbacks were dropped: %w",
		fname, s.resolvedURI(), cause)
}

// dispatch calls every handler of ev on thread. It reports whether there
// was any handler. A callback with a parameter named "session" gets the
// session the event came from as that keyword argument.
func (s *Session) dispatch(thread *starlark.Thread, fname string, ev vici.Event, keepGoing bool) (bool, error) {
	st := &s.events
	st.mu.Lock()
	hs := slices.Clone(st.handlers[ev.Name])
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
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "event", &a.name, "match??", &a.match, "timeout??", &a.timeout, "session?", &a.session); err != nil {
		return a, err
	}
	if a.match != nil {
		return a, checkCallback(b.Name(), "match=", a.match, 1, false, "match(data)")
	}
	return a, nil
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

// registration is how a session's registration for a wait ended.
type registration struct {
	s    *Session
	err  error
	note error // a reconnect=True session that is down and watched
}

// waitOn registers a.name on every session and returns the first event
// of that name, from any of them, for which match is true, with the
// session it came from; (nil, nil, nil) after the timeout. Events it
// looks at stay queued for on() callbacks. The sessions register
// concurrently and events are taken as soon as any is registered, so a
// daemon that is slow to answer holds up only its own events. Over
// several sessions, one that cannot register or whose event connection is
// lost is reported on stderr and left out (its error is returned only
// when no session is left), and a reconnect=True session whose daemon is
// down is watched from when it comes up (orWatch).
func waitOn(thread *starlark.Thread, fname string, sessions []*Session, a waitArgs) (*Session, starlark.Value, error) {
	if len(sessions) == 0 {
		return nil, nil, fmt.Errorf("%s: every session is closed, so no event can come", fname)
	}
	ctx := starctx.From(thread)
	until := limitFor(a.timeout)
	several := len(sessions) > 1
	in := &sessions[0].mod.inbox
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
			st.mu.Unlock()
			in.dropUnwanted(s)                     // events only a wait wanted are of no use now
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
	ended := make(chan registration, len(sessions))
	for _, s := range sessions {
		wg.Go(func() {
			r := registration{s: s}
			register := func() error { return s.registerFor(regCtx, fname, until.at) }
			if several {
				r.err, r.note = s.orWatch(register)
			} else {
				r.err = register()
			}
			ended <- r
			in.poke()
		})
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
	// registered takes the outcome of the registrations that ended: the
	// failed ones leave the wait.
	registered := func() error {
		for {
			var r registration
			select {
			case r = <-ended:
			default:
				return nil
			}
			switch {
			case errors.Is(r.err, errTimeout):
				return errTimeout // the wait's own timeout passed
			case r.err != nil:
				if err := leaveOut(r.s, r.err); err != nil {
					return err
				}
			case r.note != nil:
				fmt.Fprintf(stderr, "%v\n", r.note)
			}
		}
	}
	unseen := func(it *item) bool {
		return slices.Contains(live, it.f.s) && (it.end != nil || it.ev.Name == a.name && !it.waited)
	}
	// an event no callback wants is of no use once the wait has seen it
	var wanted map[*Session]map[string]bool
	unwanted := func(it *item) bool { return !wanted[it.f.s][it.ev.Name] }
	for {
		wanted = map[*Session]map[string]bool{}
		for _, s := range live {
			wanted[s] = s.events.callbacks()
		}
		it, err := in.next(ctx, fname, until, registered, unseen, unwanted)
		switch {
		case errors.Is(err, errTimeout):
			return nil, nil, nil
		case err != nil:
			return nil, nil, err
		case it.end != nil:
			if err := leaveOut(it.f.s, it.f.s.lostEvents(fname, it.end)); err != nil {
				return nil, nil, err
			}
			continue
		}
		data := FromMessage(it.ev.Message)
		if a.match != nil {
			ok, err := starlark.Call(thread, a.match, starlark.Tuple{data}, nil)
			if err != nil {
				return nil, nil, err
			}
			if !ok.Truth() {
				continue
			}
			data = FromMessage(it.ev.Message) // a fresh copy: match may have changed its own
		}
		return it.f.s, data, nil
	}
}

// registerFor registers the names waits want now on s, within the
// session's deadline and the wait's own (errTimeout when that passes
// first; zero for none).
func (s *Session) registerFor(parent context.Context, fname string, until time.Time) error {
	ctx, cancel := ctxWithin(parent, s.deadline)
	defer cancel()
	if !until.IsZero() {
		var c2 context.CancelFunc
		ctx, c2 = context.WithDeadlineCause(ctx, until, errTimeout)
		defer c2()
	}
	err := s.resubscribe(parent, ctx, fname, "")
	if err != nil && errors.Is(context.Cause(ctx), errTimeout) && parent.Err() == nil {
		return errTimeout
	}
	return err
}
