package vici

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Event is one event delivered to a Subscription.
type Event struct {
	Name        string    // event name, e.g. "ike-updown"; "" when Reconnected
	Message     *Message  // the event's message; nil when Reconnected
	Reconnected bool      // the client redialled; state may have changed unseen
	Received    time.Time // when the reader took it off the wire (or redialled)
}

// Subscription queues the events it was registered for, in the order the
// daemon sent them. Messages handed to several consumers (a stream and a
// subscription of the same event, or two subscriptions) are shared: treat
// them as read-only.
//
// Queueing never makes the connection's reader wait: events that find
// Events' buffer full wait in an overflow queue in memory, which Queued
// counts, up to Options.MaxQueued events and Options.MaxQueuedBytes bytes
// (see "Events and slow consumers" in the package documentation).
type Subscription struct {
	c          *Client
	ch         chan Event
	limit      int // most events held (ch plus queue); 0 for no limit
	limitBytes int // most bytes held (Message.MemSize); 0 for no limit

	mu      sync.Mutex // guards the fields below; never held while waiting
	queue   []Event    // events waiting for room in ch, oldest first
	pumping bool       // a pump goroutine is moving queue into ch
	// held is the memory of the events in ch and queue: sizes has the
	// size of each event put into ch, oldest first, until it is seen to
	// have left (settleLocked).
	held     int
	sizes    []int
	ending   bool // nothing more is queued; ch closes after queue
	chClosed bool
	err      error

	// Guarded by c.mu.
	names []string // the events routed to us
	cn    *conn    // connection holding our references
}

// Subscribe registers for the named events and queues every one of them
// from then on, whether or not a command is running. Registration is
// reference-counted per connection: however many subscriptions and
// streams want an event, the daemon sees one EVENT_REGISTER, and one
// EVENT_UNREGISTER once nobody does. An event the daemon does not know
// (EVENT_UNKNOWN) gives an error wrapping ErrUnknownEvent, and nothing is
// subscribed.
func (c *Client) Subscribe(ctx context.Context, events ...string) (*Subscription, error) {
	names, err := eventNames(events)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, errors.New("vici: Subscribe needs at least one event name")
	}
	s := &Subscription{c: c, ch: make(chan Event, c.opts.EventBuffer), limit: c.opts.MaxQueued, limitBytes: c.opts.MaxQueuedBytes}
	if err := s.add(ctx, names); err != nil {
		s.finish(nil)
		return nil, err
	}
	return s, nil
}

