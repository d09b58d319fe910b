// Package recording saves what a vicish session exchanges with its
// daemons (vicish --record FILE) and reads it back, so that a fake daemon
// can answer as the real one did (d.replay in vicish test). A recording is
// JSON lines, one a command or an event:
//
//	{"uri": "unix:///var/run/charon.vici", "seq": 1, "command": "list-sas",
//	 "request": {...}, "stream": [{...}, ...], "reply": {...}}
//	{"uri": "...", "seq": 2, "command": "get-algs", "unknown": true}
//	{"uri": "...", "after": 1, "event": "ike-updown", "data": {...}}
//
// seq numbers the commands in the order they were sent, over all the
// session's connections; an event's after is the number of commands sent
// before it arrived. A message keeps its order; a value that is not UTF-8
// is written {"$base64": "..."}. Values pass through a redaction (the
// runtime's known secrets) on the way to the file. The connections are
// observed on the wire, below the engine, so the recording holds what the
// daemon said, not what a script made of it.
package recording

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/vicish/vicish/internal/readfile"
	"github.com/vicish/vicish/starlarkvici"
	"github.com/vicish/vicish/vici"
	"github.com/vicish/vicish/vici/vicitest"
)

// Item is one line of a recording: a command with its answer, or an
// event.
type Item struct {
	URI string
	// A command: its sequence number, name and request; the entries it
	// streamed and its reply, or Unknown when the daemon did not know it.
	Seq     int
	Command string
	Request *vici.Message
	Stream  []*vici.Message
	Reply   *vici.Message
	Unknown bool
	// An event: its name and message, and how many commands had been
	// sent when it came.
	Event string
	Data  *vici.Message
	After int
}

// Recorder writes a recording of every connection its Dial makes.
type Recorder struct {
	mu     sync.Mutex
	w      io.Writer
	redact func(string) string
	seq    int   // commands sent so far
	err    error // the first write error
}

// New returns a Recorder writing to w. redact is applied to every value
// written (nil: none); it may be set later with SetRedact, before the
// first connection.
func New(w io.Writer, redact func(string) string) *Recorder {
	if redact == nil {
		redact = func(s string) string { return s }
	}
	return &Recorder{w: w, redact: redact}
}

// SetRedact sets the redaction of values.
func (r *Recorder) SetRedact(redact func(string) string) {
	r.mu.Lock()
	r.redact = redact
	r.mu.Unlock()
}

// Err returns the first error writing the recording.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Dial is a vici.Options.Dial: it connects as the engine would
// (vici.DialTransport) and records what crosses the connection.
func (r *Recorder) Dial(ctx context.Context, uri string) (net.Conn, error) {
	nc, err := vici.DialTransport(ctx, uri, vici.Options{})
	if err != nil {
		return nil, err
	}
	return &conn{Conn: nc, r: r, uri: uri}, nil
}

// conn records the packets written and read on a connection.
type conn struct {
	net.Conn
	r   *Recorder
	uri string

	wmu, rmu sync.Mutex
	out, in  bytes.Buffer // bytes of segments not complete yet

	mu      sync.Mutex
	pending []*Item // commands sent, awaiting their answer, in order
}

func (c *conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	c.out.Write(b)
	c.segments(&c.out, c.sent)
	c.wmu.Unlock()
	return c.Conn.Write(b)
}

func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.rmu.Lock()
		c.in.Write(b[:n])
		c.segments(&c.in, c.received)
		c.rmu.Unlock()
	}
	return n, err
}

// segments hands every complete segment in buf to fn.
func (c *conn) segments(buf *bytes.Buffer, fn func(vicitest.Packet)) {
	for buf.Len() >= 4 {
		n := int(binary.BigEndian.Uint32(buf.Bytes()))
		if buf.Len() < 4+n {
			return
		}
		seg := buf.Next(4 + n)[4:]
		if p, err := vicitest.ParsePacket(seg); err == nil {
			fn(p)
		}
	}
}

// sent records a packet the client sent.
func (c *conn) sent(p vicitest.Packet) {
	if p.Type != vicitest.CmdRequest {
		return
	}
	c.r.mu.Lock()
	c.r.seq++
	it := &Item{URI: c.uri, Seq: c.r.seq, Command: p.Name, Request: p.Message}
	c.r.mu.Unlock()
	c.mu.Lock()
	c.pending = append(c.pending, it)
	c.mu.Unlock()
}

