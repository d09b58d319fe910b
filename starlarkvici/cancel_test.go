package starlarkvici

import (
	"context"
	"errors"
	"github.com/vicish/vicish/starctx"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
)

// cancelWhen runs script against gateway "a" and cancels its context once
// ready reports true, as a host does on Ctrl-C. It returns the script's
// error, which must come back although the script would block forever.
func cancelWhen(t *testing.T, l *lab.Lab, script string, ready func(*Module) bool) error {
	t.Helper()
	guard, stop := context.WithTimeout(context.Background(), 2*time.Minute)
	defer stop()
	ctx, cancel := context.WithCancelCause(guard)
	defer cancel(nil)
	mod := NewModule(Config{URI: l.Gateway("a").URI})
	defer mod.Close()
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for !ready(mod) {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
		cancel(errors.New("Ctrl-C"))
	}()
	err := runWith(t, l, mod, &syncBuffer{}, "cancel.star", script, ctx)
	if guard.Err() != nil {
		t.Fatalf("the script ran until the guard timeout instead of stopping when cancelled: %v", err)
	}
	return err
}

func listening(m *Module) bool {
	m.ls.mu.Lock()
	defer m.ls.mu.Unlock()
	return m.ls.active
}

func waiting(m *Module) bool {
	m.def.events.mu.Lock()
	defer m.def.events.mu.Unlock()
	return m.def.events.waiting["ike-updown"] > 0 && slices.Contains(m.def.events.names, "ike-updown")
}

func TestCancel(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)

	t.Run("listen", func(t *testing.T) {
		err := cancelWhen(t, l, `
vici.on("ike-updown", print)
vici.listen()
fail("listen returned")
`, listening)
		if err == nil || !strings.Contains(err.Error(), "vici.listen: interrupted: Ctrl-C") || !errors.Is(err, starctx.ErrInterrupted) {
			t.Fatalf("got %v, want vici.listen: interrupted, wrapping starctx.ErrInterrupted", err)
		}
	})

	t.Run("wait", func(t *testing.T) {
		err := cancelWhen(t, l, `
vici.wait("ike-updown")
fail("wait returned")
`, waiting)
		if err == nil || !strings.Contains(err.Error(), "vici.wait: interrupted: Ctrl-C") || !errors.Is(err, starctx.ErrInterrupted) {
			t.Fatalf("got %v, want vici.wait: interrupted, wrapping starctx.ErrInterrupted", err)
		}
	})

	t.Run("command", func(t *testing.T) {
		// initiate towards a peer that does not exist: charon retransmits
		// for a long time. Cancel once the daemon shows the half-open SA.
		ctx := context.Background()
		watcher, err := vici.Dial(ctx, l.Gateway("a").URI)
		if err != nil {
			t.Fatal(err)
		}
		defer watcher.Close()
		connecting := func(*Module) bool {
			n := 0
			_, err := watcher.CallStream(ctx, "list-sas", "list-sa", vici.NewMessage().Set("ike", "dead"), func(*vici.Message) error {
				n++
				return nil
			})
			return err == nil && n > 0
		}
		err = cancelWhen(t, l, `
vici.load_conn({"dead": {"remote_addrs": "192.0.2.99", "local": {"auth": "psk"}, "remote": {"auth": "psk"},
                         "children": {"c": {"local_ts": "10.1.9.0/24"}}}})
vici.initiate(child="c", ike="dead")
fail("initiate returned")
`, connecting)
		if err == nil || !strings.Contains(err.Error(), "vici.initiate: interrupted: Ctrl-C") || !errors.Is(err, starctx.ErrInterrupted) {
			t.Fatalf("got %v, want vici.initiate: interrupted, wrapping starctx.ErrInterrupted", err)
		}
		// the daemon is fine and answers a new client at once
		if _, err := watcher.Call(ctx, "terminate", vici.NewMessage().Set("ike", "dead").Set("force", "yes")); err != nil {
			t.Fatal(err)
		}
	})
}
