package vici_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/vici"
	"github.com/vicish/vicish/vici/vicitest"
)

// callAfter starts Call(command) and, once the server has read the
// request, runs respond on the server side. It returns Call's results.
func callAfter(t *testing.T, c *vici.Client, conn *vicitest.Conn, respond func()) (*vici.Message, error) {
	t.Helper()
	go func() {
		if _, err := conn.Read(); err != nil {
			return
		}
		respond()
	}()
	return c.Call(t.Context(), "version", nil)
}

func reply(kv ...string) []byte {
	m := vici.NewMessage()
	for i := 0; i+1 < len(kv); i += 2 {
		m.Set(kv[i], kv[i+1])
	}
	return vicitest.Frame(vicitest.Packet{Type: vicitest.CmdResponse, Message: m})
}

// Faults that end the connection: the command in flight fails with an
// error wrapping ErrClosed and the cause; nothing hangs.
func TestFatalFramingFaults(t *testing.T) {
	oversize := binary.BigEndian.AppendUint32(nil, vici.MaxPacketSize+1)
	cases := []struct {
		name  string
		bytes []byte
		close bool // close the connection after writing
		cause error
		why   string
	}{
		// Only the header is sent and the connection stays open: the
		// client must refuse the length at once, without waiting for
		// (or allocating) the body.
		{"oversizeHeader", oversize, false, vici.ErrProtocol, "524289 bytes, over the 524288 byte limit"},
		{"hugeHeader", []byte{0xff, 0xff, 0xff, 0xff}, false, vici.ErrProtocol, "over the"},
		{"zeroLength", []byte{0, 0, 0, 0}, false, vici.ErrProtocol, "zero-length segment"},
		{"truncatedHeader", []byte{0, 0}, true, io.ErrUnexpectedEOF, ""},
		{"truncatedBody", reply("version", "5.9.8")[:9], true, io.ErrUnexpectedEOF, ""},
		{"eofBetweenSegments", nil, true, io.EOF, "did charon stop or restart"},
		{"garbage", []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), false, vici.ErrProtocol, "over the"},
		{"namedWithoutName", vicitest.RawFrame([]byte{vicitest.Event}), false, vici.ErrProtocol, "EVENT packet without a name"},
		{"nameOverrun", vicitest.RawFrame([]byte{vicitest.Event, 9, 'a'}), false, vici.ErrProtocol, "overruns"},
		{"badEventBody", vicitest.RawFrame([]byte{vicitest.Event, 1, 'e', 9}), false, vici.ErrProtocol, "unknown element type 9"},
		{"unsolicitedConfirm", vicitest.RawFrame([]byte{vicitest.EventConfirm}), false, vici.ErrProtocol, "EVENT_CONFIRM in answer to CMD_REQUEST"},
		// Where the reply belongs, a packet that cannot be one (issue 16:
		// type 99 hung the command until its deadline).
		{"unknownTypeForReply", vicitest.RawFrame([]byte{99}), false, vici.ErrProtocol, `packet type 99 where the answer to CMD_REQUEST "version" belongs`},
		{"requestForReply", vicitest.Frame(vicitest.Packet{Type: vicitest.CmdRequest, Name: "odd", Message: vici.NewMessage()}), false, vici.ErrProtocol, "CMD_REQUEST where the answer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, c, conn := fake(t, vici.Options{})
			_, err := callAfter(t, c, conn, func() {
				conn.WriteRaw(tc.bytes)
				if tc.close {
					conn.Close()
				}
			})
			if !errors.Is(err, vici.ErrClosed) || !errors.Is(err, tc.cause) {
				t.Fatalf("got %v, want ErrClosed wrapping %v", err, tc.cause)
			}
			if !strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), c.URI()) {
				t.Errorf("message %q lacks %q or the URI", err, tc.why)
			}
			if _, err := c.Call(t.Context(), "version", nil); !errors.Is(err, vici.ErrClosed) {
				t.Errorf("next call: %v", err)
			}
		})
	}
}

// An unsolicited reply between commands ends the connection too.
func TestUnsolicitedReply(t *testing.T) {
	_, c, conn := fake(t, vici.Options{})
	sub, err := subscribeWith(t, c, conn, "log")
	if err != nil {
		t.Fatal(err)
	}
	conn.WriteRaw(reply("x", "y"))
	if _, ok := <-sub.Events(); ok {
		t.Fatal("subscription survived an unsolicited reply")
	}
	if err := sub.Err(); !errors.Is(err, vici.ErrProtocol) || !strings.Contains(err.Error(), "unsolicited CMD_RESPONSE") {
		t.Errorf("sub.Err = %v", err)
	}
}

