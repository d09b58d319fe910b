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

// eventState is a session's event machinery. One subscription on the
// session's event connection covers every event name that has a callback
// or a wait() in progress, so events keep the order the daemon sent them
// in. The engine queues them (never dropping any) until listen or wait
// takes them, always on the script's own thread. pending holds events
// taken off the subscription that on() callbacks have yet to see.
type eventState struct {
	mu        sync.Mutex
	handlers  map[string][]starlark.Callable
	waiting   map[string]int // wait() calls in progress per event name
	sub       *vici.Subscription
	names     []string // the names sub covers, sorted
	pending   []pendingEvent
	skip      map[*vici.Message]bool // events pending already holds, still to come on sub
	listening bool
	stop      bool
}

type pendingEvent struct {
	ev     vici.Event
	waited bool // a wait for this event name has already looked at it
}

func (st *eventState) init() {
	st.handlers = map[string][]starlark.Callable{}
	st.waiting = map[string]int{}
	st.sub, st.names, st.pending, st.skip = nil, nil, nil, nil
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
// callbacks and wait() get it with data {"uri": ...}. Events raised while
// the daemon was unreachable are lost, so a script should resync then.
const ReconnectEvent = "reconnect"

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
// wanted now (plus extra). A new subscription joins before the old one
// leaves, so nothing is missed; the old one's queued events move to
// pending, and their copies on the new one are skipped.
func (s *Session) resubscribe(ctx context.Context, fname, extra string) error {
	st := &s.events
	st.mu.Lock()
	wanted := st.wantedLocked(extra)
	same := slices.Equal(wanted, st.names)
	st.mu.Unlock()
	if same {
		return nil
	}
	var sub *vici.Subscription
	if len(wanted) > 0 {
		client, err := s.eventClient(ctx)
		if err != nil {
			return s.explain(fname, "", ctx, 0, err)
		}
		sub, err = client.Subscribe(ctx, wanted...)
		if err != nil {
			return s.subscribeError(ctx, fname, wanted, err)
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	old := st.sub
	st.sub, st.names = sub, wanted
	if old == nil {
		return nil
	}
	_ = old.Close() // its channel ends after what it already holds
	for ev := range old.Events() {
		if ev.Reconnected || ev.Message == nil || !slices.Contains(wanted, ev.Name) {
			continue
		}
		st.pending = append(st.pending, pendingEvent{ev: ev})
		if sub != nil {
			if st.skip == nil {
				st.skip = map[*vici.Message]bool{}
			}
			st.skip[ev.Message] = true
		}
	}
	kept := st.pending[:0]
	for _, p := range st.pending {
		if slices.Contains(wanted, p.ev.Name) {
			kept = append(kept, p)
		}
	}
	st.pending = kept
	return nil
}

// subscribeError explains a failed registration.
func (s *Session) subscribeError(ctx context.Context, fname string, names []string, err error) error {
	if !errors.Is(err, vici.ErrUnknownEvent) {
		return s.explain(fname, "", ctx, 0, err)
	}
	name := ""
	for _, n := range names {
		if !s.events.subscribed(n) && strings.Contains(err.Error(), strconv.Quote(n)) {
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
		if len(st.handlers[p.ev.Name]) > 0 {
			kept = append(kept, p)
		}
	}
	st.pending = kept
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
	if err := s.resubscribe(starctx.From(thread), b.Name(), name); err != nil {
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
	st := &s.events
	st.mu.Lock()
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
	st.mu.Unlock()
	if err := s.resubscribe(starctx.From(thread), b.Name(), ""); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// stop implements vici.stop(): listen returns after the current event.
func (s *Session) stop(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	st := &s.events
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.listening {
		return nil, fmt.Errorf("%s: not listening; stop() ends vici.listen() from inside an event callback", b.Name())
	}
	st.stop = true
	return starlark.None, nil
}

var errTimeout = errors.New("timeout")

// receive waits for the next event of the subscription. It returns
// errTimeout when timer fires and an error when ctx ends.
func (s *Session) receive(ctx context.Context, fname string, timer <-chan time.Time) (vici.Event, error) {
	st := &s.events
	for {
		st.mu.Lock()
		sub := st.sub
		st.mu.Unlock()
		var events <-chan vici.Event
		if sub != nil {
			events = sub.Events()
		}
		var ev vici.Event
		var ok bool
		select {
		case <-ctx.Done():
			return vici.Event{}, fmt.Errorf("%s: %w", fname, starctx.Interrupted(ctx))
		case <-timer:
			return vici.Event{}, errTimeout
		case ev, ok = <-events:
		}
		if !ok {
			st.mu.Lock()
			current := st.sub == sub
			st.mu.Unlock()
			if !current {
				continue // replaced by resubscribe meanwhile
			}
			return vici.Event{}, s.lostEvents(fname, sub)
		}
		if ev.Reconnected {
			// The engine redialled and registered the events again: tell
			// the script once (one subscription, one notice per redial).
			return vici.Event{Name: ReconnectEvent, Message: vici.NewMessage().Set("uri", s.resolvedURI())}, nil
		}
		if ev.Message == nil {
			continue
		}
		st.mu.Lock()
		dup := st.skip[ev.Message]
		if dup {
			delete(st.skip, ev.Message)
		} else {
			st.skip = nil // copies come first; past them there are none
		}
		st.mu.Unlock()
		if !dup {
			return ev, nil
		}
	}
}

// lostEvents handles a subscription whose channel closed: the event
// connection is gone. Event state is reset so a later on() redials.
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

// listen implements vici.listen(timeout=None, count=None, keep_going=False).
func (s *Session) listen(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var timeout starctx.Duration
	var countArg starlark.Value = starlark.None
	var keepGoing bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "timeout??", &timeout, "count??", &countArg, "keep_going?", &keepGoing); err != nil {
		return nil, err
	}
	count := -1 // no limit
	if countArg != starlark.None {
		if err := starlark.AsInt(countArg, &count); err != nil || count < 0 {
			return nil, fmt.Errorf("%s: count must be a non-negative int, got %s", b.Name(), countArg)
		}
	}
	st := &s.events
	st.mu.Lock()
	if st.listening {
		st.mu.Unlock()
		return nil, fmt.Errorf("%s: already listening; a callback cannot call listen() again (use vici.stop() to end the outer listen)", b.Name())
	}
	if st.sub == nil && len(st.pending) == 0 && !timeout.Set {
		st.mu.Unlock()
		return nil, fmt.Errorf("%s: no events registered, so listening would never end; call vici.on(event, fn) first", b.Name())
	}
	st.listening, st.stop = true, false
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		st.listening, st.stop = false, false
		st.mu.Unlock()
	}()
	ctx := starctx.From(thread)
	timer, stopTimer := timerFor(timeout)
	defer stopTimer()

	handled := 0
	for count < 0 || handled < count {
		st.mu.Lock()
		stop := st.stop
		var ev vici.Event
		fromPending := len(st.pending) > 0
		if fromPending {
			ev = st.pending[0].ev
			st.pending = st.pending[1:]
		}
		st.mu.Unlock()
		if stop {
			break
		}
		if !fromPending {
			st.mu.Lock()
			idle := st.sub == nil
			st.mu.Unlock()
			if idle && timer == nil {
				break // callbacks removed every registration: nothing can come
			}
			var err error
			ev, err = s.receive(ctx, b.Name(), timer)
			if errors.Is(err, errTimeout) {
				break
			}
			if err != nil {
				return nil, err
			}
		}
		ran, err := s.dispatch(thread, b.Name(), ev, keepGoing)
		if err != nil {
			return nil, err
		}
		if ran {
			handled++
		}
	}
	return starlark.MakeInt(handled), nil
}

// dispatch calls every handler of ev on thread. It reports whether there
// was any handler.
func (s *Session) dispatch(thread *starlark.Thread, fname string, ev vici.Event, keepGoing bool) (bool, error) {
	st := &s.events
	st.mu.Lock()
	hs := append([]starlark.Callable(nil), st.handlers[ev.Name]...)
	st.mu.Unlock()
	for _, fn := range hs {
		_, err := starlark.Call(thread, fn, starlark.Tuple{starlark.String(ev.Name), FromMessage(ev.Message)}, nil)
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

// wait implements vici.wait(event, match=None, timeout=None).
func (s *Session) wait(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var match starlark.Callable
	var timeout starctx.Duration
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "event", &name, "match??", &match, "timeout??", &timeout); err != nil {
		return nil, err
	}
	ctx := starctx.From(thread)
	st := &s.events
	st.mu.Lock()
	st.waiting[name]++
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		if st.waiting[name]--; st.waiting[name] <= 0 {
			delete(st.waiting, name)
		}
		st.dropPendingLocked() // events only a wait wanted are of no use now
		st.mu.Unlock()
		_ = s.resubscribe(context.WithoutCancel(ctx), b.Name(), "")
	}()
	if err := s.resubscribe(ctx, b.Name(), ""); err != nil {
		return nil, err
	}
	matches := func(ev vici.Event) (bool, starlark.Value, error) {
		data := FromMessage(ev.Message)
		if match == nil {
			return true, data, nil
		}
		ok, err := starlark.Call(thread, match, starlark.Tuple{data}, nil)
		if err != nil {
			return false, nil, err
		}
		return bool(ok.Truth()), FromMessage(ev.Message), nil
	}
	// events that arrived before this wait and no wait has looked at yet
	for i := 0; ; i++ {
		st.mu.Lock()
		if i >= len(st.pending) {
			st.mu.Unlock()
			break
		}
		p := &st.pending[i]
		candidate := p.ev.Name == name && !p.waited
		if candidate {
			p.waited = true
		}
		ev := p.ev
		st.mu.Unlock()
		if candidate {
			ok, data, err := matches(ev)
			if err != nil {
				return nil, err
			}
			if ok {
				return data, nil
			}
		}
	}
	timer, stopTimer := timerFor(timeout)
	defer stopTimer()
	for {
		ev, err := s.receive(ctx, b.Name(), timer)
		if errors.Is(err, errTimeout) {
			return starlark.None, nil
		}
		if err != nil {
			return nil, err
		}
		st.mu.Lock()
		st.pending = append(st.pending, pendingEvent{ev: ev, waited: ev.Name == name})
		st.mu.Unlock()
		if ev.Name != name {
			continue
		}
		ok, data, err := matches(ev)
		if err != nil {
			return nil, err
		}
		if ok {
			return data, nil
		}
	}
}
