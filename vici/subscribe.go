package vici

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Event is one event delivered to a Subscription.
type Event struct {
	Name        string   // event name, e.g. "ike-updown"; "" when Reconnected
	Message     *Message // the event's message; nil when Reconnected
	Reconnected bool     // the client redialled; state may have changed unseen
}

// Subscription queues the events it was registered for, in the order the
// daemon sent them. Messages handed to several consumers (a stream and a
// subscription of the same event, or two subscriptions) are shared: treat
// them as read-only.
type Subscription struct {
	c     *Client
	names []string
	ch    chan Event
	stopc chan struct{} // closed when the subscription ends
	once  sync.Once

	sendMu   sync.Mutex // serialises delivery with closing ch
	chClosed bool

	errMu sync.Mutex // separate from sendMu, which a blocked delivery holds
	err   error

	cn *conn // connection holding our references; guarded by c.mu
}

// Subscribe registers for the named events and queues every one of them
// from then on, whether or not a command is running. Registration is
// reference-counted per connection: however many subscriptions and
// streams want an event, the daemon sees one EVENT_REGISTER, and one
// EVENT_UNREGISTER once nobody does. An event the daemon does not know
// (EVENT_UNKNOWN) gives an error wrapping ErrUnknownEvent, and nothing is
// subscribed.
func (c *Client) Subscribe(ctx context.Context, events ...string) (*Subscription, error) {
	var names []string
	for _, name := range events {
		if why := checkName(name); why != "" {
			return nil, &ProtocolError{Path: printableName(name), Reason: "invalid event name: " + why}
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, errors.New("vici: Subscribe needs at least one event name")
	}
	cn, err := c.acquire(ctx, "subscribe")
	if err != nil {
		return nil, err
	}
	s := &Subscription{
		c:     c,
		names: names,
		ch:    make(chan Event, c.opts.EventBuffer),
		stopc: make(chan struct{}),
		cn:    cn,
	}
	// Join the routing table before registering, so no event that
	// follows the confirmation can miss us.
	var need []string
	c.mu.Lock()
	for _, name := range names {
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
			s.detach()
			cn.release()
			s.finish(nil)
			var ne *nameError
			if errors.As(err, &ne) {
				return nil, err // already names the event
			}
			return nil, opErr(fmt.Sprintf("subscribe %q", name), err)
		}
	}
	cn.release()
	return s, nil
}

// Events returns the channel events arrive on. It is closed after Close,
// or when the client closes for good (then Err says why). With
// Options.Reconnect an Event with Reconnected set marks each redial.
func (s *Subscription) Events() <-chan Event { return s.ch }

// Close ends the subscription: its events are unregistered (once no other
// subscription or stream wants them) and Events is closed after the
// events already queued. Close does not wait for the daemon.
func (s *Subscription) Close() error {
	s.detach()
	s.finish(nil)
	return nil
}

// Err says why Events was closed, if it was not by Close: the client was
// closed, the connection was lost without Reconnect, or the daemon refused
// to register the event again after a reconnect.
func (s *Subscription) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// detach leaves the routing table and drops the references.
func (s *Subscription) detach() {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range s.names {
		list := c.subs[name]
		if i := slices.Index(list, s); i >= 0 {
			list = slices.Delete(slices.Clone(list), i, i+1)
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
		s.cn = nil
	}
}

// closeWith ends the subscription because of err.
func (s *Subscription) closeWith(err error) {
	s.detach()
	s.finish(err)
}

// finish closes the channel once, recording err.
func (s *Subscription) finish(err error) {
	s.once.Do(func() {
		s.errMu.Lock()
		s.err = err
		s.errMu.Unlock()
		close(s.stopc) // frees a delivery blocked on a full queue
		s.sendMu.Lock()
		s.chClosed = true
		close(s.ch)
		s.sendMu.Unlock()
	})
}

// deliver queues ev, waiting while the queue is full. It reports false
// only when done was closed while waiting.
func (s *Subscription) deliver(ev Event, done <-chan struct{}) bool {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.chClosed {
		return true
	}
	select {
	case s.ch <- ev:
		return true
	case <-s.stopc:
		return true
	case <-done:
		return false
	}
}

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
