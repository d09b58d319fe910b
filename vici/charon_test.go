package vici_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
)

// These tests run against real charon daemons started by internal/lab.

func dialT(t *testing.T, uri string, opts vici.Options) *vici.Client {
	t.Helper()
	c, err := vici.DialOptions(t.Context(), uri, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCharonVersionAndStats(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	a := l.Gateway("a")
	c := dialT(t, a.URI, vici.Options{})
	ctx := t.Context()

	rep, err := c.Call(ctx, "version", nil)
	if err != nil {
		t.Fatal(err)
	}
	// swanctl asks the same daemon; both answers must agree.
	out, err := a.Swanctl(ctx, "--version", "--daemon")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, key := range []string{"daemon", "version", "sysname", "release", "machine"} {
		v := rep.Get(key)
		if v == "" || !strings.Contains(string(out), v) {
			t.Errorf("version.%s = %q, not in swanctl's %q", key, v, out)
		}
	}
	if got := strings.Join(rep.Keys(), ","); got != "daemon,version,sysname,release,machine" {
		t.Errorf("reply keys in wire order: %s", got)
	}

	st, err := c.Call(ctx, "stats", nil)
	if err != nil {
		t.Fatal(err)
	}
	total, err := strconv.Atoi(st.Section("workers").Get("total"))
	if err != nil || total <= 0 {
		t.Errorf("stats.workers.total = %q", st.Section("workers").Get("total"))
	}
	if st.Section("ikesas").Get("total") != "0" {
		t.Errorf("a fresh daemon has %s IKE_SAs", st.Section("ikesas").Get("total"))
	}
	plugins := st.List("plugins")
	stOut, err := a.Swanctl(ctx, "--stats")
	if err != nil {
		t.Fatalf("%v: %s", err, stOut)
	}
	if len(plugins) == 0 {
		t.Fatal("stats lists no plugins")
	}
	for _, p := range plugins {
		if !strings.Contains(string(stOut), p) {
			t.Errorf("plugin %q not in swanctl --stats", p)
		}
	}
	if !strings.Contains(" "+strings.Join(plugins, " ")+" ", " vici ") {
		t.Errorf("plugins %v lack vici", plugins)
	}

	_, err = c.Call(ctx, "no-such-command", nil)
	if !errors.Is(err, vici.ErrUnknownCommand) {
		t.Errorf("unknown command: %v", err)
	}
	// alert is new in 6.0.3: older daemons refuse it as an unknown event.
	sub, err := c.Subscribe(ctx, "alert")
	if labtest.AtLeast(t, a, "6.0.3") {
		if err != nil {
			t.Errorf("alert on strongSwan %s: %v", a.Version(), err)
		} else if err := sub.Close(); err != nil {
			t.Errorf("unsubscribe alert: %v", err)
		}
	} else if !errors.Is(err, vici.ErrUnknownEvent) || !strings.Contains(err.Error(), `"alert"`) {
		t.Errorf("alert on strongSwan %s: want ErrUnknownEvent naming it, got %v", a.Version(), err)
	}
	rep, err = c.Call(ctx, "unload-conn", vici.NewMessage().Set("name", "nonexistent"))
	var ce *vici.CommandError
	if !errors.As(err, &ce) || ce.Errmsg == "" || rep.Get("success") != "no" {
		t.Errorf("unload-conn of a missing conn: %v, %v", rep, err)
	}
}

func TestCharonStreamListConns(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	a := l.Gateway("a")
	ctx := t.Context()
	const n = 300
	if err := l.LoadConns(ctx, "a", n); err != nil {
		t.Fatal(err)
	}
	c := dialT(t, a.URI, vici.Options{})
	seen := map[string]int{}
	for m, err := range c.Stream(ctx, "list-conns", "list-conn", nil) {
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range m.Keys() {
			seen[name]++
			if m.Section(name).List("remote_addrs") == nil {
				t.Errorf("conn %s has no remote_addrs", name)
			}
		}
	}
	if len(seen) != n {
		t.Errorf("listed %d connections, want %d", len(seen), n)
	}
	for i := 1; i <= n; i++ {
		if seen[lab.BulkConnName(i)] != 1 {
			t.Fatalf("%s listed %d times", lab.BulkConnName(i), seen[lab.BulkConnName(i)])
		}
	}
	// Leave a stream early, then list again and run a command.
	k := 0
	for _, err := range c.Stream(ctx, "list-conns", "list-conn", nil) {
		if err != nil {
			t.Fatal(err)
		}
		if k++; k == 5 {
			break
		}
	}
	// swanctl --load-conns loads over vici, so get-conns lists them all.
	rep, err := c.Call(ctx, "get-conns", nil)
	if err != nil || len(rep.List("conns")) != n {
		t.Fatalf("get-conns after an early break: %v, %d conns", err, len(rep.List("conns")))
	}
	count := 0
	if _, err := c.CallStream(ctx, "list-conns", "list-conn", nil, func(*vici.Message) error {
		count++
		return nil
	}); err != nil || count != n {
		t.Fatalf("second full listing: %d entries, %v", count, err)
	}

	// A subscription and a stream of the same event share one
	// registration: charon would deliver every entry twice otherwise.
	sub, err := c.Subscribe(ctx, "list-conn")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int)
	go func() {
		k := 0
		for range sub.Events() {
			k++
		}
		done <- k
	}()
	count = 0
	if _, err := c.CallStream(ctx, "list-conns", "list-conn", nil, func(*vici.Message) error {
		count++
		return nil
	}); err != nil || count != n {
		t.Errorf("listing with a subscription open: %d entries, %v", count, err)
	}
	// The reader queues the subscription's events before it hands over
	// the reply, so all of them are in by now.
	sub.Close()
	if k := <-done; k != n {
		t.Errorf("subscription got %d entries, want %d", k, n)
	}
}

// loadDeadConn loads a connection on gateway a to an address on the lab
// link that nobody answers on.
func loadDeadConn(t *testing.T, c *vici.Client, local string) {
	t.Helper()
	conn := vici.NewMessage().
		Set("version", "2").
		SetList("local_addrs", local).
		SetList("remote_addrs", "192.0.2.99").
		SetSection("local", vici.NewMessage().Set("auth", "psk").Set("id", "dead-a")).
		SetSection("remote", vici.NewMessage().Set("auth", "psk").Set("id", "dead-b")).
		SetSection("children", vici.NewMessage().SetSection("net", vici.NewMessage().
			SetList("local_ts", "10.9.0.0/24").SetList("remote_ts", "10.8.0.0/24")))
	if _, err := c.Call(t.Context(), "load-conn", vici.NewMessage().SetSection("dead", conn)); err != nil {
		t.Fatal(err)
	}
}

func TestCharonInitiateEventsAndDesync(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	a := l.Gateway("a")
	ctx := t.Context()
	c := dialT(t, a.URI, vici.Options{})

	sub, err := c.Subscribe(ctx, "ike-updown", "child-updown")
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	rep, err := c.CallStream(ctx, "initiate", "control-log",
		vici.NewMessage().Set("child", "net").Set("ike", "ab").Set("loglevel", "1"),
		func(m *vici.Message) error {
			logs = append(logs, m.Get("msg"))
			return nil
		})
	if err != nil {
		t.Fatalf("initiate: %v\nlog a:\n%s", err, a.LogTail(30))
	}
	if rep.Get("success") != "yes" || len(logs) == 0 {
		t.Fatalf("initiate reply %v with %d control-log events", rep, len(logs))
	}
	if !strings.Contains(strings.Join(logs, "\n"), "ab") {
		t.Errorf("control-log never names the connection: %q", logs)
	}
	// The subscription saw the IKE_SA and the CHILD_SA come up while
	// initiate ran.
	got := map[string]bool{}
	for len(got) < 2 {
		ev := <-sub.Events()
		if ev.Message.Get("up") == "yes" && ev.Message.Section("ab") != nil {
			got[ev.Name] = true
		}
	}
	// The SA is listed, and its unique id matches list-sas.
	var ids []string
	for m, err := range c.Stream(ctx, "list-sas", "list-sa", vici.NewMessage().Set("ike", "ab")) {
		if err != nil {
			t.Fatal(err)
		}
		if sa := m.Section("ab"); sa != nil && sa.Get("state") == "ESTABLISHED" {
			ids = append(ids, sa.Get("uniqueid"))
		}
	}
	if len(ids) != 1 {
		t.Fatalf("list-sas shows %d established ab SAs", len(ids))
	}

	// No desync: initiate towards a peer that never answers, with the
	// daemon waiting 3 s and the caller only 300 ms.
	loadDeadConn(t, c, a.Addr)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = c.Call(short, "initiate", vici.NewMessage().Set("child", "net").Set("ike", "dead").Set("timeout", "3000"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("initiate to a silent peer: %v", err)
	}
	ver, err := c.Call(ctx, "version", nil)
	if err != nil || ver.Get("daemon") != "charon" || ver.Has("success") {
		t.Fatalf("version after the abandoned initiate: %v, %v", ver, err)
	}

	// Terminate: the subscription sees it go down.
	rep, err = c.CallStream(ctx, "terminate", "control-log", vici.NewMessage().Set("ike-id", ids[0]),
		func(*vici.Message) error { return nil })
	if err != nil || rep.Get("success") != "yes" {
		t.Fatalf("terminate: %v, %v", rep, err)
	}
	for {
		ev := <-sub.Events()
		if ev.Name == "ike-updown" && !ev.Message.Has("up") && ev.Message.Section("ab") != nil {
			break
		}
	}
}

func TestCharonRestart(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	a := l.Gateway("a")
	ctx := t.Context()

	t.Run("reconnect", func(t *testing.T) {
		c := dialT(t, a.URI, vici.Options{Reconnect: true})
		sub, err := c.Subscribe(ctx, "ike-updown")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Kill(); err != nil {
			t.Fatal(err)
		}
		// While the daemon is down, commands fail at once and say why.
		for {
			_, err := c.Call(ctx, "version", nil)
			if err == nil {
				continue // the reader has not seen the hang-up yet
			}
			if !errors.Is(err, vici.ErrClosed) {
				t.Fatalf("call while the daemon is down: %v", err)
			}
			if strings.Contains(err.Error(), "reconnecting") {
				break
			}
		}
		if err := a.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		ev := <-sub.Events()
		if !ev.Reconnected {
			t.Fatalf("first event after the restart: %+v", ev)
		}
		// The client is usable and the subscription registered again.
		if _, err := c.Call(ctx, "version", nil); err != nil {
			t.Fatal(err)
		}
		rep, err := c.Call(ctx, "initiate", vici.NewMessage().Set("child", "net").Set("ike", "ab"))
		if err != nil || rep.Get("success") != "yes" {
			t.Fatalf("initiate after reconnect: %v, %v\n%s", rep, err, a.LogTail(20))
		}
		ev = <-sub.Events()
		if ev.Name != "ike-updown" || ev.Message.Get("up") != "yes" {
			t.Fatalf("event after the restart: %+v", ev)
		}
	})

	t.Run("noReconnect", func(t *testing.T) {
		c := dialT(t, a.URI, vici.Options{})
		sub, err := c.Subscribe(ctx, "ike-updown")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Kill(); err != nil {
			t.Fatal(err)
		}
		for ev := range sub.Events() {
			t.Errorf("unexpected event %+v", ev)
		}
		if err := sub.Err(); !errors.Is(err, vici.ErrClosed) || !strings.Contains(err.Error(), a.URI) {
			t.Errorf("sub.Err = %v", err)
		}
		_, err = c.Call(ctx, "version", nil)
		if !errors.Is(err, vici.ErrClosed) || strings.Contains(err.Error(), "reconnecting") {
			t.Fatalf("call after the daemon died: %v", err)
		}
		if err := a.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Call(ctx, "version", nil); !errors.Is(err, vici.ErrClosed) {
			t.Errorf("a closed client came back: %v", err)
		}
	})
}

// TestDialOption puts a real daemon behind an ssh:// URI with Options.Dial:
// no ssh runs, every connection (the first and the redial after the
// daemon restarts) goes through the hook, and a failing hook gives a
// *DialError naming the URI and wrapping the hook's error.
func TestDialOption(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	a := l.Gateway("a")
	const uri = "ssh://gw-nowhere.invalid/run/charon.vici"
	dials := make(chan string, 8)
	opts := vici.Options{
		Reconnect: true,
		Dial: func(ctx context.Context, got string) (net.Conn, error) {
			dials <- got
			var d net.Dialer
			return d.DialContext(ctx, "unix", a.Socket)
		},
	}
	c := dialT(t, uri, opts)
	if got := <-dials; got != uri {
		t.Errorf("Dial was given %q, want %q", got, uri)
	}
	if _, err := c.Call(t.Context(), "version", nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := <-dials; got != uri {
		t.Errorf("the redial went to %q, want %q through Dial", got, uri)
	}
	if err := c.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(t.Context(), "version", nil); err != nil {
		t.Errorf("after the redial: %v", err)
	}

	refused := errors.New("no daemon here")
	_, err := vici.DialOptions(t.Context(), uri, vici.Options{Dial: func(context.Context, string) (net.Conn, error) { return nil, refused }})
	var derr *vici.DialError
	if !errors.As(err, &derr) || derr.URI != uri || !errors.Is(err, refused) {
		t.Errorf("a failing Dial: %v (%T), want a *vici.DialError for %s wrapping its error", err, err, uri)
	}
}
