// Package vicitest is a scriptable fake VICI server for testing clients
// against faults a real charon never produces: truncated or oversized
// frames, garbage, odd packet types, split or merged segments, replies
// that come late or never. For normal behaviour, test against a real
// daemon instead.
//
// A test makes a Server, dials its URI, takes the server side of the
// connection with Accept and then reads and writes packets, raw bytes or
// both. Serve runs a small daemon loop for tests that only need some
// commands and events to behave normally.
package vicitest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"

	"github.com/vicish/vicish/vici"
)

// Packet types of the VICI packet layer.
const (
	CmdRequest      = 0
	CmdResponse     = 1
	CmdUnknown      = 2
	EventRegister   = 3
	EventUnregister = 4
	EventConfirm    = 5
	EventUnknown    = 6
	Event           = 7
)

// Packet is one VICI packet.
type Packet struct {
	Type    uint8
	Name    string        // for the named types: 0, 3, 4 and 7
	Message *vici.Message // for CMD_REQUEST, CMD_RESPONSE and EVENT; nil for none
}

// TB is what a Server needs of a test: testing.TB has it. Taking the
// interface keeps package testing out of programs that serve fake
// daemons without a Server (vicish test, with NewConn and Daemon).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	TempDir() string
	Cleanup(func())
}

// Server listens on a Unix socket in a test's temporary directory.
type Server struct {
	t     TB
	path  string
	mu    sync.Mutex
	ln    *net.UnixListener
	conns chan *Conn
}

// NewServer starts listening; the test's cleanup stops it.
func NewServer(t TB) *Server {
	t.Helper()
	s := &Server{t: t, path: filepath.Join(t.TempDir(), "charon.vici"), conns: make(chan *Conn, 16)}
	s.Listen()
	t.Cleanup(s.Stop)
	return s
}

// URI is the unix:// URI clients dial.
func (s *Server) URI() string { return "unix://" + s.path }

// Listen (re)starts listening on the same path after Stop.
func (s *Server) Listen() {
	s.t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: s.path, Net: "unix"})
	if err != nil {
		s.t.Fatalf("vicitest: listen: %v", err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns <- NewConn(nc)
		}
	}()
}

// Stop closes the listener (removing the socket file); connections
// already accepted stay open.
func (s *Server) Stop() {
	s.mu.Lock()
	ln := s.ln
	s.ln = nil
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
}

// Accept returns the server side of the next client connection, waiting
// for one.
func (s *Server) Accept() *Conn {
	c := <-s.conns
	s.t.Cleanup(func() { c.Close() })
	return c
}

// Conn is the server side of one client connection.
type Conn struct {
	nc  net.Conn
	br  *bufio.Reader
	wmu sync.Mutex
}

// NewConn makes nc, the daemon's side of a connection a client made some
// other way (a socket pair, a vici.Options.Dial hook), a Conn.
func NewConn(nc net.Conn) *Conn { return &Conn{nc: nc, br: bufio.NewReader(nc)} }

