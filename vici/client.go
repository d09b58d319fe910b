package vici

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options tune a Client. The zero value is ready to use.
type Options struct {
	// Reconnect makes the client redial, with backoff, after the daemon
	// closes the connection, re-register the subscribed events and send
	// every Subscription an Event with Reconnected set. Commands issued
	// while it is disconnected fail at once with an error wrapping
	// ErrClosed. Without Reconnect a lost connection closes the client.
	Reconnect bool
	// EventBuffer is the capacity of each Subscription's Events channel.
	// Events that find it full wait in an overflow queue in memory; the
	// reader never waits for a consumer. Zero or less means 256.
	EventBuffer int
	// SSHCommand is the OpenSSH client command line ssh:// URIs start,
	// e.g. {"ssh", "-F", "/etc/vicish/ssh_config"}; vicish adds the
	// forwarding options and the destination. Empty means the words of
	// the VICI_SSH_COMMAND environment variable, else "ssh".
	SSHCommand []string
	// MaxQueued is the most events a Subscription holds for a consumer
	// that does not take them (buffer and overflow together). One more
	// ends the subscription with an error wrapping ErrOverflow rather
	// than letting memory grow without bound. Zero means 65536; less
	// than zero means no limit.
	MaxQueued int
	// MaxQueuedBytes is the most memory, in bytes, the events a
	// Subscription holds may take (Message.MemSize: a received message
	// keeps its encoding and a small index), counted like MaxQueued. One
	// more event ends the subscription with an error wrapping ErrOverflow.
	// Zero means 64 MiB; less than zero means no limit.
	MaxQueuedBytes int
	// Timeout, when positive, bounds every Call, CallStream, Stream and
	// Subscribe (and Subscription.Add) besides their ctx: the earlier of
	// the two ends the operation. It is for handing a client to code that
	// only passes a context along (a library applying a whole
	// configuration) while keeping a per-command limit.
	Timeout time.Duration
	// Dial, if set, makes every connection (the first and each redial)
	// instead of the transport the URI names: it is given the context
	// bounding the attempt and the URI, already checked by ParseURI. A
	// host uses it to put something else behind a URI, as vicish test
	// puts fake daemons behind the URIs a runbook dials. Its error is
	// wrapped in a *DialError.
	Dial func(ctx context.Context, uri string) (net.Conn, error)
}

const (
	defaultEventBuffer = 256
	defaultMaxQueued   = 65536
	defaultMaxBytes    = 64 << 20
	streamBatch        = 16 // decoded stream entries handed over at most at once
	streamBuffer       = 1  // batches queued ahead of the caller
	minBackoff         = 100 * time.Millisecond
	maxBackoff         = 5 * time.Second
)

// Client is a connection to charon's vici socket. It is safe for use by
// many goroutines: commands run one at a time on the wire, in the order
// they take the connection, while one reader goroutine routes responses to
// the waiting command and events to streams and subscriptions.
type Client struct {
	uri  string
	opts Options
	ctx  context.Context // ends when Close is called
	stop context.CancelFunc
	wg   sync.WaitGroup // reader, reconnect and janitor goroutines

	mu        sync.Mutex
	cn        *conn // nil while reconnecting and after Close
	closed    bool
	downErr   error                      // why cn is nil
	redialErr error                      // why the last redial failed
	subs      map[string][]*Subscription // by event name; slices are copy-on-write
	up        chan struct{}              // closed while connected with registrations in place
	isUp      bool                       // up is closed
	nudge     chan struct{}              // makes a waiting redial try at once
}

// conn is one dialled connection. A reconnecting Client makes a new one.
type conn struct {
	c    *Client
	nc   net.Conn
	sem  chan struct{} // holding it means owning the wire for one operation
	dead chan struct{} // closed once the reader has stopped

	wmu         sync.Mutex // guards writing/interrupted
	writing     bool
	interrupted bool

	// Guarded by c.mu.
	cur     *request        // the request awaiting its answer
	refs    map[string]int  // how many subscriptions and streams want an event
	onWire  map[string]bool // events the daemon has registered for us
	syncing bool            // a janitor goroutine is unregistering stale events
	cause   error           // why the connection ended, once known
	err     error           // the error handed to callers once it ended
}

