// Package vici is a client for VICI, the control protocol of strongSwan's
// IKE daemon charon. It uses only the standard library.
//
// # Messages
//
// A Message is an ordered tree of key/values, lists and sections whose
// values are raw bytes, as on the wire: insertion order is kept both ways
// and binary values (a DER certificate) round-trip byte for byte.
// MarshalBinary and UnmarshalBinary check every protocol limit — names of
// 0 to 255 printable ASCII bytes (charon names its global counters
// section ""), values up to 65535 bytes, lists of items
// only, balanced sections, unique keys per section, at most MaxDepth
// nested sections, at most MaxPacketSize bytes per packet — and report a
// *ProtocolError naming the offending key path. Bad data never yields a
// partial message. The daemon treats some keys (noblock, drop, pass, trap)
// as on when present, whatever their value: use Message.SetFlag, which
// omits the key for off.
//
// # Connections and commands
//
// Dial connects to "unix:///path", "tcp://host:port" or a bare socket path
// (DefaultURI when empty). A Client is safe for concurrent use. One reader
// goroutine per connection reads every packet and routes it: a command's
// reply to the command waiting for it, events to the streamed command that
// asked for them and to subscriptions. The protocol has no request ids, so
// commands run one at a time on a connection, in the order they take it;
// use several Clients for parallel commands.
//
// "ssh://[user@]host[:port]/path/to/charon.vici" reaches the daemon's unix
// socket on another machine through the user's OpenSSH client and its
// settings (agent, keys, known_hosts, ~/.ssh/config with ProxyJump): Dial
// starts ssh forwarding a socket in a private temporary directory to the
// far one (BatchMode, so it never prompts; host keys are checked as the
// user's configuration says, and an unknown key is a failure), waits for
// it and checks with a "version" round trip that the daemon answers.
// Unknown or changed host keys, refused logins and a missing far socket
// are *DialError with what to do. Closing the Client ends ssh; a
// reconnecting Client starts a new one for each redial.
//
// Call runs a command. CallStream and Stream run the streamed ones
// (list-sas, list-conns, initiate with control-log, ...) and hand over the
// events as they arrive rather than collecting them, so a listing of any
// length needs constant memory: fewer than 48 decoded entries wait ahead
// of the consumer. The reader hands them over in batches of up to 16 while
// more packets are already buffered, and at once when it would otherwise
// wait for the socket, so batching never delays an entry; a Stream loop
// still sees one entry at a time. CallStreamInline spares the hand-over,
// which costs about as much as reading an entry: its callback, a quick
// conversion, runs on the reader's goroutine while the caller waits.
//
// The reader reads each packet into a buffer of its own, which nothing
// writes to while the message is in use: a message is the caller's to keep,
// and only one a stream's consumer gave back with Message.Release (having
// made its own copies of what it needs) has its memory reused, for the
// stream's next entries; a listing converted that way makes almost no
// garbage. Decoding checks the whole message in one pass and
// indexes its sections; names and values of the decoded message point into
// that buffer. Message.All walks a section's elements in place, allocating
// nothing, and every reader is built on it: Get, Lookup, Section, List,
// Keys; a Cursor does the same without an iterator's copies, for the
// Starlark conversion. The Entry values that Entries returns are
// built only when it is first called on any section of the message (or the
// message is changed), all at once, in one slab. So a received message
// costs a handful of allocations however many elements it has, and a
// consumer that walks it or reads a few keys never pays for Entry values.
// Decoded messages may be read from several goroutines at once.
//
// # Deadlines
//
// The package sets no deadline of its own: only the caller's context
// limits an operation, and Dial, Call, CallStream, Stream and Subscribe all
// take one. When a context ends while a command runs, the call returns at
// once with an error wrapping the context's error. The daemon still works
// on the command and will answer; that command keeps the connection until
// its late reply arrives, the reader discards the reply, and only then does
// the next command go out. The connection therefore never hands one
// command's reply to another. A daemon-side limit, such as initiate's
// "timeout" key, is often the better tool. Note that charon silently drops
// a reply larger than 512 KiB (a huge get-pools with leases, say): such a
// command never completes, so give it a context with a deadline.
//
// # Events and slow consumers
//
// Subscribe registers events and queues every one of them, in order, while
// commands run and between them. Registration is counted per event name
// and connection, so a subscription and a stream of the same event cause
// one EVENT_REGISTER, and the last user to leave causes one
// EVENT_UNREGISTER. Subscription.Add and Remove change the events of a
// subscription in place, keeping one queue in the daemon's order.
//
// Delivering an event never makes the reader wait, so no consumer, however
// slow or busy (issuing commands, registering more events from inside its
// loop), can hold up a reply: each subscription's Events channel buffers
// Options.EventBuffer events (256 by default) and the rest wait in an
// overflow queue in memory, in order. Subscription.Queued says how many
// are waiting. A consumer that falls more than Options.MaxQueued events
// (65536 by default) or Options.MaxQueuedBytes bytes (64 MiB by default,
// counted with Message.MemSize) behind loses its subscription, with Err
// wrapping ErrOverflow, rather than the process running out of memory. Nothing is
// dropped short of that. Had the reader waited instead, the events would
// have piled up in charon (which queues what it cannot send, without
// limit) and commands on the connection would have stalled.
//
// Streamed commands are the one place the reader waits: it hands a
// streamed command's entries to CallStream's callback as it consumes them,
// so the reply follows the last entry. The callback must therefore not
// issue commands on the same Client, nor wait for events of its
// subscriptions.
//
// # Errors
//
// Errors can be matched with errors.Is and errors.As: ErrUnknownCommand
// (CMD_UNKNOWN), ErrUnknownEvent (EVENT_UNKNOWN), *CommandError (a reply
// with success = no; the reply is returned as well), ErrProtocol and
// *ProtocolError (malformed or out-of-limit data), ErrClosed (no
// connection; the error also names the URI and wraps the cause) and
// *DialError (with a hint on what to check).
//
// A malformed reply fails only its command; the connection stays usable,
// since the segment boundaries are intact. Malformed framing, a malformed
// event or an answer nobody asked for ends the connection. Packet types a
// client has no use for (request types, types newer than this package)
// are skipped between commands, but where a command's answer belongs they
// end the connection too, at once, rather than leave the command waiting.
//
// # Reconnecting
//
// By default a lost connection is final: commands in flight and later ones
// fail with an error wrapping ErrClosed, and subscriptions' channels are
// closed with Subscription.Err saying why. With Options.Reconnect the
// client redials with backoff (100 ms doubling to 5 s) until it succeeds
// or Close is called. Meanwhile commands fail at once with an error
// wrapping ErrClosed that says the client is reconnecting; Client.Ready
// waits for the connection instead (and cuts the backoff short), and
// Subscribe succeeds, its events being registered with the others once
// the client is back. Connecting makes such a client before its first
// connection, for a daemon that is down now. Once connected,
// every subscription receives an Event with Reconnected set, before any
// event of the new connection, and its events are registered again;
// events raised while disconnected are lost, so a subscriber should resync
// (for example with list-sas) when it sees the notice.
package vici
