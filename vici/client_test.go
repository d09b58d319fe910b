package vici_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vicish/vicish/vici"
	"github.com/vicish/vicish/vici/vicitest"
)

// fake starts a fake server and a client connected to it, and returns the
// server side of the connection.
func fake(t *testing.T, opts vici.Options) (*vicitest.Server, *vici.Client, *vicitest.Conn) {
	t.Helper()
	srv := vicitest.NewServer(t)
	c, err := vici.DialOptions(t.Context(), srv.URI(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c, srv.Accept()
}

// fakeDaemon starts a client on a fake server that runs versionDaemon.
func fakeDaemon(t *testing.T, opts vici.Options) (*vici.Client, *vicitest.Conn, *vicitest.Daemon) {
	t.Helper()
	_, c, conn := fake(t, opts)
	d := versionDaemon()
	serve(t, d, conn)
	return c, conn, d
}

// serve runs d on conn in the background.
func serve(t *testing.T, d *vicitest.Daemon, conn *vicitest.Conn) {
	t.Helper()
	go d.Serve(conn)
}

func versionDaemon() *vicitest.Daemon {
	return &vicitest.Daemon{
		Commands: map[string]vicitest.Handler{
			"version": func(*vicitest.Conn, *vici.Message) *vici.Message {
				return vici.NewMessage().Set("daemon", "charon").Set("version", "5.9.8")
			},
			"fail": func(_ *vicitest.Conn, req *vici.Message) *vici.Message {
				m := vici.NewMessage().Set("success", "no")
				if msg := req.Get("errmsg"); msg != "" {
					m.Set("errmsg", msg)
				}
				return m
			},
			"echo": func(_ *vicitest.Conn, req *vici.Message) *vici.Message { return req },
			"list": func(c *vicitest.Conn, req *vici.Message) *vici.Message {
				n, _ := strconv.Atoi(req.Get("n"))
				for i := range n {
					c.Event("item", vici.NewMessage().Set("i", strconv.Itoa(i)))
				}
				return vici.NewMessage()
			},
		},
		Events: []string{"item", "log", "ike-updown"},
	}
}

func TestCallReplyAndErrors(t *testing.T) {
	_, c, conn := fake(t, vici.Options{})
	serve(t, versionDaemon(), conn)
	ctx := t.Context()

	rep, err := c.Call(ctx, "version", nil)
	if err != nil || rep.Get("version") != "5.9.8" {
		t.Fatalf("version: %v, %v", rep, err)
	}

	rep, err = c.Call(ctx, "fail", vici.NewMessage().Set("errmsg", "no such config"))
	var ce *vici.CommandError
	if !errors.As(err, &ce) || ce.Errmsg != "no such config" || ce.Command != "fail" || rep == nil || ce.Reply != rep {
		t.Fatalf("fail: reply %v, err %v", rep, err)
	}
	if err.Error() != "vici: fail: no such config" {
		t.Errorf("message = %q", err)
	}
	_, err = c.Call(ctx, "fail", nil)
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "gave no reason") {
		t.Errorf("success=no without errmsg reads %q", err)
	}

	_, err = c.Call(ctx, "no-such-command", nil)
	if !errors.Is(err, vici.ErrUnknownCommand) || !strings.Contains(err.Error(), `"no-such-command"`) {
		t.Errorf("unknown command: %v", err)
	}

	big := vici.NewMessage().SetBytes("data", make([]byte, vici.MaxValueLen+1))
	if _, err := c.Call(ctx, "echo", big); !errors.Is(err, vici.ErrProtocol) {
		t.Errorf("oversized value: %v", err)
	}
	if _, err := c.Call(ctx, "", nil); !errors.Is(err, vici.ErrProtocol) {
		t.Errorf("empty command name: %v", err)
	}
	// The connection is still fine.
	if rep, err := c.Call(ctx, "echo", vici.NewMessage().SetBytes("b", []byte{0, 1, 255})); err != nil || rep.Get("b") != "\x00\x01\xff" {
		t.Fatalf("echo: %v, %v", rep, err)
	}
}

func TestConcurrentCalls(t *testing.T) {
	_, c, conn := fake(t, vici.Options{})
	serve(t, versionDaemon(), conn)
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				want := fmt.Sprintf("%d-%d", g, i)
				rep, err := c.Call(t.Context(), "echo", vici.NewMessage().Set("v", want))
				if err != nil {
					errs <- err
				} else if rep.Get("v") != want {
					errs <- fmt.Errorf("got reply %q for request %q", rep.Get("v"), want)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestStreamAndEarlyBreak(t *testing.T) {
	c, _, d := fakeDaemon(t, vici.Options{})
	ctx := t.Context()

	var got []string
	rep, err := c.CallStream(ctx, "list", "item", vici.NewMessage().Set("n", "100"), func(m *vici.Message) error {
		got = append(got, m.Get("i"))
		return nil
	})
	if err != nil || rep == nil {
		t.Fatal(err)
	}
	if len(got) != 100 || got[0] != "0" || got[99] != "99" {
		t.Fatalf("got %d items: %v", len(got), got)
	}

	n := 0
	for m, err := range c.Stream(ctx, "list", "item", vici.NewMessage().Set("n", "1000")) {
		if err != nil {
			t.Fatal(err)
		}
		if m.Get("i") != strconv.Itoa(n) {
			t.Fatalf("item %d is %q", n, m.Get("i"))
		}
		if n++; n == 3 {
			break
		}
	}
	// The rest of the stream is discarded; the next command gets its own reply.
	for range 3 {
		if rep, err := c.Call(ctx, "version", nil); err != nil || rep.Get("daemon") != "charon" {
			t.Fatalf("after an early break: %v, %v", rep, err)
		}
	}
	// The stream's event was registered and unregistered each time.
	if r := d.Registered("item"); r != 0 {
		t.Errorf("item still registered %d times", r)
	}

	// A failing callback stops the stream the same way.
	stop := errors.New("enough")
	if _, err := c.CallStream(ctx, "list", "item", vici.NewMessage().Set("n", "50"), func(*vici.Message) error { return stop }); err != stop {
		t.Fatalf("callback error: %v", err)
	}
	if _, err := c.Call(ctx, "version", nil); err != nil {
		t.Fatal(err)
	}

	// Unknown stream event.
	_, err = c.CallStream(ctx, "list", "nope", nil, func(*vici.Message) error { return nil })
	if !errors.Is(err, vici.ErrUnknownEvent) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown stream event: %v", err)
	}
	// A failed streamed command yields its error last.
	var last error
	for _, err := range c.Stream(ctx, "fail", "item", nil) {
		last = err
	}
	var ce *vici.CommandError
	if !errors.As(last, &ce) {
		t.Errorf("failed stream: %v", last)
	}
}

func TestRegistrationIsRefCounted(t *testing.T) {
	c, _, d := fakeDaemon(t, vici.Options{})
	ctx := t.Context()

	sub, err := c.Subscribe(ctx, "item", "item")
	if err != nil {
		t.Fatal(err)
	}
	sub2, err := c.Subscribe(ctx, "item")
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	if _, err := c.CallStream(ctx, "list", "item", vici.NewMessage().Set("n", "5"), func(*vici.Message) error {
		count++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if count != 5 {
		t.Errorf("stream got %d events", count)
	}
	if r := d.Registered("item"); r != 1 {
		t.Fatalf("daemon holds %d registrations of item, want 1", r)
	}
	// Both subscriptions saw the stream's events too.
	for _, s := range []*vici.Subscription{sub, sub2} {
		for i := range 5 {
			ev := <-s.Events()
			if ev.Name != "item" || ev.Message.Get("i") != strconv.Itoa(i) {
				t.Fatalf("event %d: %+v", i, ev)
			}
		}
	}
	sub.Close()
	if _, err := c.Call(ctx, "version", nil); err != nil {
		t.Fatal(err)
	}
	if r := d.Registered("item"); r != 1 {
		t.Fatalf("after closing one of two subscriptions: %d registrations", r)
	}
	sub2.Close()
	// The unregistration is asynchronous; a command after it is ordered
	// behind it on the wire.
	if _, err := c.Call(ctx, "version", nil); err != nil {
		t.Fatal(err)
	}
	regs, unregs := 0, 0
	for _, p := range d.Received() {
		switch p.Type {
		case vicitest.EventRegister:
			regs++
		case vicitest.EventUnregister:
			unregs++
		}
	}
	if regs != 1 || unregs != 1 || d.Registered("item") != 0 {
		t.Errorf("wire saw %d REGISTER and %d UNREGISTER; daemon holds %d", regs, unregs, d.Registered("item"))
	}
	if _, ok := <-sub.Events(); ok {
		t.Error("closed subscription still delivers")
	}
	if sub.Err() != nil {
		t.Errorf("Err after Close = %v", sub.Err())
	}

	_, err = c.Subscribe(ctx, "log", "alert")
	if !errors.Is(err, vici.ErrUnknownEvent) || !strings.Contains(err.Error(), `"alert"`) {
		t.Fatalf("unknown event: %v", err)
	}
	if _, err := c.Call(ctx, "version", nil); err != nil {
		t.Fatal(err)
	}
	if r := d.Registered("log"); r != 0 {
		t.Errorf("failed subscribe left log registered %d times", r)
	}
}

// Events interleave with a streamed command: each goes where it belongs,
// in order, and an event between commands never stands in for a reply.
func TestEventsInterleaved(t *testing.T) {
	_, c, conn := fake(t, vici.Options{})
	ctx := t.Context()
	go func() {
		// Subscribe("log")
		if p, err := conn.Read(); err != nil || p.Type != vicitest.EventRegister {
			return
		}
		conn.Write(vicitest.Packet{Type: vicitest.EventConfirm})
		conn.Event("log", vici.NewMessage().Set("msg", "between"))
		// CallStream("initiate", "control-log")
		conn.Read()
		conn.Write(vicitest.Packet{Type: vicitest.EventConfirm})
		conn.Read()
		conn.Event("log", vici.NewMessage().Set("msg", "log1"))
		conn.Event("control-log", vici.NewMessage().Set("msg", "ctl1"))
		conn.Event("log", vici.NewMessage().Set("msg", "log2"))
		conn.Event("control-log", vici.NewMessage().Set("msg", "ctl2"))
		// Two segments in one write: an event and the reply.
		conn.WriteRaw(append(
			vicitest.Frame(vicitest.Packet{Type: vicitest.Event, Name: "log", Message: vici.NewMessage().Set("msg", "log3")}),
			vicitest.Frame(vicitest.Packet{Type: vicitest.CmdResponse, Message: vici.NewMessage().Set("success", "yes")})...))
		// UNREGISTER control-log
		conn.Read()
		conn.Write(vicitest.Packet{Type: vicitest.EventConfirm})
		conn.Event("log", vici.NewMessage().Set("msg", "after"))
		conn.Read() // version
		conn.Reply(vici.NewMessage().Set("version", "5.9.8"))
	}()
	sub, err := c.Subscribe(ctx, "log")
	if err != nil {
		t.Fatal(err)
	}
	var ctl []string
	rep, err := c.CallStream(ctx, "initiate", "control-log", nil, func(m *vici.Message) error {
		ctl = append(ctl, m.Get("msg"))
		return nil
	})
	if err != nil || rep.Get("success") != "yes" {
		t.Fatalf("initiate: %v %v", rep, err)
	}
	if strings.Join(ctl, ",") != "ctl1,ctl2" {
		t.Errorf("control-log = %v", ctl)
	}
	rep, err = c.Call(ctx, "version", nil)
	if err != nil || rep.Get("version") != "5.9.8" {
		t.Fatalf("version: %v %v", rep, err)
	}
	var logs []string
	for range 5 {
		logs = append(logs, (<-sub.Events()).Message.Get("msg"))
	}
	if strings.Join(logs, ",") != "between,log1,log2,log3,after" {
		t.Errorf("log = %v", logs)
	}
}

// A subscriber that takes nothing never makes a command wait: its events
// overflow into memory (Queued counts them), and none is lost or
// reordered once it starts taking them.
func TestSlowSubscriberNeverBlocksCommands(t *testing.T) {
	_, c, conn := fake(t, vici.Options{EventBuffer: 4})
	const n = 2000
	go func() {
		conn.Read()
		conn.Write(vicitest.Packet{Type: vicitest.EventConfirm})
		for i := range n {
			conn.Event("log", vici.NewMessage().Set("i", strconv.Itoa(i)))
		}
		conn.Read()
		conn.Reply(vici.NewMessage().Set("done", "yes"))
	}()
	sub, err := c.Subscribe(t.Context(), "log")
	if err != nil {
		t.Fatal(err)
	}
	// Nobody consumes yet: the command behind the events still completes.
	rep, err := c.Call(t.Context(), "version", nil)
	if err != nil || rep.Get("done") != "yes" {
		t.Fatalf("version behind %d unconsumed events: %v, %v", n, rep, err)
	}
	if q := sub.Queued(); q != n {
		t.Errorf("Queued = %d, want %d", q, n)
	}
	for i := range n {
		ev := <-sub.Events()
		if got := ev.Message.Get("i"); got != strconv.Itoa(i) {
			t.Fatalf("event %d is %q", i, got)
		}
		if ev.Received.IsZero() {
			t.Fatalf("event %d has no Received time", i)
		}
	}
	// The event last handed over may still be counted for a moment.
	for sub.Queued() != 0 {
		runtime.Gosched()
	}
}

// A registration round trip (Subscribe, Add) completes while another
// subscription of the same client holds more events than its buffer: the
// reader, delivering them, must not wait for a consumer who is itself
// waiting for the registration (issue 9's deadlock).
func TestRegisterWhileQueueFull(t *testing.T) {
	c, conn, _ := fakeDaemon(t, vici.Options{EventBuffer: 2})
	ctx := t.Context()
	sub, err := c.Subscribe(ctx, "log")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		conn.Event("log", vici.NewMessage().Set("i", strconv.Itoa(i)))
	}
	other, err := c.Subscribe(ctx, "ike-updown")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Add(ctx, "item"); err != nil {
		t.Fatal(err)
	}
	conn.Event("ike-updown", vici.NewMessage().Set("up", "yes"))
	if ev := <-other.Events(); ev.Name != "ike-updown" {
		t.Fatalf("other got %+v", ev)
	}
	for i := range 50 {
		if ev := <-sub.Events(); ev.Message.Get("i") != strconv.Itoa(i) {
			t.Fatalf("log %d: %+v", i, ev)
		}
	}
	if got := strings.Join(sub.Names(), ","); got != "log,item" {
		t.Errorf("Names = %s", got)
	}
}

// Add and Remove change what one subscription gets without a second
// queue: order holds across them, and removed events are unregistered
// once nobody wants them.
func TestAddRemove(t *testing.T) {
	c, conn, d := fakeDaemon(t, vici.Options{})
	ctx := t.Context()
	sub, err := c.Subscribe(ctx, "log")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Add(ctx, "ike-updown", "log"); err != nil {
		t.Fatal(err)
	}
	if err := sub.Add(ctx, "alert"); !errors.Is(err, vici.ErrUnknownEvent) {
		t.Fatalf("Add of an unknown event: %v", err)
	}
	if got := strings.Join(sub.Names(), ","); got != "log,ike-updown" {
		t.Fatalf("Names after a failed Add = %s", got)
	}
	conn.Event("log", vici.NewMessage().Set("n", "1"))
	conn.Event("ike-updown", vici.NewMessage().Set("n", "2"))
	for _, want := range []string{"1", "2"} {
		if ev := <-sub.Events(); ev.Message.Get("n") != want {
			t.Fatalf("want %s, got %+v", want, ev)
		}
	}
	sub.Remove("log")
	if _, err := c.Call(ctx, "version", nil); err != nil { // ordered behind the unregistration
		t.Fatal(err)
	}
	if d.Registered("log") != 0 || d.Registered("ike-updown") != 1 {
		t.Errorf("registered: log %d, ike-updown %d", d.Registered("log"), d.Registered("ike-updown"))
	}
}

// A consumer more than MaxQueued events behind loses its subscription with
// ErrOverflow instead of growing memory without bound; what was queued is
// still delivered, and the connection stays usable.
func TestOverflowEndsSubscription(t *testing.T) {
	c, conn, d := fakeDaemon(t, vici.Options{EventBuffer: 2, MaxQueued: 10})
	ctx := t.Context()
	sub, err := c.Subscribe(ctx, "log")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 25 {
		conn.Event("log", vici.NewMessage().Set("i", strconv.Itoa(i)))
	}
	if _, err := c.Call(ctx, "version", nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	for ev := range sub.Events() {
		if ev.Message.Get("i") != strconv.Itoa(n) {
			t.Fatalf("event %d: %+v", n, ev)
		}
		n++
	}
	if n != 10 {
		t.Errorf("delivered %d events, want the 10 queued", n)
	}
	if err := sub.Err(); !errors.Is(err, vici.ErrOverflow) || !strings.Contains(err.Error(), "10 events") {
		t.Errorf("Err = %v", err)
	}
	if _, err := c.Call(ctx, "version", nil); err != nil {
		t.Fatal(err)
	}
	if r := d.Registered("log"); r != 0 {
		t.Errorf("log still registered %d times after the overflow", r)
	}
}

// The queue is bounded in bytes too (issue 16: 65,536 events of 512 KiB
// are 32 GiB): events the consumer has taken no longer count, and one
// more than MaxQueuedBytes ends the subscription with ErrOverflow.
func TestOverflowByBytes(t *testing.T) {
	c, conn, _ := fakeDaemon(t, vici.Options{EventBuffer: 2, MaxQueuedBytes: 10 << 10})
	ctx := t.Context()
	sub, err := c.Subscribe(ctx, "log")
	if err != nil {
		t.Fatal(err)
	}
	big := func(i int) *vici.Message {
		return vici.NewMessage().Set("i", strconv.Itoa(i)).Set("pad", strings.Repeat("x", 3000))
	}
	if size := big(0).MemSize(); size < 3000 || size > 3100 {
		t.Fatalf("MemSize of a 3000-byte value: %d", size)
	}
	// Taken as they come, any number fits.
	for i := range 20 {
		conn.Event("log", big(i))
		ev := <-sub.Events()
		if ev.Message.Get("i") != strconv.Itoa(i) {
			t.Fatalf("event %d: %+v (Err %v)", i, ev, sub.Err())
		}
		if got := ev.Message.MemSize(); got < 3000 {
			t.Fatalf("a received event's MemSize is %d", got)
		}
	}
	// Left queued, the fourth does not fit in 10 KiB.
	for i := range 6 {
		conn.Event("log", big(i))
	}
	if _, err := c.Call(ctx, "version", nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	for range sub.Events() {
		n++
	}
	if n != 3 {
		t.Errorf("delivered %d events, want the 3 that fit", n)
	}
	if err := sub.Err(); !errors.Is(err, vici.ErrOverflow) || !strings.Contains(err.Error(), "10240 bytes") {
		t.Errorf("Err = %v", err)
	}
}

func TestCloseFailsInFlightAndEndsSubscriptions(t *testing.T) {
	_, c, conn := fake(t, vici.Options{})
	got := make(chan struct{})
	go func() {
		conn.Read()
		conn.Write(vicitest.Packet{Type: vicitest.EventConfirm})
		conn.Read() // the command; never answered
		close(got)
	}()
	sub, err := c.Subscribe(t.Context(), "log")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(t.Context(), "slow", nil)
		errc <- err
	}()
	<-got
	c.Close()
	if err := <-errc; !errors.Is(err, vici.ErrClosed) {
		t.Errorf("in-flight call: %v", err)
	}
	if _, ok := <-sub.Events(); ok {
		t.Error("subscription open after Close")
	}
	if !errors.Is(sub.Err(), vici.ErrClosed) {
		t.Errorf("sub.Err = %v", sub.Err())
	}
	if _, err := c.Call(t.Context(), "version", nil); !errors.Is(err, vici.ErrClosed) || !strings.Contains(err.Error(), "closed") {
		t.Errorf("call after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDisconnectMidStream(t *testing.T) {
	srv, c, conn := fake(t, vici.Options{})
	_ = srv
	go func() {
		conn.Read() // register log (subscription)
		conn.Write(vicitest.Packet{Type: vicitest.EventConfirm})
		conn.Read() // register item
		conn.Write(vicitest.Packet{Type: vicitest.EventConfirm})
		conn.Read() // list
		conn.Event("item", vici.NewMessage().Set("i", "0"))
		conn.Event("item", vici.NewMessage().Set("i", "1"))
		conn.Close()
	}()
	sub, err := c.Subscribe(t.Context(), "log")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	_, err = c.CallStream(t.Context(), "list", "item", nil, func(*vici.Message) error { seen++; return nil })
	if !errors.Is(err, vici.ErrClosed) || !errors.Is(err, io.EOF) || !strings.Contains(err.Error(), c.URI()) {
		t.Fatalf("stream on a dropped connection: %v", err)
	}
	if seen != 2 {
		t.Errorf("saw %d events before the drop", seen)
	}
	if _, ok := <-sub.Events(); ok {
		t.Error("subscription open after the connection dropped")
	}
	if err := sub.Err(); !errors.Is(err, vici.ErrClosed) || !strings.Contains(err.Error(), "lost") {
		t.Errorf("sub.Err = %v", err)
	}
	if _, err := c.Call(t.Context(), "version", nil); !errors.Is(err, vici.ErrClosed) {
		t.Errorf("call after the drop: %v", err)
	}
}

func TestReconnect(t *testing.T) {
	srv, c, conn := fake(t, vici.Options{Reconnect: true})
	d := versionDaemon()
	serve(t, d, conn)
	ctx := t.Context()
	sub, err := c.Subscribe(ctx, "log", "ike-updown")
	if err != nil {
		t.Fatal(err)
	}
	// The daemon goes away: no socket to redial for now.
	srv.Stop()
	conn.Close()
	var callErr error
	for {
		_, callErr = c.Call(ctx, "version", nil)
		if callErr != nil {
			break
		}
		// The reader may not have seen the hang-up yet; the call went
		// to a dead peer or got the last reply. Try again.
		runtime.Gosched()
	}
	if !errors.Is(callErr, vici.ErrClosed) {
		t.Fatalf("call while down: %v", callErr)
	}
	for !strings.Contains(callErr.Error(), "reconnecting") {
		_, callErr = c.Call(ctx, "version", nil)
		runtime.Gosched()
	}
	if !errors.Is(callErr, vici.ErrClosed) {
		t.Fatalf("call while reconnecting: %v", callErr)
	}
	// The daemon is back.
	srv.Listen()
	d2 := versionDaemon()
	conn2 := srv.Accept()
	serve(t, d2, conn2)
	ev := <-sub.Events()
	if !ev.Reconnected || ev.Message != nil {
		t.Fatalf("first event after the redial: %+v", ev)
	}
	// Commands work once the registrations are back, and queue behind them.
	if rep, err := c.Call(ctx, "version", nil); err != nil || rep.Get("daemon") != "charon" {
		t.Fatalf("version after reconnect: %v, %v", rep, err)
	}
	if d2.Registered("log") != 1 || d2.Registered("ike-updown") != 1 {
		t.Fatalf("re-registered log %d, ike-updown %d times", d2.Registered("log"), d2.Registered("ike-updown"))
	}
	conn2.Event("ike-updown", vici.NewMessage().Set("up", "yes"))
	ev = <-sub.Events()
	if ev.Name != "ike-updown" || ev.Message.Get("up") != "yes" {
		t.Fatalf("event after reconnect: %+v", ev)
	}
	sub.Close()
	c.Close()
	if _, err := c.Call(ctx, "version", nil); !errors.Is(err, vici.ErrClosed) || strings.Contains(err.Error(), "reconnecting") {
		t.Errorf("call after Close: %v", err)
	}
}

// Close keeps what is queued, buffer and overflow, for the consumer.
func TestCloseKeepsQueuedEvents(t *testing.T) {
	_, c, conn := fake(t, vici.Options{EventBuffer: 1})
	sub, err := subscribeWith(t, c, conn, "log")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		conn.Event("log", vici.NewMessage().Set("i", strconv.Itoa(i)))
	}
	for sub.Queued() < 3 {
		runtime.Gosched()
	}
	if err := sub.Err(); err != nil {
		t.Fatal(err)
	}
	sub.Close()
	n := 0
	for range sub.Events() {
		n++
	}
	if n != 3 {
		t.Errorf("drained %d queued events after Close, want 3", n)
	}
}

// Ready returns once a reconnecting client works again, and fails at once
// where waiting cannot help.
func TestReady(t *testing.T) {
	srv, c, conn := fake(t, vici.Options{Reconnect: true})
	serve(t, versionDaemon(), conn)
	ctx := t.Context()
	if err := c.Ready(ctx); err != nil {
		t.Fatalf("Ready while connected: %v", err)
	}
	sub, err := c.Subscribe(ctx, "log")
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	conn.Close()
	for _, err := c.Call(ctx, "version", nil); err == nil || !strings.Contains(err.Error(), "reconnecting"); _, err = c.Call(ctx, "version", nil) {
		runtime.Gosched() // until the reader sees the hang-up
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := c.Ready(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ready while the daemon is away: %v", err)
	}
	srv.Listen()
	d2 := versionDaemon()
	go func() { serve(t, d2, srv.Accept()) }()
	if err := c.Ready(ctx); err != nil {
		t.Fatalf("Ready after the daemon came back: %v", err)
	}
	if ev := <-sub.Events(); !ev.Reconnected {
		t.Errorf("first event after the redial: %+v", ev)
	}
	if d2.Registered("log") != 1 {
		t.Errorf("Ready returned before the registration was back")
	}
	if _, err := c.Call(ctx, "version", nil); err != nil {
		t.Fatalf("command after Ready: %v", err)
	}
	c.Close()
	if err := c.Ready(ctx); !errors.Is(err, vici.ErrClosed) {
		t.Errorf("Ready after Close: %v", err)
	}

	_, plain, conn2 := fake(t, vici.Options{})
	conn2.Close()
	for plain.Ready(ctx) == nil {
		runtime.Gosched() // until the reader sees the hang-up
	}
	if err := plain.Ready(ctx); !errors.Is(err, vici.ErrClosed) {
		t.Errorf("Ready of a lost client without Reconnect: %v", err)
	}
}

// Options.Timeout bounds each operation whose context has no deadline of
// its own, and the connection stays in sync for the next command.
func TestOptionsTimeout(t *testing.T) {
	_, c, conn := fake(t, vici.Options{Timeout: 50 * time.Millisecond})
	go conn.Read() // "slow", never answered
	_, err := c.Call(context.Background(), "slow", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Call past Options.Timeout: %v", err)
	}
	_, err = c.Subscribe(context.Background(), "log")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Subscribe while the late reply is due: %v", err)
	}
}

// Connecting watches a daemon that is down at the start: subscriptions
// made meanwhile are registered once it comes up, with a Reconnected
// notice first.
func TestConnectingToADaemonThatIsDown(t *testing.T) {
	srv := vicitest.NewServer(t)
	srv.Stop()
	ctx := t.Context()
	c, err := vici.Connecting(srv.URI(), vici.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Call(ctx, "version", nil); !errors.Is(err, vici.ErrClosed) || !strings.Contains(err.Error(), "not connected to "+srv.URI()+" yet") {
		t.Fatalf("command before the first connection: %v", err)
	}
	sub, err := c.Subscribe(ctx, "log")
	if err != nil {
		t.Fatalf("Subscribe before the first connection: %v", err)
	}
	srv.Listen()
	conn := srv.Accept()
	d := versionDaemon()
	serve(t, d, conn)
	if ev := <-sub.Events(); !ev.Reconnected {
		t.Fatalf("first event: %+v", ev)
	}
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if d.Registered("log") != 1 {
		t.Fatalf("log registered %d times", d.Registered("log"))
	}
	conn.Event("log", vici.NewMessage().Set("msg", "hello"))
	if ev := <-sub.Events(); ev.Message.Get("msg") != "hello" {
		t.Fatalf("event: %+v", ev)
	}
	if _, err := vici.Connecting("bogus://x", vici.Options{}); err == nil {
		t.Error("Connecting accepted a malformed URI")
	}
}
