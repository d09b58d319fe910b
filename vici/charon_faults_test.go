package vici_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
)

// silentPeer is an address on the lab link that nobody holds: IKE requests
// to it go unanswered and charon retransmits until it gives up.
const silentPeer = "192.0.2.99"

// loadSilentConn loads connection name on c, towards silentPeer.
func loadSilentConn(t *testing.T, ctx context.Context, c *vici.Client, local, name string) {
	t.Helper()
	conn := vici.NewMessage().
		SetList("local_addrs", local).
		SetList("remote_addrs", silentPeer).
		SetSection("local", msg("auth", "psk", "id", name+".a")).
		SetSection("remote", msg("auth", "psk", "id", name+".peer")).
		SetSection("children", vici.NewMessage().SetSection("net", vici.NewMessage().
			SetList("local_ts", "10.1.7.0/24").SetList("remote_ts", "10.2.7.0/24")))
	mustSucceed(t, ctx, c, "load-conn", section(name, conn))
}

// TestCharonStreamDesync abandons streamed initiates while the daemon is
// still working on them, once by the caller's context and once by the
// callback's error, and checks that the late control-log entries and
// replies never reach the commands and streams that follow: with the
// callback on the caller's goroutine (CallStream) and on the reader's
// (CallStreamInline).
func TestCharonStreamDesync(t *testing.T) {
	for _, inline := range []bool{false, true} {
		name := "CallStream"
		if inline {
			name = "CallStreamInline"
		}
		t.Run(name, func(t *testing.T) { testStreamDesync(t, inline) })
	}
}

func testStreamDesync(t *testing.T, inline bool) {
	l := labtest.Start(t, lab.TwoGateways)
	ctx := charonCtx(t, 2*time.Minute)
	ga := l.Gateway("a")
	c := dialGateway(t, ga, vici.Options{})
	loadSilentConn(t, ctx, c, ga.Addr, "silent")
	stream := c.CallStream
	if inline {
		stream = c.CallStreamInline
	}

	// 1. The context ends: the daemon waits 3 s for the silent peer, the
	// caller 300 ms.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	var early []*vici.Message
	_, err := stream(short, "initiate", "control-log", msg("child", "net", "ike", "silent", "timeout", "3000"),
		func(m *vici.Message) error { early = append(early, m); return nil })
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("streamed initiate to a silent peer: want DeadlineExceeded, got %v", err)
	}
	for _, m := range early {
		if m.Get("ikesa-name") != "silent" && m.Get("ikesa-name") != "" {
			t.Errorf("control-log of the silent initiate names %q", m.Get("ikesa-name"))
		}
	}
	// The next stream gets its own entries only, and its reply.
	conns := collect(t, ctx, c, "list-conns", "list-conn", nil)
	if got := sectionNames(t, conns); strings.Join(got, ",") != "ab,silent" {
		t.Fatalf("list-conns after the abandoned initiate: %v", got)
	}
	// A streamed initiate of the real peer sees only its own log lines.
	logs, err := func() ([]*vici.Message, error) {
		var out []*vici.Message
		rep, err := stream(ctx, "initiate", "control-log", msg("child", "net", "ike", "ab", "timeout", "30000"),
			func(m *vici.Message) error { out = append(out, m); return nil })
		if err == nil && rep.Get("success") != "yes" {
			t.Errorf("initiate ab: reply %v", rep.Keys())
		}
		return out, err
	}()
	if err != nil {
		t.Fatalf("initiate ab after the abandoned one: %v%s", err, logTails(l))
	}
	for _, m := range logs {
		if n := m.Get("ikesa-name"); n != "ab" {
			t.Errorf("control-log of initiate ab carries an entry of %q: %s", n, m.Get("msg"))
		}
	}

	// 2. The callback stops the stream at its first entry.
	errStop := errors.New("seen enough")
	calls := 0
	_, err = stream(ctx, "initiate", "control-log", msg("child", "net", "ike", "silent", "timeout", "2000"),
		func(*vici.Message) error { calls++; return errStop })
	if !errors.Is(err, errStop) || calls != 1 {
		t.Fatalf("callback error: got %v after %d calls", err, calls)
	}
	v := mustCall(t, ctx, c, "version", nil)
	if v.Get("daemon") != "charon" || v.Has("success") {
		t.Fatalf("version after the stopped stream: keys %v", v.Keys())
	}
	// The abandoned initiate's reply arrives and is dropped: a failing
	// command still gets its own failure.
	ce := mustFail(t, ctx, c, "unload-conn", msg("name", "no-such-conn"))
	if !strings.Contains(ce.Errmsg, "no-such-conn") {
		t.Errorf("unload-conn of an unknown name: errmsg %q", ce.Errmsg)
	}
}

