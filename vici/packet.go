package vici

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// packetType is the first byte of every transport segment.
type packetType uint8

// The packet types of the VICI packet layer.
const (
	pktCmdRequest      packetType = 0 // named request message
	pktCmdResponse     packetType = 1 // unnamed response message
	pktCmdUnknown      packetType = 2 // unnamed: no such command
	pktEventRegister   packetType = 3 // named event registration
	pktEventUnregister packetType = 4 // named event deregistration
	pktEventConfirm    packetType = 5 // unnamed: (de)registration done
	pktEventUnknown    packetType = 6 // unnamed: no such event source
	pktEvent           packetType = 7 // named event message
)

var packetNames = [...]string{
	"CMD_REQUEST", "CMD_RESPONSE", "CMD_UNKNOWN", "EVENT_REGISTER",
	"EVENT_UNREGISTER", "EVENT_CONFIRM", "EVENT_UNKNOWN", "EVENT",
}

func (t packetType) String() string {
	if int(t) < len(packetNames) {
		return packetNames[t]
	}
	return fmt.Sprintf("packet type %d", uint8(t))
}

// named reports whether packets of type t carry a name after the type.
func (t packetType) named() bool {
	return t == pktCmdRequest || t == pktEventRegister || t == pktEventUnregister || t == pktEvent
}

// encodePacket builds a whole transport segment, length header included,
// for a packet of type t with the given name (named types only) and message
// (request types only; nil for none). All limits are checked first.
func encodePacket(t packetType, name string, msg *Message) ([]byte, error) {
	head := 1
	if t.named() {
		if why := checkName(name); why != "" {
			return nil, &ProtocolError{Path: printableName(name), Reason: fmt.Sprintf("invalid %s name: %s", t, why)}
		}
		head += 1 + len(name)
	}
	body := 0
	if msg != nil {
		n, err := encodedLen(msg, MaxPacketSize-head)
		if err != nil {
			if pe, ok := err.(*ProtocolError); ok && name != "" {
				pe.Reason += fmt.Sprintf(" (in the %q request)", name)
			}
			return nil, err
		}
		body = n
	}
	b := make([]byte, 4, 4+head+body)
	binary.BigEndian.PutUint32(b, uint32(head+body))
	b = append(b, byte(t))
	if t.named() {
		b = append(b, byte(len(name)))
		b = append(b, name...)
	}
	if msg != nil {
		b = appendMessage(b, msg)
	}
	return b, nil
}

// packet is one decoded inbound packet. body is the raw message (for
// CMD_RESPONSE and EVENT), decoded lazily by the reader. Each packet has a
// buffer of its own, seg, that nothing writes to while the packet or its
// decoded message is in use: name and the decoded message's names and
// values point into it.
type packet struct {
	typ  packetType
	name string
	body []byte
	seg  []byte // the whole segment: type, name and body
}

// readPacket reads one segment from r and splits it into a packet. The
// segment goes into spare when it fits there (spare's contents are
// overwritten), else into a new buffer. A length header over MaxPacketSize
// is refused before anything is allocated. Errors from r are returned as
// they are (io.EOF at a segment boundary, io.ErrUnexpectedEOF inside one);
// framing faults are *ProtocolError.
func readPacket(r *bufio.Reader, spare []byte) (packet, error) {
	// Peeked rather than read into an array, which would escape to the
	// heap through io.ReadFull's io.Reader: one allocation a packet.
	hdr, err := r.Peek(4)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF) && len(hdr) > 0:
		return packet{}, io.ErrUnexpectedEOF
	default:
		return packet{}, err
	}
	n := binary.BigEndian.Uint32(hdr)
	r.Discard(4)
	if n > MaxPacketSize {
		return packet{}, &ProtocolError{Reason: fmt.Sprintf("peer announced a segment of %d bytes, over the %d byte limit", n, MaxPacketSize)}
	}
	if n == 0 {
		return packet{}, &ProtocolError{Reason: "peer sent a zero-length segment"}
	}
	// A new buffer gets the capacity the allocator rounds n up to anyway,
	// so that a recycled one takes the most later segments.
	buf := slices.Grow(spare[:0], int(n))[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return packet{}, err
	}
	p := packet{typ: packetType(buf[0]), seg: buf}
	rest := buf[1:]
	if p.typ.named() {
		if len(rest) == 0 {
			return packet{}, &ProtocolError{Reason: fmt.Sprintf("%s packet without a name", p.typ)}
		}
		l := int(rest[0])
		if 1+l > len(rest) {
			return packet{}, &ProtocolError{Reason: fmt.Sprintf("%s packet name of %d bytes overruns the %d byte segment", p.typ, l, n)}
		}
		if l == 0 {
			return packet{}, &ProtocolError{Path: printableName(""), Reason: fmt.Sprintf("%s packet: %s", p.typ, checkName(""))}
		}
		p.name = bytesString(rest, 1, l) // buf is the packet's own (see packet)
		if why := checkName(p.name); why != "" {
			return packet{}, &ProtocolError{Path: printableName(p.name), Reason: fmt.Sprintf("%s packet: %s", p.typ, why)}
		}
		rest = rest[1+l:]
	}
	p.body = rest
	return p, nil
}
