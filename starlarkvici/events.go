package starlarkvici

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// eventState is a session's event machinery. Subscriptions live on the
// session's event connection from on()/wait() on; the engine queues their
// events (never dropping them) until listen or wait takes them, always on
// the script's own thread. pending holds events wait took off the queues
// that on() callbacks have yet to see.
type eventState struct {
	mu        sync.Mutex
	handlers  map[string][]starlark.Callable
	subs      map[string]*vici.Subscription
	waiting   map[string]int // wait() calls in progress per event name
	pending   []pendingEvent
	listening bool
	stop      bool
}

type pendingEvent struct {
	ev     vici.Event
	waited bool // a wait for this event name has already looked at it
}

func (st *eventState) init() {
	st.handlers = map[string][]starlark.Callable{}
	st.subs = map[string]*vici.Subscription{}
	st.waiting = map[string]int{}
}

// reset forgets every handler, subscription and queued event.
func (st *eventState) reset() {
	st.mu.Lock()
	subs := st.subs
	st.init()
	st.pending = nil
	st.mu.Unlock()
	for _, sub := range subs {
		_ = sub.Close()
	}
}

// subscribe makes sure the daemon sends event name to this session.
func (s *Session) subscribe(ctx context.Context, fname, name string) error {
	st := &s.events
	st.mu.Lock()
	_, ok := st.subs[name]
	st.mu.Unlock()
	if ok {
		return nil
	}
	client, err := s.eventClient(ctx)
	if err != nil {
		return s.explain(fname, name, ctx, 0, err)
	}
	sub, err := client.Subscribe(ctx, name)
	if err != nil {
		if errors.Is(err, vici.ErrUnknownEvent) {
			hint := "check the name (help(vici) lists the events)"
			for _, e := range Events() {
				if e.Name == name && e.Since != "" {
					hint = fmt.Sprintf("%q needs strongSwan %s or newer (vici.version() shows the daemon's version)", name, e.Since)
				}
			}
			return fmt.Errorf("%s: the daemon at %s does not know the event %q; %s%w", fname, s.resolvedURI(), name, hint, quiet{err})
		}
		return s.explain(fname, name, ctx, 0, err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, dup := st.subs[name]; dup {
		_ = sub.Close()
		return nil
	}
	st.subs[name] = sub
	return nil
}

// release unsubscribes from name when nothing needs it any more and drops
// its queued events. Call with st.mu held.
func (st *eventState) releaseLocked(name string) {
	if len(st.handlers[name]) > 0 || st.waiting[name] > 0 {
		return
	}
	if sub, ok := st.subs[name]; ok {
		delete(st.subs, name)
		_ = sub.Close()
	}
	kept := st.pending[:0]
	for _, p := range st.pending {
		if p.ev.Name != name {
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
	if err := s.subscribe(starctx.From(thread), b.Name(), name); err != nil {
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
	st.releaseLocked(name)
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

// receive waits for the next event from any subscription. It returns
// errTimeout when timer fires and the context's error when ctx ends.
func (s *Session) receive(ctx context.Context, fname string, timer <-chan time.Time) (vici.Event, error) {
	st := &s.events
	for {
		st.mu.Lock()
		names := make([]string, 0, len(st.subs))
		cases := []reflect.SelectCase{
			{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
			{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer)},
		}
		for name, sub := range st.subs {
			names = append(names, name)
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(sub.Events())})
		}
		st.mu.Unlock()
		i, v, ok := reflect.Select(cases)
		switch {
		case i == 0:
			return vici.Event{}, fmt.Errorf("%s: cancelled: %v", fname, context.Cause(ctx))
		case i == 1:
			return vici.Event{}, errTimeout
		case !ok:
			return vici.Event{}, s.lostEvents(fname, names[i-2])
		}
		ev := v.Interface().(vici.Event)
		if ev.Reconnected || ev.Message == nil {
			continue // the engine re-registered after redialling; nothing to deliver
		}
		if ev.Name == "" {
			ev.Name = names[i-2]
		}
		return ev, nil
	}
}

// lostEvents handles a subscription whose channel closed: the event
// connection is gone. Event state is reset so a later on() redials.
func (s *Session) lostEvents(fname, name string) error {
	st := &s.events
	st.mu.Lock()
	sub := st.subs[name]
	st.mu.Unlock()
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

func timerFor(t seconds) (<-chan time.Time, func()) {
	if !t.set {
		return nil, func() {}
	}
	tm := time.NewTimer(t.d)
	return tm.C, func() { tm.Stop() }
}

// listen implements vici.listen(timeout=None, count=None, keep_going=False).
func (s *Session) listen(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var timeout seconds
	count := -1
	var keepGoing bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "timeout??", &timeout, "count??", &count, "keep_going?", &keepGoing); err != nil {
		return nil, err
	}
	st := &s.events
	st.mu.Lock()
	if st.listening {
		st.mu.Unlock()
		return nil, fmt.Errorf("%s: already listening; a callback cannot call listen() again (use vici.stop() to end the outer listen)", b.Name())
	}
	if len(st.subs) == 0 && len(st.pending) == 0 && !timeout.set {
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
			var err error
			ev, err = s.receive(ctx, b.Name(), timer)
			if err == errTimeout {
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
	var timeout seconds
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
		defer st.mu.Unlock()
		st.waiting[name]--
		if st.waiting[name] <= 0 {
			delete(st.waiting, name)
		}
		st.releaseLocked(name)
		// events only a wait wanted are of no use to anyone now
		kept := st.pending[:0]
		for _, p := range st.pending {
			if len(st.handlers[p.ev.Name]) > 0 {
				kept = append(kept, p)
			}
		}
		st.pending = kept
	}()
	if err := s.subscribe(ctx, b.Name(), name); err != nil {
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
		if err == errTimeout {
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