// received records a packet the daemon sent.
func (c *conn) received(p vicitest.Packet) {
	c.mu.Lock()
	var cur *Item
	if len(c.pending) > 0 {
		cur = c.pending[0]
	}
	switch p.Type {
	case vicitest.CmdResponse, vicitest.CmdUnknown:
		if cur == nil {
			c.mu.Unlock()
			return
		}
		c.pending = c.pending[1:]
		c.mu.Unlock()
		cur.Reply, cur.Unknown = p.Message, p.Type == vicitest.CmdUnknown
		c.r.write(cur)
	case vicitest.Event:
		if cur != nil && p.Name == streamEvent(cur.Command) {
			cur.Stream = append(cur.Stream, p.Message)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		c.r.mu.Lock()
		after := c.r.seq
		c.r.mu.Unlock()
		c.r.write(&Item{URI: c.uri, Event: p.Name, Data: p.Message, After: after})
	default:
		c.mu.Unlock()
	}
}

// streamEvent is the event command streams its listing as ("" none).
func streamEvent(command string) string {
	for _, c := range starlarkvici.Commands() {
		if c.Wire == command && c.Streamed() {
			return c.Event
		}
	}
	return ""
}

// write writes one item as a line.
func (r *Recorder) write(it *Item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b bytes.Buffer
	b.WriteString(`{"uri":`)
	encodeString(&b, it.URI)
	if it.Event != "" {
		fmt.Fprintf(&b, `,"after":%d,"event":`, it.After)
		encodeString(&b, it.Event)
		b.WriteString(`,"data":`)
		encodeMessage(&b, orEmpty(it.Data), r.redact)
	} else {
		fmt.Fprintf(&b, `,"seq":%d,"command":`, it.Seq)
		encodeString(&b, it.Command)
		b.WriteString(`,"request":`)
		encodeMessage(&b, orEmpty(it.Request), r.redact)
		if it.Unknown {
			b.WriteString(`,"unknown":true`)
		} else {
			if len(it.Stream) > 0 {
				b.WriteString(`,"stream":[`)
				for i, m := range it.Stream {
					if i > 0 {
						b.WriteByte(',')
					}
					encodeMessage(&b, m, r.redact)
				}
				b.WriteByte(']')
			}
			b.WriteString(`,"reply":`)
			encodeMessage(&b, orEmpty(it.Reply), r.redact)
		}
	}
	b.WriteString("}\n")
	if _, err := r.w.Write(b.Bytes()); err != nil && r.err == nil {
		r.err = err
	}
}

func orEmpty(m *vici.Message) *vici.Message {
	if m == nil {
		return vici.NewMessage()
	}
	return m
}

// line is one line of a recording as JSON.
type line struct {
	URI     string            `json:"uri"`
	Seq     int               `json:"seq"`
	Command string            `json:"command"`
	Request json.RawMessage   `json:"request"`
	Stream  []json.RawMessage `json:"stream"`
	Reply   json.RawMessage   `json:"reply"`
	Unknown bool              `json:"unknown"`
	Event   string            `json:"event"`
	Data    json.RawMessage   `json:"data"`
	After   int               `json:"after"`
}

// Load reads the recording at path.
func Load(path string) ([]Item, error) {
	b, err := readfile.Read(path, readfile.DefaultLimit)
	if err != nil {
		return nil, err
	}
	var items []Item
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, len(b)+1)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		it, err := parseLine(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		items = append(items, it)
	}
	return items, sc.Err()
}

func parseLine(b []byte) (Item, error) {
	var l line
	if err := json.Unmarshal(b, &l); err != nil {
		return Item{}, err
	}
	it := Item{URI: l.URI, Seq: l.Seq, Command: l.Command, Unknown: l.Unknown, Event: l.Event, After: l.After}
	msg := func(raw json.RawMessage, what string) (*vici.Message, error) {
		if raw == nil {
			return vici.NewMessage(), nil
		}
		m, err := decodeMessage(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", what, err)
		}
		return m, nil
	}
	var err error
	switch {
	case l.Event != "":
		it.Data, err = msg(l.Data, "data")
	case l.Command != "":
		if it.Request, err = msg(l.Request, "request"); err != nil {
			return it, err
		}
		for i, raw := range l.Stream {
			m, err := msg(raw, fmt.Sprintf("stream entry %d", i+1))
			if err != nil {
				return it, err
			}
			it.Stream = append(it.Stream, m)
		}
		it.Reply, err = msg(l.Reply, "reply")
	default:
		err = fmt.Errorf("neither a command nor an event")
	}
	return it, err
}