// request is one packet sent that expects an answer.
type request struct {
	typ       packetType
	name      string
	stream    *sink      // a streamed command's event sink, or nil
	reply     chan reply // buffered: the reader never waits on it
	abandoned bool       // the caller left; its answer will be discarded
	// readerFrees: the holder released the wire while the answer was
	// still due, so the reader frees the wire when it arrives.
	readerFrees bool
}

type reply struct {
	typ packetType
	msg *Message
	err error
}

// sink carries a streamed command's events to its caller, in batches.
type sink struct {
	event string
	ch    chan []*Message
	gone  chan struct{} // closed when the caller stops consuming
	spare recycler      // the entries the caller released
	// CallStreamInline's: the reader calls it instead of handing the
	// entries over.
	inline *inlineFn
}

// Dial connects to the daemon at uri ("" means DefaultURI) with default
// Options. Only ctx bounds the attempt; the client keeps no deadline.
func Dial(ctx context.Context, uri string) (*Client, error) {
	return DialOptions(ctx, uri, Options{})
}

// DialOptions connects to the daemon at uri ("" means DefaultURI). A
// failure is a *DialError whose message says what to check.
func DialOptions(ctx context.Context, uri string, opts Options) (*Client, error) {
	uri, opts, err := prepare(uri, opts)
	if err != nil {
		return nil, err
	}
	nc, err := dialConn(ctx, uri, opts)
	if err != nil {
		return nil, err
	}
	return newClient(nc, uri, opts), nil
}

// Connecting returns a client for uri ("" means DefaultURI) that is not
// connected yet: it dials in the background, at once and then with the
// backoff of Options.Reconnect (which it implies), until it succeeds or
// Close is called; a daemon that is down now is watched from when it comes
// up. Meanwhile commands fail at once with an error wrapping ErrClosed that
// says the client is reconnecting, Ready waits for the connection, and
// Subscribe succeeds, the events being registered once connected. The
// first connection counts as a redial: subscriptions get an Event with
// Reconnected set. Only a malformed uri is an error.
func Connecting(uri string, opts Options) (*Client, error) {
	opts.Reconnect = true
	uri, opts, err := prepare(uri, opts)
	if err != nil {
		return nil, err
	}
	c := bareClient(uri, opts)
	c.up, c.isUp = make(chan struct{}), false
	c.downErr = errNotYet
	c.nudge <- struct{}{} // the first attempt goes at once
	c.wg.Add(1)
	go c.reconnect()
	return c, nil
}

var errNotYet = errors.New("not connected yet")

// prepare checks uri and fills in the defaults of opts.
func prepare(uri string, opts Options) (string, Options, error) {
	if uri == "" {
		uri = DefaultURI
	}
	if _, _, err := ParseURI(uri); err != nil {
		return "", opts, err // says the URI is malformed; nothing was dialled
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = defaultEventBuffer
	}
	switch {
	case opts.MaxQueued == 0:
		opts.MaxQueued = defaultMaxQueued
	case opts.MaxQueued < 0:
		opts.MaxQueued = 0 // no limit
	}
	switch {
	case opts.MaxQueuedBytes == 0:
		opts.MaxQueuedBytes = defaultMaxBytes
	case opts.MaxQueuedBytes < 0:
		opts.MaxQueuedBytes = 0 // no limit
	}
	return uri, opts, nil
}

// bareClient makes a client without a connection.
func bareClient(uri string, opts Options) *Client {
	c := &Client{uri: uri, opts: opts, subs: map[string][]*Subscription{},
		up: make(chan struct{}), isUp: true, nudge: make(chan struct{}, 1)}
	close(c.up)
	c.ctx, c.stop = context.WithCancel(context.Background())
	return c
}

