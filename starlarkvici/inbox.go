package starlarkvici

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/vicish/vicish/internal/bytesize"
	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/vici"
)

// inbox holds the events of every session of a module that callbacks and
// waits have yet to take, in the order they arrived (each session's in the
// order its daemon sent them). Feeds add to it; listen and wait take from
// it with next, on the script's thread.
type inbox struct {
	mu      sync.Mutex
	items   []item
	seq     uint64        // the last item's seq
	changed chan struct{} // closed and replaced when the inbox changes
}

// item is one event in the inbox, or the end of a feed's events.
type item struct {
	seq    uint64 // increases with every item added
	f      *feed
	ev     vici.Event
	size   int   // ev's memory, counted in f.bytes
	waited bool  // a wait for this event name has looked at it
	end    error // not an event: the feed ended, and why
}

// feed moves one subscription's events into the inbox, on a goroutine of
// its own (run). It holds a reconnect notice, and every later event of
// the session, back until the session's commands work again, and it ends
// the session's events when they pass its budget.
type feed struct {
	s    *Session
	sub  *vici.Subscription
	quit chan struct{} // closed when the session's events are reset

	// Guarded by the inbox's mu.
	stopped bool // no more items: ended or reset
	count   int  // events in the inbox and held back
	bytes   int  // their memory (vici.Message.MemSize)
}

// maxQueued is how many events a session holds for callbacks that do not
// take them before its events are ended (vici.ErrOverflow); the memory
// they may take is Config.MaxEventQueue.
const maxQueued = 65536

// reconnectProbeLimit bounds how long a reconnect notice waits for the
// session's command connection before it is delivered anyway.
const reconnectProbeLimit = 30 * time.Second

// startFeed starts moving sub's events into the module's inbox.
func (s *Session) startFeed(sub *vici.Subscription) *feed {
	f := &feed{s: s, sub: sub, quit: make(chan struct{})}
	go f.run(&s.mod.inbox)
	return f
}

// run is the feed's goroutine. It ends when the subscription does (it
// adds an item saying why) or when the session's events are reset.
func (f *feed) run(in *inbox) {
	var held []item          // behind held[0], a reconnect notice
	var gate <-chan struct{} // closes once held may go
	for {
		select {
		case ev, ok := <-f.sub.Events():
			if !ok {
				var cause error = vici.ErrClosed
				if err := f.sub.Err(); err != nil {
					cause = err
				}
				in.end(f, cause)
				return
			}
			it := item{f: f, ev: ev}
			if ev.Message != nil {
				it.size = ev.Message.MemSize()
			}
			if err := in.reserve(f, it.size); err != nil {
				in.end(f, err)
				_ = f.sub.Close()
				return
			}
			if ev.Reconnected {
				it.ev = vici.Event{Name: ReconnectEvent, Message: vici.NewMessage().Set("uri", f.s.resolvedURI()),
					Reconnected: true, Received: ev.Received}
			}
			switch {
			case gate != nil:
				held = append(held, it)
			case ev.Reconnected:
				held = append(held, it)
				gate = f.s.awaitCommands(f.quit)
			default:
				in.put(it)
			}
		case <-gate:
			// the notice and what came after it, up to the next notice
			gate = nil
			in.put(held[0])
			held = held[1:]
			for len(held) > 0 && !held[0].ev.Reconnected {
				in.put(held[0])
				held = held[1:]
			}
			if len(held) > 0 {
				gate = f.s.awaitCommands(f.quit)
			} else {
				held = nil
			}
		case <-f.quit:
			return
		}
	}
}

// overflowError ends a session's events when its callbacks fall behind.
type overflowError struct{ count, bytes, limit int }

func (e overflowError) Error() string {
	if e.count >= maxQueued {
		return fmt.Sprintf("more than %d events were queued", maxQueued)
	}
	return fmt.Sprintf("%d events taking %s were queued, and the next would have passed the session's budget of %s (vicish --max-event-queue)",
		e.count, bytesize.Text(e.bytes), bytesize.Text(e.limit))
}

func (overflowError) Unwrap() error { return vici.ErrOverflow }

// awaitCommands returns a channel it closes once a command on the session
// works again after its event connection was redialled: the command
// connection may still be waiting out its backoff, or not have noticed
// the restart yet. It gives up after reconnectProbeLimit, or when quit is
// closed.
func (s *Session) awaitCommands(quit <-chan struct{}) <-chan struct{} {
	gate := make(chan struct{})
	go func() {
		defer close(gate)
		ctx, cancel := context.WithTimeout(context.Background(), reconnectProbeLimit)
		defer cancel()
		go func() {
			select {
			case <-quit:
				cancel()
			case <-ctx.Done():
			}
		}()
		for ctx.Err() == nil && !s.isClosed() {
			c, err := s.commandClient(ctx)
			if err == nil {
				if err = c.Ready(ctx); err == nil {
					_, err = c.Call(ctx, "version", nil)
				}
				if err == nil {
					return
				}
			}
			_ = starctx.Sleep(ctx, 50*time.Millisecond)
		}
	}()
	return gate
}

// changedLocked wakes whoever waits for the inbox to change.
func (in *inbox) changedLocked() {
	if in.changed != nil {
		close(in.changed)
		in.changed = nil
	}
}