// eventNames checks event names and drops repeats.
func eventNames(events []string) ([]string, error) {
	var names []string
	for _, name := range events {
		if why := checkName(name); why != "" {
			return nil, &ProtocolError{Path: printableName(name), Reason: "invalid event name: " + why}
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names, nil
}

// Add registers more events for s, in one go with the events it already
// has, so their order among each other is the daemon's. Events s already
// has are ignored. On failure (an unknown event, ctx ending, the
// connection lost) none of the new events is added.
func (s *Subscription) Add(ctx context.Context, events ...string) error {
	names, err := eventNames(events)
	if err != nil || len(names) == 0 {
		return err
	}
	return s.add(ctx, names)
}

func (s *Subscription) add(ctx context.Context, names []string) error {
	c := s.c
	if s.ended() {
		return errors.New("vici: the subscription is closed")
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	cn, err := c.acquire(ctx, "subscribe")
	for err != nil {
		if ctx.Err() != nil {
			return err
		}
		switch queued, retry := s.addWhileDown(names); {
		case queued:
			return nil
		case !retry:
			return err
		}
		cn, err = c.acquire(ctx, "subscribe")
	}
	defer cn.release()
	// Join the routing table before registering, so no event that
	// follows the confirmation can miss us.
	var added, need []string
	c.mu.Lock()
	if c.cn != cn || cn.err != nil {
		c.mu.Unlock()
		return cn.closedErr()
	}
	if s.cn == nil {
		s.cn = cn
	}
	for _, name := range names {
		if slices.Contains(s.names, name) {
			continue
		}
		added = append(added, name)
		s.names = append(s.names, name)
		c.subs[name] = append(slices.Clip(c.subs[name]), s)
		cn.refs[name]++
		if !cn.onWire[name] {
			need = append(need, name)
		}
	}
	c.mu.Unlock()
	for _, name := range need {
		rep, err := cn.roundTrip(ctx, pktEventRegister, name)
		if err == nil && rep.typ == pktEventUnknown {
			err = unknownEvent(name)
		}
		if err != nil {
			s.Remove(added...)
			var ne *nameError
			if errors.As(err, &ne) {
				return err // already names the event
			}
			return opErr(fmt.Sprintf("subscribe %q", name), err)
		}
	}
	return nil
}

// addWhileDown joins the routing table for names while a reconnecting
// client has no connection: the redial registers them with the rest. It
// reports queued when it did, and retry when a connection has appeared
// meanwhile (take it and register as usual).
func (s *Subscription) addWhileDown(names []string) (queued, retry bool) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || !c.opts.Reconnect {
		return false, false
	}
	if c.cn != nil {
		return false, true
	}
	for _, name := range names {
		if !slices.Contains(s.names, name) {
			s.names = append(s.names, name)
			c.subs[name] = append(slices.Clip(c.subs[name]), s)
		}
	}
	return true, false
}

// Remove stops routing the named events to s. Events of these names that
// are already queued stay in the queue. The daemon is told later, without
// waiting, once no subscription or stream wants an event any more.
func (s *Subscription) Remove(events ...string) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range events {
		i := slices.Index(s.names, name)
		if i < 0 {
			continue
		}
		s.names = slices.Delete(s.names, i, i+1)
		list := c.subs[name]
		if j := slices.Index(list, s); j >= 0 {
			list = slices.Delete(slices.Clone(list), j, j+1)
			if len(list) == 0 {
				delete(c.subs, name)
			} else {
				c.subs[name] = list
			}
			if s.cn != nil {
				s.cn.refs[name]--
			}
		}
	}
	if s.cn != nil {
		s.cn.kickLocked()
	}
}

// Names returns the events routed to s.
func (s *Subscription) Names() []string {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return slices.Clone(s.names)
}

// Events returns the channel events arrive on. It is closed after Close,
// or when the client closes for good (then Err says why). With
// Options.Reconnect an Event with Reconnected set marks each redial.
func (s *Subscription) Events() <-chan Event { return s.ch }

// Queued returns how many events wait for the consumer: those in Events'
// buffer and those in the overflow queue behind it. It is a snapshot: an
// event the consumer is just being handed may still be counted.
func (s *Subscription) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ch) + len(s.queue)
}

// Close ends the subscription: its events are unregistered (once no other
// subscription or stream wants them) and Events is closed after the
// events already queued. Close does not wait for the daemon. Events still
// queued are kept for the consumer until it takes them or the Client is
// closed.
func (s *Subscription) Close() error {
	s.closeWith(nil)
	return nil
}

// Err says why Events was closed, if it was not by Close: the client was
// closed, the connection was lost without Reconnect, the daemon refused
// to register the event again after a reconnect, or the consumer fell
// more than Options.MaxQueued events behind (ErrOverflow).
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// closeWith ends the subscription because of err.
func (s *Subscription) closeWith(err error) {
	s.Remove(s.Names()...)
	s.finish(err)
}

func (s *Subscription) ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ending
}

// finish stops queueing, recording err; Events closes once what is
// queued has gone out.
func (s *Subscription) finish(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ending {
		return
	}
	s.ending, s.err = true, err
	if !s.pumping {
		s.closeChLocked()
	}
}

func (s *Subscription) closeChLocked() {
	if !s.chClosed {
		s.chClosed = true
		close(s.ch)
	}
}