// newClient starts a client on a connected nc.
func newClient(nc net.Conn, uri string, opts Options) *Client {
	c := bareClient(uri, opts)
	c.cn = c.newConn(nc)
	c.startReader(c.cn)
	return c
}

func (c *Client) newConn(nc net.Conn) *conn {
	return &conn{
		c:      c,
		nc:     nc,
		sem:    make(chan struct{}, 1),
		dead:   make(chan struct{}),
		refs:   map[string]int{},
		onWire: map[string]bool{},
	}
}

// URI returns the URI the client dials.
func (c *Client) URI() string { return c.uri }

// Close closes the connection and stops reconnecting. Commands in flight
// fail with an error wrapping ErrClosed, subscriptions' channels are
// closed, and every goroutine the client started has ended when Close
// returns. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cn := c.cn
	c.mu.Unlock()
	c.stop()
	if cn != nil {
		cn.closeWith(errClientClosed)
	}
	c.wg.Wait()
	c.shutdownSubs(&connError{uri: c.uri, state: stateClosed})
	return nil
}

var errClientClosed = errors.New("closed by Close")

// Ready waits until the client has a working connection. It returns at
// once while connected. While a client with Options.Reconnect is
// redialling, Ready makes the next attempt start now, without waiting for
// the backoff, and returns once the connection is back and the subscribed
// events are registered again: a command issued then reaches the daemon.
// It fails at once when the client is closed or, without Reconnect, has
// lost its connection, and when ctx ends.
func (c *Client) Ready(ctx context.Context) error {
	for {
		c.mu.Lock()
		if c.isUp && c.cn != nil {
			c.mu.Unlock()
			return nil
		}
		if c.closed || !c.opts.Reconnect {
			err := c.downState()
			c.mu.Unlock()
			return err
		}
		up := c.up
		c.mu.Unlock()
		select {
		case c.nudge <- struct{}{}:
		default:
		}
		select {
		case <-up:
		case <-c.ctx.Done():
		case <-ctx.Done():
			return ctxError(ctx, "ready", "while reconnecting to "+c.uri)
		}
	}
}

// Call runs one command and returns its reply. A reply with success = no
// comes back together with a *CommandError; CMD_UNKNOWN gives an error
// wrapping ErrUnknownCommand. When ctx ends first Call returns at once with
// an error wrapping ctx's error; the command keeps the wire until its late
// reply arrives, which is then discarded, so the connection stays in sync.
func (c *Client) Call(ctx context.Context, command string, req *Message) (*Message, error) {
	pkt, err := encodePacket(pktCmdRequest, command, orEmpty(req))
	if err != nil {
		return nil, err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	cn, err := c.acquire(ctx, command)
	if err != nil {
		return nil, err
	}
	defer cn.release()
	r := newRequest(pktCmdRequest, command, nil)
	if err := cn.send(ctx, r, pkt); err != nil {
		return nil, err
	}
	rep, err := cn.wait(ctx, r)
	if err != nil {
		return nil, err
	}
	return commandResult(command, rep)
}

// bound applies Options.Timeout to ctx.
func (c *Client) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.opts.Timeout > 0 {
		return context.WithTimeout(ctx, c.opts.Timeout)
	}
	return ctx, func() {}
}

func orEmpty(m *Message) *Message {
	if m == nil {
		return NewMessage()
	}
	return m
}

func newRequest(t packetType, name string, s *sink) *request {
	return &request{typ: t, name: name, stream: s, reply: make(chan reply, 1)}
}

// commandResult turns a command's answer into Call's results.
func commandResult(command string, rep reply) (*Message, error) {
	if rep.err != nil {
		return nil, opErr(command, rep.err)
	}
	if rep.typ == pktCmdUnknown {
		return nil, &nameError{kind: ErrUnknownCommand, name: command,
			hint: "the daemon has no handler for it; check the spelling and the daemon's version"}
	}
	if rep.msg.Get("success") == "no" {
		return rep.msg, &CommandError{Command: command, Errmsg: rep.msg.Get("errmsg"), Reply: rep.msg}
	}
	return rep.msg, nil
}

