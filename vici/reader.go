package vici

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

func (c *Client) startReader(cn *conn) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		cn.die(cn.read())
	}()
}

// read is the connection's only reader. It returns why it stopped.
func (cn *conn) read() error {
	br := newReader(cn.nc)
	var (
		dec   decoder   // scratch space reused for every message
		held  batch     // stream entries not yet handed over
		pool  *recycler // the current stream's released entries, or nil
		spare *tree     // taken from pool: the next packet goes into it
	)
	for {
		// Held entries go out before the reader could wait for the socket.
		if len(held.msgs) > 0 && !packetBuffered(br) && !cn.flush(&held) {
			return errClientClosed
		}
		if spare == nil && pool != nil {
			spare = pool.get()
		}
		var into []byte
		if spare != nil {
			into = spare.seg
		}
		p, err := readPacket(br, into)
		if err != nil {
			cn.flush(&held) // what came before the failure still counts
			return err
		}
		switch p.typ {
		case pktEvent:
			msg, err := dec.decode(p.body, spare)
			if err != nil {
				cn.flush(&held)
				return fmt.Errorf("in %q event: %w", p.name, err)
			}
			msg.t.seg, spare = p.seg, nil
			sk, ok := cn.dispatch(p.name, msg, &held)
			if !ok {
				return errClientClosed
			}
			if sk != nil {
				pool = &sk.spare
			}
		case pktCmdResponse, pktCmdUnknown, pktEventConfirm, pktEventUnknown:
			// A streamed command's events all go before its reply.
			if !cn.flush(&held) {
				return errClientClosed
			}
			if err := cn.answer(p, &dec, spare); err != nil {
				return err
			}
			// The reply ends a stream; an unused spare may stay.
			pool = nil
			if p.typ == pktCmdResponse {
				spare = nil // the reply is in it
			}
		default:
			// Request types (which only clients send) and types newer
			// than this package carry nothing for us. Between commands
			// they are skipped, for forward compatibility; where an
			// answer belongs the peer has broken the protocol, and
			// waiting on would hang the command.
			if err := cn.unexpected(p); err != nil {
				cn.flush(&held)
				return err
			}
		}
	}
}

// batch is a streamed command's entries that the reader holds back while
// whole packets are already buffered, to hand them over in one go.
type batch struct {
	sk   *sink
	msgs []*Message
}

// dispatch hands an event to the active stream, if it asked for this
// event, and to every subscription of the name. An entry for the stream is
// added to held, which is handed over when it is full and (see read)
// before the reader may wait for the socket. Subscriptions never make the
// reader wait (their queues overflow into memory), so a command awaiting
// its reply is never stuck behind a consumer. An entry handed to the
// stream alone may be released to the stream's recycler (see
// Message.Release). It returns the stream's sink, if it got the event, and
// false when the client was closed while the stream's consumer was slow.
func (cn *conn) dispatch(name string, msg *Message, held *batch) (*sink, bool) {
	c := cn.c
	c.mu.Lock()
	var sk *sink
	if r := cn.cur; r != nil && r.stream != nil && r.stream.event == name {
		sk = r.stream
	}
	subs := c.subs[name]
	c.mu.Unlock()
	if sk != nil {
		if len(subs) == 0 {
			msg.t.pool = &sk.spare
		}
		if sk.inline != nil {
			sk.inline.call(msg)
		} else {
			if held.sk != sk && !cn.flush(held) {
				return sk, false
			}
			held.sk = sk
			held.msgs = append(held.msgs, msg)
			if len(held.msgs) == streamBatch && !cn.flush(held) {
				return sk, false
			}
		}
	}
	if len(subs) == 0 {
		return sk, true
	}
	ev := Event{Name: name, Message: msg, Received: time.Now()}
	for _, s := range subs {
		s.deliver(ev)
	}
	return sk, true
}

// flush hands the held entries to their stream, waiting while its queue is
// full; entries for a stream whose caller left are dropped. It reports
// false when the client was closed while waiting.
func (cn *conn) flush(held *batch) bool {
	if len(held.msgs) == 0 {
		return true
	}
	sk, msgs := held.sk, held.msgs
	*held = batch{}
	select {
	case sk.ch <- msgs:
	case <-sk.gone:
	case <-cn.c.ctx.Done():
		return false
	}
	return true
}

// packetBuffered reports whether a whole packet is waiting in br, so that
// reading it will not block.
func packetBuffered(br *bufio.Reader) bool {
	n := br.Buffered()
	if n < 4 {
		return false
	}
	hdr, err := br.Peek(4)
	return err == nil && n-4 >= int(binary.BigEndian.Uint32(hdr))
}

// unexpected returns a protocol error when a request awaits its answer.
func (cn *conn) unexpected(p packet) error {
	cn.c.mu.Lock()
	defer cn.c.mu.Unlock()
	if r := cn.cur; r != nil {
		return &ProtocolError{Reason: fmt.Sprintf("%s where the answer to %s %q belongs", p.typ, r.typ, r.name)}
	}
	return nil
}

// answer matches an answer packet with the request awaiting it.
func (cn *conn) answer(p packet, dec *decoder, spare *tree) error {
	c := cn.c
	c.mu.Lock()
	r := cn.cur
	if r == nil {
		c.mu.Unlock()
		return &ProtocolError{Reason: fmt.Sprintf("unsolicited %s: no request was waiting for it", p.typ)}
	}
	isCmd := p.typ == pktCmdResponse || p.typ == pktCmdUnknown
	if isCmd != (r.typ == pktCmdRequest) {
		c.mu.Unlock()
		return &ProtocolError{Reason: fmt.Sprintf("%s in answer to %s %q", p.typ, r.typ, r.name)}
	}
	cn.cur = nil
	switch {
	case r.typ == pktEventRegister && p.typ == pktEventConfirm:
		cn.onWire[r.name] = true
	case r.typ == pktEventUnregister:
		cn.onWire[r.name] = false
	}
	free := r.readerFrees
	if free {
		cn.kickLocked()
	}
	c.mu.Unlock()

	rep := reply{typ: p.typ}
	if p.typ == pktCmdResponse {
		rep.msg, rep.err = dec.decode(p.body, spare)
		if rep.err == nil {
			rep.msg.t.seg = p.seg
		} else {
			rep.err = fmt.Errorf("malformed reply: %w", rep.err)
		}
	}
	r.reply <- rep
	if free {
		<-cn.sem
	}
	return nil
}

