package vici

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
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
//
// Each message is fn's to keep. A consumer that only turns each entry into
// values of its own may call m.Release when done with it, and the client
// then reads later entries into its memory (see Message.Release).
func (c *Client) CallStream(ctx context.Context, command, event string, req *Message,
	fn func(*Message) error) (*Message, error) {
	return c.callStream(ctx, command, event, req, fn, false)
}

// CallStreamInline is CallStream for a quick fn that only turns each entry
// into values of its own (a conversion): fn runs on the client's reader
// goroutine as each entry is decoded, while the caller's goroutine waits
// for the reply. That spares handing every entry over between two
// goroutines, which costs about as much as reading it. The caller's
// goroutine is blocked meanwhile, so fn may use what the caller's does
// (without locks), and the values it made are the caller's once
// CallStreamInline returns; fn is never called after that.
//
// fn must not block nor wait for anything: while it runs nothing is read
// from the connection, so the subscriptions of the Client get no events.
// It must not issue commands on the same Client. A panic in fn is raised
// again on the caller's goroutine. Errors, ctx and Release work as for
// CallStream.
func (c *Client) CallStreamInline(ctx context.Context, command, event string, req *Message,
	fn func(*Message) error) (*Message, error) {
	return c.callStream(ctx, command, event, req, fn, true)
}

// callStream is CallStream, with fn called by the reader when inline.
func (c *Client) callStream(ctx context.Context, command, event string, req *Message,
	fn func(*Message) error, inline bool) (*Message, error) {
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
	if inline {
		sk.inline = &inlineFn{fn: fn, failed: make(chan struct{})}
	}
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
	if inline {
		return sk.inline.wait(ctx, command, r, leave, func(rep reply) (*Message, error) {
			close(sk.gone)
			done(rep.err == nil)
			return commandResult(command, rep)
		})
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
// yielded. The loop may release each message as CallStream's fn may.
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

// inlineFn is CallStreamInline's fn, which the reader calls.
type inlineFn struct {
	fn       func(*Message) error
	failed   chan struct{} // closed by the reader when fn failed
	mu       sync.Mutex    // held by the reader while fn runs
	stopped  bool          // fn is not to be called any more
	err      error         // what fn returned when it failed
	panicked any           // what fn panicked with, if it did
	didPanic bool
}

// call runs fn on m for the reader, unless the caller stopped: the first
// failure stops the stream and wakes the caller.
func (f *inlineFn) call(m *Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			f.panicked, f.didPanic, f.stopped = v, true, true
			close(f.failed)
		}
	}()
	if err := f.fn(m); err != nil {
		f.err, f.stopped = err, true
		close(f.failed)
	}
}

// stop makes sure fn is not running and will not be called again, and
// reports how it failed, if it did.
func (f *inlineFn) stop() (panicked any, didPanic bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	return f.panicked, f.didPanic, f.err
}

// wait is the caller's side of a CallStreamInline: it waits for the reply,
// fn's failure or ctx's end, whichever comes first.
func (f *inlineFn) wait(ctx context.Context, command string, r *request,
	leave func(error) (*Message, error), finish func(reply) (*Message, error)) (*Message, error) {
	var rep reply
	replied := false
	select {
	case rep = <-r.reply:
		replied = true
	case <-f.failed:
	case <-ctx.Done():
	}
	// Every entry came before the reply, so fn is done with them; it may
	// have failed on one meanwhile.
	panicked, didPanic, err := f.stop()
	switch {
	case didPanic:
		leave(nil)
		panic(panicked)
	case err != nil:
		return leave(err)
	case !replied: // ctx ended
		return leave(ctxError(ctx, command, "the rest of the stream will be discarded"))
	}
	return finish(rep)
}