// nameError is an unknown command or event; it wraps the matching sentinel.
type nameError struct {
	kind error
	name string
	hint string
}

func (e *nameError) Error() string { return fmt.Sprintf("vici: %v %q: %s", e.kind, e.name, e.hint) }
func (e *nameError) Unwrap() error { return e.kind }

// acquire takes the wire of the current connection for one operation.
func (c *Client) acquire(ctx context.Context, what string) (*conn, error) {
	c.mu.Lock()
	cn, down := c.cn, c.downState()
	c.mu.Unlock()
	if cn == nil {
		return nil, down
	}
	select {
	case cn.sem <- struct{}{}:
		select {
		case <-cn.dead:
			<-cn.sem
			return nil, cn.closedErr()
		default:
		}
		// Registrations nobody wants any more go first, so the wire
		// order follows the order of the calls that caused them.
		if err := cn.unregisterStale(ctx); err != nil {
			cn.release()
			return nil, opErr(what+": while unregistering events no longer wanted", err)
		}
		return cn, nil
	case <-cn.dead:
		return nil, cn.closedErr()
	case <-ctx.Done():
		return nil, ctxError(ctx, what, "while waiting for the connection")
	}
}

// downState explains why there is no connection. c.mu must be held.
func (c *Client) downState() error {
	if c.closed {
		return &connError{uri: c.uri, state: stateClosed}
	}
	if c.opts.Reconnect {
		return &connError{uri: c.uri, state: stateReconnecting, cause: c.downErr, redial: c.redialErr}
	}
	return &connError{uri: c.uri, state: stateLost, cause: c.downErr}
}

// opError puts an operation's name in front of an error from below,
// keeping a single "vici: " prefix.
type opError struct {
	op  string
	err error
}

func opErr(op string, err error) error { return &opError{op: op, err: err} }

func (e *opError) Error() string {
	return "vici: " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "vici: ")
}

func (e *opError) Unwrap() error { return e.err }

func ctxError(ctx context.Context, what, when string) error {
	return fmt.Errorf("vici: %s: %w (%s)", what, context.Cause(ctx), when)
}

// release gives the wire back, unless an abandoned request is still
// waiting for its answer: then it hands the wire to the reader, which frees
// it when the answer arrives. The choice is made under c.mu, like the
// reader's, so exactly one of them frees the wire however they interleave.
func (cn *conn) release() {
	cn.c.mu.Lock()
	r := cn.cur
	handOff := r != nil && r.abandoned
	if handOff {
		r.readerFrees = true
	}
	cn.c.mu.Unlock()
	if !handOff {
		<-cn.sem
	}
}

// send writes one request packet; the caller holds the wire. If ctx ends
// before any byte is written the request is withdrawn; if it ends in the
// middle of the packet the connection is closed, since the stream could
// not be resynchronised.
func (cn *conn) send(ctx context.Context, r *request, pkt []byte) error {
	if ctx.Err() != nil {
		return ctxError(ctx, r.name, "before the request was sent")
	}
	cn.c.mu.Lock()
	if cn.err != nil {
		cn.c.mu.Unlock()
		return cn.err
	}
	cn.cur = r
	cn.c.mu.Unlock()

	stop := context.AfterFunc(ctx, func() {
		cn.wmu.Lock()
		if cn.writing {
			cn.interrupted = true
			cn.nc.SetWriteDeadline(time.Unix(1, 0))
		}
		cn.wmu.Unlock()
	})
	cn.wmu.Lock()
	cn.writing = true
	cn.wmu.Unlock()
	n, err := cn.nc.Write(pkt)
	cn.wmu.Lock()
	cn.writing = false
	interrupted := cn.interrupted
	if interrupted {
		cn.interrupted = false
		cn.nc.SetWriteDeadline(time.Time{})
	}
	cn.wmu.Unlock()
	stop()
	if err == nil {
		return nil
	}
	if interrupted && n == 0 {
		cn.c.mu.Lock()
		if cn.cur == r {
			cn.cur = nil
		}
		cn.c.mu.Unlock()
		return ctxError(ctx, r.name, "before the request was sent")
	}
	if interrupted {
		err = fmt.Errorf("%w; the request was cut off half-written, so the connection was closed", context.Cause(ctx))
	}
	cn.closeWith(err)
	<-r.reply // the reader fails the request once it sees the close
	return cn.closedErr()
}