// die ends the connection: the request in flight fails, and the client
// either reconnects or closes its subscriptions.
func (cn *conn) die(readErr error) {
	c := cn.c
	c.mu.Lock()
	cause := cn.cause
	if cause == nil {
		cause = readErr
		cn.cause = cause
	}
	closing := c.closed || cause == errClientClosed
	if closing {
		cn.err = &connError{uri: c.uri, state: stateClosed}
	} else {
		cn.err = &connError{uri: c.uri, state: stateLost, cause: cause}
	}
	r := cn.cur
	cn.cur = nil
	current := c.cn == cn
	if current {
		c.cn = nil
		c.downErr = cause
		if c.isUp {
			c.up, c.isUp = make(chan struct{}), false
		}
	}
	reconnect := current && !closing && c.opts.Reconnect
	if reconnect {
		c.wg.Add(1)
	}
	c.mu.Unlock()

	cn.nc.Close()
	close(cn.dead)
	if r != nil {
		r.reply <- reply{err: cn.err}
	}
	switch {
	case reconnect:
		go c.reconnect()
	case current && !closing:
		c.shutdownSubs(cn.err)
	}
}

// reconnect redials with backoff until it succeeds or the client is
// closed, re-registers the subscribed events and tells each subscription.
func (c *Client) reconnect() {
	defer c.wg.Done()
	backoff := minBackoff
	for {
		t := time.NewTimer(backoff)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-c.nudge: // Ready wants it now
			t.Stop()
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
		nc, err := dialConn(c.ctx, c.uri, c.opts)
		if err != nil {
			c.mu.Lock()
			c.redialErr = err
			c.mu.Unlock()
			continue
		}
		cn := c.newConn(nc)
		cn.sem <- struct{}{} // ours until the registrations are back

		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			nc.Close()
			return
		}
		var subs []*Subscription
		seen := map[*Subscription]bool{}
		for name, list := range c.subs {
			for _, s := range list {
				cn.refs[name]++
				if !seen[s] {
					seen[s] = true
					s.cn = cn
					subs = append(subs, s)
				}
			}
		}
		// Commands may queue for the wire from now on; they go out once
		// the registrations are back.
		c.cn, c.downErr, c.redialErr = cn, nil, nil
		c.mu.Unlock()
		c.startReader(cn)

		// Tell subscribers first, so the notice comes before any event
		// of the new connection.
		notice := Event{Reconnected: true, Received: time.Now()}
		for _, s := range subs {
			s.deliver(notice)
		}
		// If the new connection fails meanwhile, its reader starts the
		// next round of reconnecting.
		c.reregister(cn)
		cn.release()
		c.mu.Lock()
		if c.cn == cn && !c.isUp {
			close(c.up)
			c.isUp = true
		}
		c.mu.Unlock()
		return
	}
}

// reregister registers every event still wanted on a fresh connection.
// Subscriptions whose event the daemon no longer knows are closed with the
// error. It stops if the connection fails.
func (c *Client) reregister(cn *conn) {
	c.mu.Lock()
	var names []string
	for name, n := range cn.refs {
		if n > 0 {
			names = append(names, name)
		}
	}
	c.mu.Unlock()
	for _, name := range names {
		rep, err := cn.roundTrip(c.ctx, pktEventRegister, name)
		if err != nil {
			return
		}
		if rep.typ == pktEventUnknown {
			uerr := unknownEvent(name)
			c.mu.Lock()
			list := append([]*Subscription(nil), c.subs[name]...)
			c.mu.Unlock()
			for _, s := range list {
				s.closeWith(uerr)
			}
		}
	}
}

func unknownEvent(name string) error {
	return &nameError{kind: ErrUnknownEvent, name: name,
		hint: "the daemon has no such event source; check the spelling and the daemon's version"}
}

// kickLocked starts a janitor that unregisters events nobody wants any
// more, unless one is running or there is nothing to do. c.mu is held.
func (cn *conn) kickLocked() {
	c := cn.c
	if cn.syncing || c.closed || cn.err != nil || cn.staleLocked() == "" {
		return
	}
	cn.syncing = true
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		select {
		case cn.sem <- struct{}{}:
		case <-cn.dead:
			c.mu.Lock()
			cn.syncing = false
			c.mu.Unlock()
			return
		}
		cn.unregisterStale(context.Background())
		c.mu.Lock()
		cn.syncing = false
		c.mu.Unlock()
		cn.release()
	}()
}

// staleLocked returns an event registered on the wire that nobody wants.
func (cn *conn) staleLocked() string {
	for name, on := range cn.onWire {
		if on && cn.refs[name] <= 0 {
			return name
		}
	}
	return ""
}

// unregisterStale sends EVENT_UNREGISTER for every stale registration.
// The caller holds the wire.
func (cn *conn) unregisterStale(ctx context.Context) error {
	for {
		cn.c.mu.Lock()
		name := cn.staleLocked()
		cn.c.mu.Unlock()
		if name == "" {
			return nil
		}
		if _, err := cn.roundTrip(ctx, pktEventUnregister, name); err != nil {
			return err
		}
	}
}
