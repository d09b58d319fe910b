package lab

// A deliberately tiny VICI client for the lab's own needs (readiness checks
// and bulk loading). The project's real engine lives in package vici; the
// lab does not depend on it so that it can test it.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// VICI packet and message element types.
const (
	pktCmdRequest  = 0
	pktCmdResponse = 1
	pktCmdUnknown  = 2
	elSectionStart = 1
	elSectionEnd   = 2
	elKeyValue     = 3
	elListStart    = 4
	elListItem     = 5
	elListEnd      = 6
)

// viciMsg builds an encoded VICI message.
type viciMsg struct{ b []byte }

func (m *viciMsg) name(s string) {
	m.b = append(m.b, byte(len(s)))
	m.b = append(m.b, s...)
}

func (m *viciMsg) value(s string) {
	m.b = binary.BigEndian.AppendUint16(m.b, uint16(len(s)))
	m.b = append(m.b, s...)
}

func (m *viciMsg) kv(k, v string) {
	m.b = append(m.b, elKeyValue)
	m.name(k)
	m.value(v)
}

func (m *viciMsg) begin(section string) {
	m.b = append(m.b, elSectionStart)
	m.name(section)
}

func (m *viciMsg) end() { m.b = append(m.b, elSectionEnd) }

func (m *viciMsg) list(k string, items ...string) {
	m.b = append(m.b, elListStart)
	m.name(k)
	for _, it := range items {
		m.b = append(m.b, elListItem)
		m.value(it)
	}
	m.b = append(m.b, elListEnd)
}

// viciConn is one connection to a gateway's socket.
type viciConn struct{ c net.Conn }

// dialVici connects to a vici socket. charon's listen backlog is short, so a
// burst of connections may see EAGAIN; that is retried for a while.
func dialVici(ctx context.Context, socket string) (*viciConn, error) {
	var d net.Dialer
	for attempt := 0; ; attempt++ {
		c, err := d.DialContext(ctx, "unix", socket)
		if err == nil {
			return &viciConn{c: c}, nil
		}
		if !errors.Is(err, syscall.EAGAIN) || attempt >= 200 {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (vc *viciConn) Close() error { return vc.c.Close() }

// call sends a command and returns the top-level key/values of its reply.
// A reply with success=no becomes an error carrying errmsg.
func (vc *viciConn) call(ctx context.Context, cmd string, msg *viciMsg) (map[string]string, error) {
	if dl, ok := ctx.Deadline(); ok {
		vc.c.SetDeadline(dl)
	}
	pkt := []byte{0, 0, 0, 0, pktCmdRequest, byte(len(cmd))}
	pkt = append(pkt, cmd...)
	if msg != nil {
		pkt = append(pkt, msg.b...)
	}
	binary.BigEndian.PutUint32(pkt, uint32(len(pkt)-4))
	if _, err := vc.c.Write(pkt); err != nil {
		return nil, err
	}
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(vc.c, hdr[:]); err != nil {
			return nil, err
		}
		body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(vc.c, body); err != nil {
			return nil, err
		}
		if len(body) == 0 {
			return nil, errors.New("empty vici packet")
		}
		switch body[0] {
		case pktCmdUnknown:
			return nil, fmt.Errorf("charon does not know the vici command %q", cmd)
		case pktCmdResponse:
			kvs, err := topLevel(body[1:])
			if err != nil {
				return nil, fmt.Errorf("%s reply: %w", cmd, err)
			}
			if kvs["success"] == "no" {
				return kvs, fmt.Errorf("%s failed: %s", cmd, kvs["errmsg"])
			}
			return kvs, nil
		}
		// Anything else (events) is not for us; keep reading.
	}
}

// topLevel decodes a message and returns its top-level key/values.
func topLevel(b []byte) (map[string]string, error) {
	kvs := map[string]string{}
	r := bytes.NewReader(b)
	readName := func() (string, error) {
		n, err := r.ReadByte()
		if err != nil {
			return "", err
		}
		s := make([]byte, n)
		_, err = io.ReadFull(r, s)
		return string(s), err
	}
	readValue := func() (string, error) {
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return "", err
		}
		s := make([]byte, binary.BigEndian.Uint16(l[:]))
		_, err := io.ReadFull(r, s)
		return string(s), err
	}
	depth := 0
	for r.Len() > 0 {
		t, _ := r.ReadByte()
		var err error
		switch t {
		case elSectionStart:
			_, err = readName()
			depth++
		case elSectionEnd:
			depth--
		case elKeyValue:
			var k, v string
			if k, err = readName(); err == nil {
				if v, err = readValue(); err == nil && depth == 0 {
					kvs[k] = v
				}
			}
		case elListStart:
			_, err = readName()
		case elListItem:
			_, err = readValue()
		case elListEnd:
		default:
			return nil, fmt.Errorf("unknown element type %d", t)
		}
		if err != nil {
			return nil, fmt.Errorf("truncated message: %w", err)
		}
	}
	return kvs, nil
}

// viciVersion sends one "version" command and checks the reply names the
// daemon: the readiness probe for a starting gateway.
func viciVersion(ctx context.Context, socket string) error {
	_, err := daemonVersion(ctx, socket)
	return err
}

// daemonVersion asks the daemon on socket for its version ("6.1.0").
func daemonVersion(ctx context.Context, socket string) (string, error) {
	vc, err := dialVici(ctx, socket)
	if err != nil {
		return "", err
	}
	defer vc.Close()
	kvs, err := vc.call(ctx, "version", nil)
	if err != nil {
		return "", err
	}
	if kvs["daemon"] == "" {
		return "", errors.New("version reply without daemon key")
	}
	return kvs["version"], nil
}