// wait waits for r's answer. If ctx ends first, r is abandoned: the
// reader discards the answer when it comes and then frees the wire.
func (cn *conn) wait(ctx context.Context, r *request) (reply, error) {
	select {
	case rep := <-r.reply:
		return rep, nil
	case <-ctx.Done():
		if cn.abandon(r) {
			return reply{}, ctxError(ctx, r.name, "the daemon still works on it; its late reply will be discarded")
		}
		return <-r.reply, nil
	}
}

// abandon marks r as abandoned if it still awaits its answer.
func (cn *conn) abandon(r *request) bool {
	cn.c.mu.Lock()
	defer cn.c.mu.Unlock()
	if cn.cur == r {
		r.abandoned = true
		return true
	}
	return false
}

// closeWith closes the connection, remembering why.
func (cn *conn) closeWith(cause error) {
	cn.c.mu.Lock()
	if cn.cause == nil {
		cn.cause = cause
	}
	cn.c.mu.Unlock()
	cn.nc.Close()
}

// closedErr is the error for operations on a connection that has ended.
func (cn *conn) closedErr() error {
	cn.c.mu.Lock()
	defer cn.c.mu.Unlock()
	if cn.err != nil {
		return cn.err
	}
	return &connError{uri: cn.c.uri, state: stateLost, cause: cn.cause}
}

// roundTrip sends an unnamed-answer request (registration) and waits.
func (cn *conn) roundTrip(ctx context.Context, t packetType, name string) (reply, error) {
	pkt, err := encodePacket(t, name, nil)
	if err != nil {
		return reply{}, err
	}
	r := newRequest(t, name, nil)
	if err := cn.send(ctx, r, pkt); err != nil {
		return reply{}, err
	}
	rep, err := cn.wait(ctx, r)
	if err == nil && rep.err != nil {
		err = rep.err
	}
	return rep, err
}

// Connection states named in connError messages.
const (
	stateLost         = "lost"
	stateClosed       = "closed"
	stateReconnecting = "reconnecting"
)

// connError is every "no connection" failure. It wraps ErrClosed and the
// cause, so errors.Is works for both.
type connError struct {
	uri    string
	state  string
	cause  error
	redial error // the last failed redial, when reconnecting
}

func (e *connError) Error() string {
	switch e.state {
	case stateClosed:
		return fmt.Sprintf("vici: client for %s is closed", e.uri)
	case stateReconnecting:
		msg := fmt.Sprintf("vici: not connected to %s; reconnecting", e.uri)
		if errors.Is(e.cause, errNotYet) {
			msg = fmt.Sprintf("vici: not connected to %s yet; connecting", e.uri)
		} else if e.cause != nil {
			msg += " (connection lost: " + describeCause(e.cause) + ")"
		}
		if e.redial != nil {
			msg += "; last attempt: " + e.redial.Error()
		}
		return msg
	}
	return fmt.Sprintf("vici: connection to %s lost: %s", e.uri, describeCause(e.cause))
}

func (e *connError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrClosed}
	}
	return []error{ErrClosed, e.cause}
}

func describeCause(err error) string {
	switch {
	case err == nil:
		return "unknown cause"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET):
		return err.Error() + " (the daemon closed the connection; did charon stop or restart?)"
	case errors.Is(err, ErrProtocol):
		return err.Error() + " (the connection was dropped because the peer broke the protocol)"
	}
	return err.Error()
}
