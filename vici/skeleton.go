package vici

import (
	"context"
	"errors"
	"iter"
)

// DefaultURI is the socket charon's vici plugin listens on by default.
const DefaultURI = "unix:///var/run/charon.vici"

var errTODO = errors.New("vici: not implemented yet")

// ParseURI splits a VICI socket URI into a network and an address for
// net.Dial: "unix:///path", "tcp://host:port" or a bare path. An empty uri
// means DefaultURI.
func ParseURI(uri string) (network, address string, err error) { return "", "", errTODO }

// MarshalBinary encodes the message in the VICI wire format, checking every
// protocol limit.
func (m *Message) MarshalBinary() ([]byte, error) { return nil, errTODO }

// UnmarshalBinary decodes b, replacing m's contents. On error m is left
// unchanged and the error is a *ProtocolError.
func (m *Message) UnmarshalBinary(b []byte) error { return errTODO }

// DialError is a failure to connect to the daemon's socket.
type DialError struct {
	URI string
	Err error
}

func (e *DialError) Error() string { return "vici: dial " + e.URI + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *DialError) Unwrap() error { return e.Err }

// Options tune a Client.
type Options struct {
	Reconnect   bool
	EventBuffer int
}

// Client is a connection to the daemon.
type Client struct{ uri string }

// Dial connects to uri ("" means DefaultURI) with default options.
func Dial(ctx context.Context, uri string) (*Client, error) {
	return DialOptions(ctx, uri, Options{})
}

// DialOptions connects to uri with opts.
func DialOptions(ctx context.Context, uri string, opts Options) (*Client, error) {
	return nil, errTODO
}

// URI returns the URI the client dialled.
func (c *Client) URI() string { return c.uri }

// Close closes the connection.
func (c *Client) Close() error { return errTODO }

// Call runs one command.
func (c *Client) Call(ctx context.Context, command string, req *Message) (*Message, error) {
	return nil, errTODO
}

// CallStream runs a streamed command.
func (c *Client) CallStream(ctx context.Context, command, event string, req *Message, fn func(*Message) error) (*Message, error) {
	return nil, errTODO
}

// Stream is CallStream as an iterator.
func (c *Client) Stream(ctx context.Context, command, event string, req *Message) iter.Seq2[*Message, error] {
	return func(yield func(*Message, error) bool) { yield(nil, errTODO) }
}

// Event is one event delivered to a Subscription.
type Event struct {
	Name        string
	Message     *Message
	Reconnected bool
}

// Subscription receives events.
type Subscription struct{}

// Subscribe registers events.
func (c *Client) Subscribe(ctx context.Context, events ...string) (*Subscription, error) {
	return nil, errTODO
}

// Events returns the event channel.
func (s *Subscription) Events() <-chan Event { return nil }

// Close unregisters.
func (s *Subscription) Close() error { return errTODO }

// Err reports why Events was closed.
func (s *Subscription) Err() error { return nil }
