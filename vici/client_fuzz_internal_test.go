package vici

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
)

// FuzzClientRead feeds arbitrary bytes from the daemon's side to a client
// with a command in flight and a subscription open. Whatever arrives, the
// client must not panic, the command must end (with a reply or an error),
// and a garbled stream must end in an error wrapping ErrClosed or
// ErrProtocol.
func FuzzClientRead(f *testing.F) {
	frame := func(body ...byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	f.Add(frame(1, 3, 1, 'k', 0, 1, 'v'))
	f.Add(append(frame(7, 3, 'l', 'o', 'g', 3, 1, 'k', 0, 0), frame(1)...))
	f.Add(frame(2))
	f.Add(frame(5))
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(append(frame(8, 1, 2), frame(1, 2)...))
	f.Add(frame(1, 1, 1, 's'))
	f.Fuzz(func(t *testing.T, data []byte) {
		client, daemon := net.Pipe()
		c := newClient(client, "unix:///fuzz", Options{EventBuffer: 1})
		defer c.Close()
		go func() {
			defer daemon.Close()
			// Confirm the registration, then read the command.
			for _, answer := range [][]byte{frame(5), nil} {
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