func subscribeWith(t *testing.T, c *vici.Client, conn *vicitest.Conn, names ...string) (*vici.Subscription, error) {
	go func() {
		for range names {
			if _, err := conn.Read(); err != nil {
				return
			}
			conn.Write(vicitest.Packet{Type: vicitest.EventConfirm})
		}
	}()
	return c.Subscribe(t.Context(), names...)
}

// Faults the connection survives.
func TestSurvivableFaults(t *testing.T) {
	good := reply("version", "5.9.8")
	cases := []struct {
		name  string
		write func(conn *vicitest.Conn)
	}{
		{"byteAtATime", func(conn *vicitest.Conn) {
			for _, b := range good {
				conn.WriteRaw([]byte{b})
			}
		}},
		{"twoSegmentsInOneWrite", func(conn *vicitest.Conn) {
			ev := vicitest.Frame(vicitest.Packet{Type: vicitest.Event, Name: "unwanted", Message: vici.NewMessage()})
			conn.WriteRaw(append(ev, good...))
		}},
		{"slowReply", func(conn *vicitest.Conn) {
			time.Sleep(1500 * time.Millisecond) // no client-side deadline may fire
			conn.WriteRaw(good)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, c, conn := fake(t, vici.Options{})
			rep, err := callAfter(t, c, conn, func() { tc.write(conn) })
			if err != nil || rep.Get("version") != "5.9.8" {
				t.Fatalf("got %v, %v", rep, err)
			}
			rep, err = callAfter(t, c, conn, func() { conn.WriteRaw(reply("again", "yes")) })
			if err != nil || rep.Get("again") != "yes" {
				t.Fatalf("second call: %v, %v", rep, err)
			}
		})
	}
}

// Packet types a client cannot use (newer ones, request types) are
// skipped while no answer is awaited, for forward compatibility: events
// around them still arrive, and the next command works.
func TestUnknownPacketTypesBetweenCommands(t *testing.T) {
	_, c, conn := fake(t, vici.Options{})
	sub, err := subscribeWith(t, c, conn, "log")
	if err != nil {
		t.Fatal(err)
	}
	conn.Event("log", vici.NewMessage().Set("n", "1"))
	conn.WriteRaw(vicitest.RawFrame([]byte{8, 1, 2, 3}))
	conn.WriteRaw(vicitest.RawFrame([]byte{255}))
	conn.WriteRaw(vicitest.Frame(vicitest.Packet{Type: vicitest.CmdRequest, Name: "odd", Message: vici.NewMessage()}))
	conn.Event("log", vici.NewMessage().Set("n", "2"))
	for _, want := range []string{"1", "2"} {
		ev, ok := <-sub.Events()
		if !ok || ev.Message.Get("n") != want {
			t.Fatalf("got %+v (open %v), want log event %s; Err %v", ev, ok, want, sub.Err())
		}
	}
	rep, err := callAfter(t, c, conn, func() { conn.WriteRaw(reply("again", "yes")) })
	if err != nil || rep.Get("again") != "yes" {
		t.Fatalf("call after them: %v, %v", rep, err)
	}
}

// A malformed reply fails its command only: the segment boundary is
// known, so the next command works.
func TestMalformedReplyKeepsConnection(t *testing.T) {
	_, c, conn := fake(t, vici.Options{})
	for _, body := range [][]byte{
		{3, 1, 'a', 0, 1, 'x', 3, 1, 'a', 0, 1, 'y'}, // duplicate key
		{1, 1, 's'}, // unclosed section
		{2},         // stray section end
		{7},         // unknown element
		{3, 1, 'k', 0, 9, 'x'},
	} {
		rep, err := callAfter(t, c, conn, func() {
			conn.WriteRaw(vicitest.RawFrame(append([]byte{vicitest.CmdResponse}, body...)))
		})
		var pe *vici.ProtocolError
		if rep != nil || !errors.As(err, &pe) || errors.Is(err, vici.ErrClosed) {
			t.Fatalf("body %v: got %v, %v; want only a *ProtocolError", body, rep, err)
		}
		rep, err = callAfter(t, c, conn, func() { conn.WriteRaw(reply("ok", "yes")) })
		if err != nil || rep.Get("ok") != "yes" {
			t.Fatalf("after body %v: %v, %v", body, rep, err)
		}
	}
}

