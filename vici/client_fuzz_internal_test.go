package vici

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
)

// fuzzFrame is a packet of body, after its length.
func fuzzFrame(body ...byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// fuzzClient returns a client whose daemon confirms an event
// registration, reads a command and then sends data, as the fuzz targets
// below want it. The client is closed when t ends.
func fuzzClient(t *testing.T, data []byte) *Client {
	client, daemon := net.Pipe()
	c := newClient(client, "unix:///fuzz", Options{EventBuffer: 1})
	t.Cleanup(func() { c.Close() })
	go func() {
		defer daemon.Close()
		// Confirm the registration, then read the command.
		for _, answer := range [][]byte{fuzzFrame(5), nil} {
			var hdr [4]byte
			if _, err := io.ReadFull(daemon, hdr[:]); err != nil {
				return
			}
			if _, err := io.CopyN(io.Discard, daemon, int64(binary.BigEndian.Uint32(hdr[:]))); err != nil {
				return
			}
			if answer != nil {
				daemon.Write(answer)
			}
		}
		daemon.Write(data)
	}()
	return c
}

// FuzzClientRead feeds arbitrary bytes from the daemon's side to a client
// with a command in flight and a subscription open. Whatever arrives, the
// client must not panic, the command must end (with a reply or an error),
// and a garbled stream must end in an error wrapping ErrClosed or
// ErrProtocol.
func FuzzClientRead(f *testing.F) {
	f.Add(fuzzFrame(1, 3, 1, 'k', 0, 1, 'v'))
	f.Add(append(fuzzFrame(7, 3, 'l', 'o', 'g', 3, 1, 'k', 0, 0), fuzzFrame(1)...))
	f.Add(fuzzFrame(2))
	f.Add(fuzzFrame(5))
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(append(fuzzFrame(8, 1, 2), fuzzFrame(1, 2)...))
	f.Add(fuzzFrame(1, 1, 1, 's'))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := fuzzClient(t, data)
		sub, err := c.Subscribe(t.Context(), "log")
		if err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		go func() {
			for range sub.Events() {
			}
		}()
		rep, err := c.Call(t.Context(), "cmd", nil)
		if err == nil && rep == nil {
			t.Fatal("no reply and no error")
		}
		if err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrUnknownCommand) {
			var ce *CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("unexpected error type: %v", err)
			}
		}
	})
}

// FuzzClientStream feeds arbitrary bytes from the daemon's side to a
// streamed command of event "ev" whose consumer keeps some entries and
// releases the others (mode's low bit: on the reader's goroutine, with
// CallStreamInline; the others: which entries are kept). Whatever
// arrives, the client must not panic, the command must end, and a kept
// entry must still encode as it did when it arrived, however many later
// entries were read into the memory of released ones.
func FuzzClientStream(f *testing.F) {
	event := func(msg ...byte) []byte { return fuzzFrame(append([]byte{7, 2, 'e', 'v'}, msg...)...) }
	entry := []byte{1, 1, 'c', 3, 1, 'k', 0, 2, 'v', '1', 4, 1, 'l', 5, 0, 1, 'x', 6, 2}
	var stream []byte
	for range 5 {
		stream = append(stream, event(entry...)...)
	}
	stream = append(stream, fuzzFrame(1, 3, 1, 'k', 0, 1, 'v')...)
	for _, mode := range []byte{0, 1, 0xaa, 0xab, 0x54, 0x55, 0xfe, 0xff} {
		f.Add(mode, stream)
	}
	f.Add(byte(1), append(event(3, 1, 'a', 0, 0), event(1, 1, 'b', 2)...))
	f.Add(byte(2), append(event(entry...), fuzzFrame(7, 2, 'e', 'w', 3, 1, 'k', 0, 0)...))
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		c := fuzzClient(t, data)
		type kept struct {
			m    *Message
			wire []byte
		}
		var keep []kept
		n := 0
		fn := func(m *Message) error {
			wire, err := m.MarshalBinary()
			if err != nil {
				t.Fatalf("a received entry does not encode: %v", err)
			}
			if n++; mode>>(1+n%7)&1 != 0 {
				keep = append(keep, kept{m, wire})
			} else {
				m.Release()
			}
			return nil
		}
		call := c.CallStream
		if mode&1 != 0 {
			call = c.CallStreamInline
		}
		rep, err := call(t.Context(), "cmd", "ev", nil, fn)
		if err == nil && rep == nil {
			t.Fatal("no reply and no error")
		}
		for i, k := range keep {
			wire, err := k.m.MarshalBinary()
			if err != nil || !bytes.Equal(wire, k.wire) {
				t.Fatalf("kept entry %d of %d changed: %q, now %q (%v)", i, n, k.wire, wire, err)
			}
		}
	})
}