// inFlightInitiate starts an initiate towards the silent peer that the
// daemon keeps open (timeout 0: until IKE gives up) and returns its result
// channel once the daemon is working on it.
func inFlightInitiate(t *testing.T, ctx context.Context, c *vici.Client, streamed bool) <-chan error {
	t.Helper()
	res := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		req := msg("child", "net", "ike", "silent", "timeout", "0")
		if streamed {
			first := true
			_, err := c.CallStream(ctx, "initiate", "control-log", req, func(*vici.Message) error {
				if first {
					close(started)
					first = false
				}
				return nil
			})
			res <- err
			return
		}
		close(started)
		_, err := c.Call(ctx, "initiate", req)
		res <- err
	}()
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatalf("initiate did not start: %v", ctx.Err())
	}
	return res
}

// TestCharonKillInFlight kills charon with SIGKILL while an initiate is
// still waiting for the silent peer: the command fails at once with an
// error wrapping ErrClosed, with and without reconnect, and the
// reconnecting client is usable again after the restart.
func TestCharonKillInFlight(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	ga := l.Gateway("a")

	for _, reconnect := range []bool{false, true} {
		name := "noReconnect"
		if reconnect {
			name = "reconnect"
		}
		t.Run(name, func(t *testing.T) {
			ctx := charonCtx(t, time.Minute)
			c := dialGateway(t, ga, vici.Options{Reconnect: reconnect})
			loadSilentConn(t, ctx, c, ga.Addr, "silent")
			res := inFlightInitiate(t, ctx, c, reconnect)
			// Make sure the daemon is on it: the IKE_SA is connecting.
			other := dialGateway(t, ga, vici.Options{})
			waitFor(t, ctx, "the silent IKE_SA", func() bool {
				return len(collect(t, ctx, other, "list-sas", "list-sa", msg("ike", "silent"))) == 1
			})
			if err := ga.Kill(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-res:
				if !errors.Is(err, vici.ErrClosed) {
					t.Fatalf("in-flight initiate when charon died: want ErrClosed, got %v", err)
				}
			case <-ctx.Done():
				t.Fatalf("in-flight initiate still hangs after charon died: %v", ctx.Err())
			}
			if !reconnect {
				// A new dial now says what is wrong: the socket is left
				// behind by the killed daemon, nothing listens on it.
				_, err := vici.Dial(ctx, ga.URI)
				var de *vici.DialError
				if !errors.As(err, &de) || !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "charon") {
					t.Errorf("dial while charon is dead: want a *DialError for a refused connection that mentions charon, got %v", err)
				}
			}
			if err := ga.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			if !reconnect {
				if _, err := c.Call(ctx, "version", nil); !errors.Is(err, vici.ErrClosed) {
					t.Fatalf("call on a client without reconnect after restart: %v", err)
				}
				return
			}
			var v *vici.Message
			waitFor(t, ctx, "the client to reconnect", func() bool {
				var err error
				v, err = c.Call(ctx, "version", nil)
				if err != nil && !errors.Is(err, vici.ErrClosed) {
					t.Fatalf("version while reconnecting: %v", err)
				}
				return err == nil
			})
			if v.Get("daemon") != "charon" {
				t.Fatalf("version after reconnect: %v", v.Keys())
			}
			// The restarted daemon has the lab's configuration again, not
			// what was loaded over vici before the kill.
			got := c.Stream(ctx, "list-conns", "list-conn", nil)
			var names []*vici.Message
			for m, err := range got {
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, m)
			}
			if n := sectionNames(t, names); strings.Join(n, ",") != "ab" {
				t.Errorf("connections after restart: %v", n)
			}
		})
	}
}