// poke wakes whoever waits for the inbox, to look at the world again.
func (in *inbox) poke() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.changedLocked()
}

// reserve counts one more event of f, of size bytes, which then goes in
// with put (or is held back first); an error when it would pass the
// session's budget.
func (in *inbox) reserve(f *feed, size int) error {
	limit := f.s.mod.cfg.MaxEventQueue
	in.mu.Lock()
	defer in.mu.Unlock()
	if f.count >= maxQueued || limit > 0 && f.bytes+size > limit {
		return overflowError{count: f.count, bytes: f.bytes, limit: limit}
	}
	f.count++
	f.bytes += size
	return nil
}

// put adds an event that reserve counted.
func (in *inbox) put(it item) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if it.f.stopped {
		return
	}
	in.seq++
	it.seq = in.seq
	in.items = append(in.items, it)
	in.changedLocked()
}

// end adds the end of f's events with its cause. An overflow drops the
// events f has queued: they are what took the memory.
func (in *inbox) end(f *feed, cause error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if f.stopped {
		return
	}
	if errors.Is(cause, vici.ErrOverflow) {
		in.removeLocked(func(it *item) bool { return it.f == f })
	}
	f.stopped = true
	in.seq++
	in.items = append(in.items, item{seq: in.seq, f: f, end: cause})
	in.changedLocked()
}

// removeLocked removes the items drop selects, in place.
func (in *inbox) removeLocked(drop func(*item) bool) {
	kept := in.items[:0]
	for _, it := range in.items {
		if drop(&it) {
			it.f.uncount(it)
			continue
		}
		kept = append(kept, it)
	}
	clear(in.items[len(kept):])
	in.items = kept
	in.changedLocked()
}

// takeLocked removes item i, cheaply when it is the first.
func (in *inbox) takeLocked(i int) {
	in.items[i].f.uncount(in.items[i])
	if i == 0 {
		in.items[0] = item{}
		in.items = in.items[1:]
		return
	}
	in.items = append(in.items[:i], in.items[i+1:]...)
	in.items[:len(in.items)+1][len(in.items)] = item{}
}

// uncount takes an item leaving the inbox off f's count.
func (f *feed) uncount(it item) {
	if it.end == nil {
		f.count--
		f.bytes -= it.size
	}
}

// forget drops every item of s and stops its feed f (nil for none).
func (in *inbox) forget(s *Session, f *feed) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if f != nil && !f.stopped {
		f.stopped = true
		close(f.quit)
	}
	in.removeLocked(func(it *item) bool { return it.f.s == s })
}

// dropUnwanted drops the events of s that no callback wants: those only a
// wait that has ended wanted, or of a callback just removed.
func (in *inbox) dropUnwanted(s *Session) {
	wanted := s.events.callbacks()
	in.mu.Lock()
	defer in.mu.Unlock()
	in.removeLocked(func(it *item) bool { return it.f.s == s && it.end == nil && !wanted[it.ev.Name] })
}

// anyCallbacks reports whether any of sessions has a callback, or an
// event or end queued.
func (in *inbox) anyCallbacks(sessions []*Session) bool {
	for _, s := range sessions {
		st := &s.events
		st.mu.Lock()
		n := len(st.names)
		st.mu.Unlock()
		if n > 0 {
			return true
		}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.ContainsFunc(in.items, func(it item) bool { return slices.Contains(sessions, it.f.s) })
}

// next returns the first item that pick accepts, oldest first. It takes
// the item out of the inbox when take says so, and otherwise marks the
// event waited (an end is always taken). Before each look at the inbox,
// poll may end the call with its error; then it waits for the inbox to
// change (or a poke), until ctx ends or until says (errTimeout).
// pick and take run with the inbox locked and must not call back into it.
func (in *inbox) next(ctx context.Context, fname string, until limit, poll func() error, pick, take func(*item) bool) (item, error) {
	var timer <-chan time.Time
	if !until.at.IsZero() {
		t := time.NewTimer(time.Until(until.at))
		defer t.Stop()
		timer = t.C
	}
	var seen uint64 // items up to this seq have been looked at
	for {
		if ctx.Err() != nil {
			return item{}, fmt.Errorf("%s: %w", fname, starctx.Interrupted(ctx))
		}
		expired := !until.at.IsZero() && !time.Now().Before(until.at)
		if expired && !until.drain {
			return item{}, errTimeout
		}
		if err := poll(); err != nil {
			return item{}, err
		}
		in.mu.Lock()
		if in.changed == nil {
			in.changed = make(chan struct{})
		}
		changed := in.changed
		i := sort.Search(len(in.items), func(i int) bool { return in.items[i].seq > seen })
		for ; i < len(in.items); i++ {
			it := &in.items[i]
			if expired && it.ev.Received.After(until.at) || !pick(it) {
				continue
			}
			got := *it
			if it.end != nil || take(it) {
				in.takeLocked(i)
			} else {
				it.waited = true
			}
			in.mu.Unlock()
			return got, nil
		}
		seen = in.seq
		in.mu.Unlock()
		if expired {
			return item{}, errTimeout
		}
		select {
		case <-changed:
		case <-ctx.Done():
		case <-timer:
		}
	}
}