// Read reads one packet from the client.
func (c *Conn) Read() (Packet, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return Packet{}, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > vici.MaxPacketSize {
		return Packet{}, fmt.Errorf("vicitest: client sent a segment of %d bytes", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.br, buf); err != nil {
		return Packet{}, err
	}
	return ParsePacket(buf)
}

// ParsePacket decodes a packet from a segment's body (the bytes after
// its length header).
func ParsePacket(buf []byte) (Packet, error) {
	if len(buf) == 0 {
		return Packet{}, errors.New("vicitest: empty segment")
	}
	p := Packet{Type: buf[0]}
	rest := buf[1:]
	if named(p.Type) {
		if len(rest) == 0 || int(rest[0])+1 > len(rest) {
			return Packet{}, errors.New("vicitest: bad packet name")
		}
		p.Name = string(rest[1 : 1+int(rest[0])])
		rest = rest[1+int(rest[0]):]
	}
	if p.Type == CmdRequest || p.Type == CmdResponse || p.Type == Event {
		p.Message = vici.NewMessage()
		if err := p.Message.UnmarshalBinary(rest); err != nil {
			return Packet{}, err
		}
	} else if len(rest) != 0 {
		return Packet{}, fmt.Errorf("vicitest: %d stray bytes after packet type %d", len(rest), p.Type)
	}
	return p, nil
}

func named(t uint8) bool {
	return t == CmdRequest || t == EventRegister || t == EventUnregister || t == Event
}

// Frame encodes p as a whole segment, length header included.
func Frame(p Packet) []byte {
	body := []byte{p.Type}
	if named(p.Type) {
		body = append(body, byte(len(p.Name)))
		body = append(body, p.Name...)
	}
	if p.Message != nil {
		b, err := p.Message.MarshalBinary()
		if err != nil {
			panic("vicitest: " + err.Error())
		}
		body = append(body, b...)
	}
	return RawFrame(body)
}

// RawFrame prefixes body with its 32-bit length.
func RawFrame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// Write sends packets, each as its own write.
func (c *Conn) Write(ps ...Packet) error {
	for _, p := range ps {
		if err := c.WriteRaw(Frame(p)); err != nil {
			return err
		}
	}
	return nil
}

// WriteRaw sends bytes as they are.
func (c *Conn) WriteRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(b)
	return err
}

// Reply sends a CMD_RESPONSE.
func (c *Conn) Reply(m *vici.Message) error {
	return c.Write(Packet{Type: CmdResponse, Message: orEmpty(m)})
}

// Event sends an EVENT.
func (c *Conn) Event(name string, m *vici.Message) error {
	return c.Write(Packet{Type: Event, Name: name, Message: orEmpty(m)})
}

func orEmpty(m *vici.Message) *vici.Message {
	if m == nil {
		return vici.NewMessage()
	}
	return m
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Handler answers one command. It may send events with c.Event first. It
// returns the reply, nil to answer CMD_UNKNOWN, or NoReply to send
// nothing more.
type Handler func(c *Conn, req *vici.Message) *vici.Message

// Daemon is a minimal well-behaved daemon for Serve.
type Daemon struct {
	Commands map[string]Handler
	Events   []string // event names it accepts registrations for
	// OnRegister, if set, is called (in a goroutine of its own) each time
	// the daemon has confirmed a registration for event on c.
	OnRegister func(c *Conn, event string)

	mu         sync.Mutex
	registered map[string]int
	log        []Packet
}

// Registered reports how many registrations of event the daemon holds
// (charon counts duplicates, so more than one means duplicate delivery).
func (d *Daemon) Registered(event string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.registered[event]
}

// Received returns the packets received so far, in order.
func (d *Daemon) Received() []Packet {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Packet(nil), d.log...)
}

// Serve answers packets on c until it fails, and returns the error (io.EOF
// when the client hung up).
func (d *Daemon) Serve(c *Conn) error {
	for {
		p, err := c.Read()
		if err != nil {
			return err
		}
		d.mu.Lock()
		d.log = append(d.log, p)
		if d.registered == nil {
			d.registered = map[string]int{}
		}
		d.mu.Unlock()
		switch p.Type {
		case CmdRequest:
			h := d.Commands[p.Name]
			var rep *vici.Message
			if h != nil {
				rep = h(c, p.Message)
			}
			switch rep {
			case nil:
				err = c.Write(Packet{Type: CmdUnknown})
			case NoReply:
			default:
				err = c.Reply(rep)
			}
		case EventRegister, EventUnregister:
			known := false
			for _, e := range d.Events {
				known = known || e == p.Name
			}
			d.mu.Lock()
			if known && p.Type == EventRegister {
				d.registered[p.Name]++
			} else if known && d.registered[p.Name] > 0 {
				d.registered[p.Name]--
			} else {
				known = false
			}
			d.mu.Unlock()
			if known {
				err = c.Write(Packet{Type: EventConfirm})
				if err == nil && p.Type == EventRegister && d.OnRegister != nil {
					go d.OnRegister(c, p.Name)
				}
			} else {
				err = c.Write(Packet{Type: EventUnknown})
			}
		default:
			err = fmt.Errorf("vicitest: unexpected packet type %d from the client", p.Type)
		}
		if err != nil {
			return err
		}
	}
}
