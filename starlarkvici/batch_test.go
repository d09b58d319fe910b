package starlarkvici

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/vici"
)

// TestReason: every way a command fails falls into one of the five
// reasons a monitoring script labels it with; the lab test of g.batch
// covers unreachable, timeout and refused with a real daemon, and a
// protocol fault needs a peer that breaks the protocol.
func TestReason(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&vici.DialError{URI: "unix:///nonexistent", Err: errors.New("no such file or directory")}, ReasonUnreachable},
		{fmt.Errorf("vici.version: %w", vici.ErrClosed), ReasonUnreachable},
		{fmt.Errorf("vici.version: no reply%w", quiet{context.DeadlineExceeded}), ReasonTimeout},
		{&vici.DialError{URI: "ssh://gw/x", Err: context.DeadlineExceeded}, ReasonTimeout},
		{fmt.Errorf("vici.list_sas: %w", &vici.ProtocolError{Reason: "frame too large"}), ReasonProtocol},
		{fmt.Errorf("vici.initiate: no config%w", quiet{&vici.CommandError{Command: "initiate"}}), ReasonRefused},
		{fmt.Errorf("x: %w", vici.ErrUnknownCommand), ReasonRefused},
		{fmt.Errorf("x: %w", vici.ErrUnknownEvent), ReasonRefused},
		{fmt.Errorf("vici.list_sas: %w", &ListingError{Entries: 3, Received: 1 << 20, Budget: 1 << 19}), ReasonBudget},
	} {
		if got := Reason(c.err); got != c.want {
			t.Errorf("Reason(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// A module sets up at most maxDialing connections at once; a command that
// waits for its turn longer than its deadline fails as a timeout, saying
// it was not connected, and sends nothing.
func TestDialTurns(t *testing.T) {
	m := NewModule(Config{URI: "unix:///nonexistent/charon.vici"})
	defer m.Close()
	for i := 0; i < cap(m.dialing); i++ {
		m.dialing <- struct{}{} // every turn taken
	}
	if cap(m.dialing) < 8 {
		t.Errorf("maxDialing = %d, want at least 8", cap(m.dialing))
	}
	thread := &starlark.Thread{Name: "turns"}
	v, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "turns.star",
		`r = vici.group({"gw": "unix:///nonexistent/charon.vici"}, deadline=0.05).batch(["version"])["gw"]`,
		starlark.StringDict{"vici": m})
	if err != nil {
		t.Fatal(err)
	}
	r := v["r"].(*starlark.Dict)
	reason, _, _ := r.Get(starlark.String("reason"))
	msg, _, _ := r.Get(starlark.String("error"))
	if reason != starlark.String(ReasonTimeout) || !strings.Contains(msg.String(), "not connected to unix:///nonexistent/charon.vici within 50ms") {
		t.Errorf("a dial that never got its turn: %v", r)
	}
}
