package vici_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
)

// eventLog drains a subscription in the background and keeps every event,
// so that a test can look for events in any order without stalling the
// client's reader.
type eventLog struct {
	mu     sync.Mutex
	events []vici.Event
	closed bool
	err    error
	more   chan struct{} // closed and replaced whenever something arrives
}

func recordEvents(sub *vici.Subscription) *eventLog {
	e := &eventLog{more: make(chan struct{})}
	go func() {
		for ev := range sub.Events() {
			e.mu.Lock()
			e.events = append(e.events, ev)
			close(e.more)
			e.more = make(chan struct{})
			e.mu.Unlock()
		}
		e.mu.Lock()
		e.closed, e.err = true, sub.Err()
		close(e.more)
		e.mu.Unlock()
	}()
	return e
}

// snapshot returns the events received so far.
func (e *eventLog) snapshot() []vici.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]vici.Event(nil), e.events...)
}

// wait returns the first event at index from or later that match accepts,
// waiting for it if needed, and its index.
func (e *eventLog) wait(t *testing.T, ctx context.Context, from int, what string, match func(vici.Event) bool) (vici.Event, int) {
	t.Helper()
	for {
		e.mu.Lock()
		for i := from; i < len(e.events); i++ {
			if match(e.events[i]) {
				ev := e.events[i]
				e.mu.Unlock()
				return ev, i
			}
		}
		from = len(e.events)
		more, closed, err := e.more, e.closed, e.err
		e.mu.Unlock()
		if closed {
			t.Fatalf("waiting for %s: subscription closed: %v", what, err)
		}
		select {
		case <-more:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
}

// named matches events by name and an optional test of the message.
func named(name string, test func(*vici.Message) bool) func(vici.Event) bool {
	return func(ev vici.Event) bool {
		return ev.Name == name && ev.Message != nil && (test == nil || test(ev.Message))
	}
}

// isUp tells an ike-updown/child-updown "up" event from a "down" one.
func isUp(up bool) func(*vici.Message) bool {
	return func(m *vici.Message) bool { return (m.Get("up") == "yes") == up }
}

// TestCharonEvents receives every event charon raises here, for real:
// ike-updown, child-updown, ike-rekey, child-rekey, ike-update, log and
// control-log (the list-* streams are covered by TestCharonEveryCommand,
// alert by TestCharonAlert).
func TestCharonEvents(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	ctx := charonCtx(t, 2*time.Minute)
	ga, gb := l.Gateway("a"), l.Gateway("b")
	defer func() {
		if t.Failed() {
			t.Log(logTails(l))
		}
	}()
	cmd := dialGateway(t, ga, vici.Options{})
	evA := dialGateway(t, ga, vici.Options{})
	evB := dialGateway(t, gb, vici.Options{})

	subA, err := evA.Subscribe(ctx, "ike-updown", "child-updown", "ike-rekey", "child-rekey", "log")
	if err != nil {
		t.Fatal(err)
	}
	subB, err := evB.Subscribe(ctx, "ike-update", "ike-updown")
	if err != nil {
		t.Fatal(err)
	}
	a, b := recordEvents(subA), recordEvents(subB)

	// initiate, with its control-log stream; a subscription to control-log
	// on the same client sees each entry once too (one registration).
	ctlSub, err := cmd.Subscribe(ctx, "control-log")
	if err != nil {
		t.Fatal(err)
	}
	ctl := recordEvents(ctlSub)
	var streamed []*vici.Message
	reply, err := cmd.CallStream(ctx, "initiate", "control-log", msg("child", "net", "ike", "ab", "timeout", "30000"),
		func(m *vici.Message) error { streamed = append(streamed, m); return nil })
	if err != nil || reply.Get("success") != "yes" {
		t.Fatalf("initiate: %v", err)
	}
	if len(streamed) == 0 || !strings.Contains(controlLogs(streamed), "IKE_SA ab[") {
		t.Fatalf("control-log during initiate: %d entries:\n%s", len(streamed), controlLogs(streamed))
	}
	last := streamed[len(streamed)-1].Get("msg")
	ctl.wait(t, ctx, 0, "the last control-log entry on the subscription", named("control-log", func(m *vici.Message) bool { return m.Get("msg") == last }))
	ctlSub.Close()
	if got := len(ctl.snapshot()); got != len(streamed) {
		t.Errorf("control-log: the stream got %d entries, the subscription on the same client %d", len(streamed), got)
	}

	// ike-updown and child-updown, up.
	ev, _ := a.wait(t, ctx, 0, "ike-updown up", named("ike-updown", isUp(true)))
	name, ike := onlySection(t, ev.Message)
	if name != "ab" || ike.Get("state") != "ESTABLISHED" || ike.Get("remote-host") != gb.Addr || ike.Has("child-sas") {
		t.Errorf("ike-updown up: %s state %q remote-host %q keys %v", name, ike.Get("state"), ike.Get("remote-host"), ike.Keys())
	}
	ev, _ = a.wait(t, ctx, 0, "child-updown up", named("child-updown", isUp(true)))
	name, ike = onlySection(t, ev.Message)
	if cs := ike.Section("child-sas"); name != "ab" || cs == nil || cs.Len() != 1 {
		t.Fatalf("child-updown up: %s with child-sas %v", name, ike.Keys())
	}
	_, child := onlySection(t, ike.Section("child-sas"))
	if child.Get("name") != "net" || child.Get("state") != "INSTALLED" {
		t.Errorf("child-updown up: child %q state %q", child.Get("name"), child.Get("state"))
	}
	oldChild := child.Get("uniqueid")

	// ike-update on the responder: with MOBIKE the initiator floats to
	// port 4500 for IKE_AUTH, and b updates the IKE_SA's endpoints.
	ev, _ = b.wait(t, ctx, 0, "ike-update on b", named("ike-update", nil))
	if ev.Message.Get("remote-host") != ga.Addr || ev.Message.Get("remote-port") != "4500" || ev.Message.Get("local-port") != "4500" {
		t.Errorf("ike-update: local %s:%s remote %s:%s", ev.Message.Get("local-host"), ev.Message.Get("local-port"), ev.Message.Get("remote-host"), ev.Message.Get("remote-port"))
	}
	// The section holds the IKE_SA as it was: no peer config chosen yet
	// (charon names it "(unnamed)"), port 500.
	if name, old := onlySection(t, ev.Message); name != "(unnamed)" || old.Get("remote-host") != ga.Addr || old.Get("remote-port") != "500" {
		t.Errorf("ike-update: IKE_SA %s with the old remote endpoint %s:%s", name, old.Get("remote-host"), old.Get("remote-port"))
	}

	// child-rekey
	if r := mustSucceed(t, ctx, cmd, "rekey", msg("child", "net")); r.Get("matches") != "1" {
		t.Fatalf("rekey child: matches %q", r.Get("matches"))
	}
	ev, _ = a.wait(t, ctx, 0, "child-rekey", named("child-rekey", nil))
	name, ike = onlySection(t, ev.Message)
	cs := ike.Section("child-sas")
	if name != "ab" || cs == nil {
		t.Fatalf("child-rekey: %s keys %v", name, ike.Keys())
	}
	_, pair := onlySection(t, cs)
	oldSA, newSA := pair.Section("old"), pair.Section("new")
	if oldSA == nil || newSA == nil || oldSA.Get("uniqueid") != oldChild || newSA.Get("uniqueid") == oldChild || newSA.Get("name") != "net" {
		t.Errorf("child-rekey: old %v new %v (the CHILD_SA was #%s)", oldSA, newSA, oldChild)
	}

	// ike-rekey
	oldIKE := ike.Get("uniqueid")
	if r := mustSucceed(t, ctx, cmd, "rekey", msg("ike", "ab")); r.Get("matches") != "1" {
		t.Fatalf("rekey ike: matches %q", r.Get("matches"))
	}
	ev, _ = a.wait(t, ctx, 0, "ike-rekey", named("ike-rekey", nil))
	name, ike = onlySection(t, ev.Message)
	oldSA, newSA = ike.Section("old"), ike.Section("new")
	if name != "ab" || oldSA == nil || newSA == nil || oldSA.Get("uniqueid") != oldIKE || newSA.Get("uniqueid") == oldIKE ||
		newSA.Get("state") != "ESTABLISHED" {
		t.Errorf("ike-rekey: %s old %v new %v (the IKE_SA was #%s)", name, oldSA, newSA, oldIKE)
	}
	newIKE := newSA.Get("uniqueid")

	// A rekeyed IKE_SA goes away without ike-updown; wait until it is gone,
	// then terminate its successor: that one goes down.
	waitFor(t, ctx, "the rekeyed IKE_SA to go", func() bool {
		sas := collect(t, ctx, cmd, "list-sas", "list-sa", nil)
		if len(sas) != 1 {
			return false
		}
		_, ike := onlySection(t, sas[0])
		return ike.Get("uniqueid") == newIKE
	})
	from := len(a.snapshot())
	mustSucceed(t, ctx, cmd, "terminate", msg("ike", "ab", "timeout", "30000"))
	ev, _ = a.wait(t, ctx, from, "ike-updown down", named("ike-updown", isUp(false)))
	if name, ike := onlySection(t, ev.Message); name != "ab" || ike.Get("uniqueid") != newIKE || ev.Message.Has("up") {
		t.Errorf("ike-updown down: %s #%s, want ab #%s without up", name, ike.Get("uniqueid"), newIKE)
	}
	a.wait(t, ctx, from, "child-updown down", named("child-updown", isUp(false)))
	b.wait(t, ctx, 0, "ike-updown down on b", named("ike-updown", isUp(false)))

	// log: the daemon's own log messages, with their metadata.
	ev, _ = a.wait(t, ctx, 0, "a log message about IKE_SA ab", named("log", func(m *vici.Message) bool {
		return strings.Contains(m.Get("msg"), "IKE_SA ab[")
	}))
	for _, k := range []string{"group", "level", "thread", "ikesa-name", "ikesa-uniqueid", "msg"} {
		if !ev.Message.Has(k) {
			t.Errorf("log event lacks %q: keys %v", k, ev.Message.Keys())
		}
	}

	// Every event came once: exactly one up and one down ike-updown (a
	// rekey raises ike-rekey, no up or down).
	var ups, downs int
	for _, ev := range a.snapshot() {
		if ev.Name == "ike-updown" {
			if ev.Message.Get("up") == "yes" {
				ups++
			} else {
				downs++
			}
		}
	}
	if ups != 1 || downs != 1 {
		t.Errorf("ike-updown on a: %d up, %d down; want 1 and 1", ups, downs)
	}
	subA.Close()
	subB.Close()
	if v := mustCall(t, ctx, evA, "version", nil); v.Get("daemon") != "charon" {
		t.Errorf("version after closing the subscription: %v", v.Keys())
	}
}

// TestCharonAlert checks the alert event, new in strongSwan 6.0.3. On an
// older daemon subscribing is refused as an unknown event, and nothing is
// subscribed, not even a known event asked for with it. On 6.0.3 and newer
// a responder raises a real proposal-mismatch-ike alert, with the IKE_SA
// it concerns, when a peer offers only an IKE proposal it does not accept.
func TestCharonAlert(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	ctx := charonCtx(t, time.Minute)
	ga, gb := l.Gateway("a"), l.Gateway("b")
	defer func() {
		if t.Failed() {
			t.Log(logTails(l))
		}
	}()
	evB := dialGateway(t, gb, vici.Options{})
	if !labtest.AtLeast(t, gb, "6.0.3") {
		t.Logf("strongSwan %s predates the alert event (6.0.3): checking its refusal", gb.Version())
		if _, err := evB.Subscribe(ctx, "alert"); !errors.Is(err, vici.ErrUnknownEvent) || !strings.Contains(err.Error(), "alert") {
			t.Fatalf("subscribe alert: want an error wrapping ErrUnknownEvent naming it, got %v", err)
		}
		if _, err := evB.Subscribe(ctx, "ike-updown", "alert"); !errors.Is(err, vici.ErrUnknownEvent) {
			t.Fatalf("subscribe ike-updown+alert: want ErrUnknownEvent, got %v", err)
		}
		if v := mustCall(t, ctx, evB, "version", nil); v.Get("daemon") != "charon" {
			t.Errorf("version after the refused subscription: %v", v.Keys())
		}
		return
	}
	sub, err := evB.Subscribe(ctx, "alert")
	if err != nil {
		t.Fatalf("subscribe alert on strongSwan %s: %v", gb.Version(), err)
	}
	alerts := recordEvents(sub)
	cmd := dialGateway(t, ga, vici.Options{})
	// b's connection ab takes charon's default IKE proposals, which have
	// no MODP-1024 group.
	weak := vici.NewMessage().
		SetList("local_addrs", ga.Addr).SetList("remote_addrs", gb.Addr).
		SetList("proposals", "aes128-sha256-modp1024").
		SetSection("local", msg("auth", "psk")).
		SetSection("remote", msg("auth", "psk")).
		SetSection("children", vici.NewMessage().SetSection("weak", vici.NewMessage().SetList("local_ts", lab.NetA)))
	mustSucceed(t, ctx, cmd, "load-conn", section("weak", weak))
	if _, err := cmd.Call(ctx, "initiate", msg("child", "weak", "ike", "weak", "timeout", "30000")); err == nil {
		t.Fatal("initiate with a proposal the peer refuses succeeded")
	}
	ev, _ := alerts.wait(t, ctx, 0, "proposal-mismatch-ike alert on b", named("alert", func(m *vici.Message) bool {
		return m.Get("type") == "proposal-mismatch-ike"
	}))
	sa := ev.Message.Section("ike-sa")
	if sa == nil {
		t.Fatalf("proposal-mismatch-ike alert without ike-sa: %v", ev.Message.Keys())
	}
	name, ike := onlySection(t, sa)
	if ike.Get("remote-host") != ga.Addr || ike.Has("child-sas") {
		t.Errorf("alert's ike-sa %s: %v", name, ike)
	}
	if err := sub.Close(); err != nil {
		t.Errorf("unsubscribe alert: %v", err)
	}
}