// The desync test: a command whose caller gives up still owns the wire
// until its reply arrives; that reply is discarded and the next command
// gets its own.
func TestLateReplyAfterCancel(t *testing.T) {
	_, c, conn := fake(t, vici.Options{})
	slowRead := make(chan struct{})
	release := make(chan struct{})
	order := make(chan string, 4)
	go func() {
		p, _ := conn.Read() // "initiate"
		order <- p.Name
		close(slowRead)
		<-release
		conn.WriteRaw(reply("which", "initiate"))
		p, _ = conn.Read() // "version", only now
		order <- p.Name
		conn.WriteRaw(reply("which", "version"))
	}()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, "initiate", nil)
		errc <- err
	}()
	<-slowRead
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "late reply will be discarded") {
		t.Fatalf("cancelled call: %v", err)
	}
	// The next call must wait for the late reply, then get its own.
	verc := make(chan *vici.Message, 1)
	go func() {
		rep, err := c.Call(t.Context(), "version", nil)
		if err != nil {
			t.Error(err)
		}
		verc <- rep
	}()
	// Its own context can end while it waits for the wire.
	short, cancelShort := context.WithCancel(t.Context())
	cancelShort()
	if _, err := c.Call(short, "stats", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("waiting call with ended ctx: %v", err)
	}
	close(release)
	rep := <-verc
	if rep.Get("which") != "version" {
		t.Fatalf("version got the reply meant for %q", rep.Get("which"))
	}
	if a, b := <-order, <-order; a != "initiate" || b != "version" {
		t.Errorf("wire order %s, %s", a, b)
	}
}

// A stream abandoned by its context drains in the background.
func TestStreamCancelDrains(t *testing.T) {
	_, c, conn := fake(t, vici.Options{})
	d := versionDaemon()
	started := make(chan struct{})
	d.Commands["list"] = func(conn *vicitest.Conn, _ *vici.Message) *vici.Message {
		conn.Event("item", vici.NewMessage().Set("i", "0"))
		<-started
		for i := 1; i < 100; i++ {
			conn.Event("item", vici.NewMessage().Set("i", "x"))
		}
		return vici.NewMessage()
	}
	serve(t, d, conn)
	ctx, cancel := context.WithCancel(t.Context())
	_, err := c.CallStream(ctx, "list", "item", nil, func(*vici.Message) error {
		cancel()
		close(started)
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	rep, err := c.Call(t.Context(), "version", nil)
	if err != nil || rep.Get("daemon") != "charon" {
		t.Fatalf("after cancelled stream: %v, %v", rep, err)
	}
	if r := d.Registered("item"); r != 0 {
		t.Errorf("item registered %d times after the stream", r)
	}
}

// An entry is handed to the stream's caller before the reader waits for
// the socket, even when the packet after it (here an event nobody wants)
// was already buffered with it: the daemon sends the rest only once the
// caller has the first entry.
func TestStreamEntryNotHeldBack(t *testing.T) {
	_, c, conn := fake(t, vici.Options{})
	d := versionDaemon()
	got := make(chan struct{})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second) // a hang guard only
	defer cancel()
	d.Commands["list"] = func(conn *vicitest.Conn, _ *vici.Message) *vici.Message {
		two := append(vicitest.Frame(vicitest.Packet{Type: vicitest.Event, Name: "item", Message: vici.NewMessage().Set("i", "0")}),
			vicitest.Frame(vicitest.Packet{Type: vicitest.Event, Name: "unwanted", Message: vici.NewMessage()})...)
		conn.WriteRaw(two)
		select {
		case <-got:
		case <-ctx.Done():
		}
		conn.Event("item", vici.NewMessage().Set("i", "1"))
		return vici.NewMessage()
	}
	serve(t, d, conn)
	var seen []string
	_, err := c.CallStream(ctx, "list", "item", nil, func(m *vici.Message) error {
		seen = append(seen, m.Get("i"))
		if len(seen) == 1 {
			close(got)
		}
		return nil
	})
	if err != nil || !slices.Equal(seen, []string{"0", "1"}) {
		t.Fatalf("entries %q, err %v (the first entry was held back until the context ended?)", seen, err)
	}
}