// deliver queues ev. It never waits: when Events' buffer is full, ev goes
// to the overflow queue, which a pump goroutine moves on in order. A
// consumer more than limit events or limitBytes bytes behind ends the
// subscription with ErrOverflow. The caller (the reader or the reconnect
// goroutine) is counted in c.wg, which makes adding the pump to it safe.
func (s *Subscription) deliver(ev Event) {
	size := 0
	if ev.Message != nil {
		size = ev.Message.MemSize()
	}
	s.mu.Lock()
	if s.ending {
		s.mu.Unlock()
		return
	}
	s.settleLocked()
	if s.limit > 0 && len(s.ch)+len(s.queue) >= s.limit || s.limitBytes > 0 && s.held+size > s.limitBytes {
		s.ending = true
		s.err = &overflowError{limit: s.limit, limitBytes: s.limitBytes, bytes: s.limit <= 0 || len(s.ch)+len(s.queue) < s.limit}
		if !s.pumping {
			s.closeChLocked()
		}
		s.mu.Unlock()
		s.Remove(s.Names()...)
		return
	}
	s.held += size
	if !s.pumping {
		select {
		case s.ch <- ev:
			s.sizes = append(s.sizes, size)
			s.mu.Unlock()
			return
		default:
		}
	}
	s.queue = append(s.queue, ev)
	start := !s.pumping
	s.pumping = true
	s.mu.Unlock()
	if start {
		s.c.wg.Add(1)
		go s.pump()
	}
}

// settleLocked forgets the sizes of the events the consumer has taken
// from ch: they are the oldest. An event the pump has put into ch but not
// yet recorded only makes the count high for a moment.
func (s *Subscription) settleLocked() {
	gone := len(s.sizes) - len(s.ch)
	for _, n := range s.sizes[:max(gone, 0)] {
		s.held -= n
	}
	if gone > 0 {
		s.sizes = append(s.sizes[:0], s.sizes[gone:]...)
	}
}

// pump moves the overflow queue into Events, oldest first, and ends when
// the queue is empty. When the client is closed it drops the rest.
func (s *Subscription) pump() {
	defer s.c.wg.Done()
	done := s.c.ctx.Done()
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.queue = nil // let a grown backing array go
			s.pumping = false
			if s.ending {
				s.closeChLocked()
			}
			s.mu.Unlock()
			return
		}
		ev := s.queue[0]
		s.mu.Unlock()
		select {
		case s.ch <- ev:
			s.mu.Lock()
			s.queue[0] = Event{}
			s.queue = s.queue[1:]
			size := 0
			if ev.Message != nil {
				size = ev.Message.MemSize()
			}
			s.sizes = append(s.sizes, size)
			s.mu.Unlock()
		case <-done:
			s.mu.Lock()
			s.queue = nil
			s.mu.Unlock()
		}
	}
}

// overflowError ends a subscription whose consumer fell too far behind.
type overflowError struct {
	limit, limitBytes int
	bytes             bool // the byte limit was reached, not the count
}

func (e *overflowError) Error() string {
	if e.bytes {
		return fmt.Sprintf("vici: events of more than %d bytes were queued for a subscription whose consumer did not take them; it was ended (Options.MaxQueuedBytes)", e.limitBytes)
	}
	return fmt.Sprintf("vici: %d events were queued for a subscription whose consumer did not take them; it was ended (Options.MaxQueued)", e.limit)
}

func (e *overflowError) Unwrap() error { return ErrOverflow }

// shutdownSubs ends every subscription with err.
func (c *Client) shutdownSubs(err error) {
	c.mu.Lock()
	var all []*Subscription
	for _, list := range c.subs {
		for _, s := range list {
			if !slices.Contains(all, s) {
				all = append(all, s)
			}
		}
	}
	c.mu.Unlock()
	for _, s := range all {
		s.closeWith(err)
	}
}
