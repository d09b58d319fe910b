package vici

import (
	"context"
	"errors"
	"fmt"
	"iter"
)

// CallStream runs a streamed command: it registers event (unless this
// connection already has it registered, see Subscribe), sends the command,
// and calls fn on the caller's goroutine, in order, for every event raised
// until the command's reply, which it returns like Call. Examples:
// "list-sas" with "list-sa", "list-conns" with "list-conn", "initiate"
// with "control-log".
//
// If fn returns an error, CallStream returns it at once; the rest of the
// stream is drained and discarded by the reader and the event unregistered,
// so the connection stays usable. When ctx ends it returns the same way
// with an error wrapping ctx's error. fn must not issue commands on the
// same Client: the stream owns the wire until its reply.
func (c *Client) CallStream(ctx context.Context, command, event string, req *Message,
	fn func(*Message) error) (*Message, error) {
	pkt, err := encodePacket(pktCmdRequest, command, orEmpty(req))
	if err != nil {
		return nil, err
	}
	if why := checkName(event); why != "" {
		return nil, &ProtocolError{Path: printableName(event), Reason: "invalid event name: " + why}
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	cn, err := c.acquire(ctx, command)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	cn.refs[event]++
	need := !cn.onWire[event]
	c.mu.Unlock()
	// done is the one way out once the event is referenced: it drops the
	// reference and gives the wire back. With inSync (the reply came, the
	// wire is ours) an unwanted registration is withdrawn at once;
	// otherwise a janitor does it when the wire is free again.
	done := func(inSync bool) {
		c.mu.Lock()
		cn.refs[event]--
		c.mu.Unlock()
		if inSync {
			cn.unregisterStale(ctx)
		}
		c.mu.Lock()
		cn.kickLocked() // whatever is still stale (or ctx ended meanwhile)
		c.mu.Unlock()
		cn.release()
	}
	if need {
		rep, err := cn.roundTrip(ctx, pktEventRegister, event)
		if err == nil && rep.typ == pktEventUnknown {
			err = unknownEvent(event)
		}
		if err != nil {
			done(false)
			return nil, opErr(fmt.Sprintf("%s: registering %q", command, event), err)
		}
	}

	sk := &sink{event: event, ch: make(chan []*Message, streamBuffer), gone: make(chan struct{})}
	r := newRequest(pktCmdRequest, command, sk)
	if err := cn.send(ctx, r, pkt); err != nil {
		done(false)
		return nil, err
	}
	// leave abandons the stream early: the reader discards the rest and
	// frees the wire when the reply comes.
	leave := func(err error) (*Message, error) {
		close(sk.gone)
		cn.abandon(r)
		done(false)
		return nil, err
	}
	var rep reply
	for finished := false; !finished; {
		select {
		case msgs := <-sk.ch:
			for _, m := range msgs {
				if ctx.Err() != nil {
					return leave(ctxError(ctx, command, "the rest of the stream will be discarded"))
				}
				if err := fn(m); err != nil {
					return leave(err)
				}
			}
		case rep = <-r.reply:
			finished = true
		case <-ctx.Done():
			return leave(ctxError(ctx, command, "the rest of the stream will be discarded"))
		}
	}
	// The reader queues every event before the reply: take what is left.
	var fnErr error
	for drained := false; !drained; {
		select {
		case msgs := <-sk.ch:
			for _, m := range msgs {
				if fnErr == nil {
					fnErr = fn(m)
				}
			}
		default:
			drained = true
		}
	}
	close(sk.gone)
	done(rep.err == nil)
	if fnErr != nil {
		return nil, fnErr
	}
	return commandResult(command, rep)
}

// errStopStream ends CallStream when an iterator's consumer breaks out.
var errStopStream = errors.New("stream stopped by its consumer")

// Stream is CallStream as an iterator: it yields each event's message with
// a nil error, holding one entry at a time. Breaking out of the loop early
// leaves the connection usable (the rest is drained, the event
// unregistered). If the command fails, the last pair yielded carries the
// error (with the reply, for a *CommandError); a successful reply is not
// yielded.
func (c *Client) Stream(ctx context.Context, command, event string, req *Message) iter.Seq2[*Message, error] {
	return func(yield func(*Message, error) bool) {
		reply, err := c.CallStream(ctx, command, event, req, func(m *Message) error {
			if !yield(m, nil) {
				return errStopStream
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopStream) {
			yield(reply, err)
		}
	}
}
