package starlarkvici

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/vicish/vicish/vici"
)

// TestReason: every way a command fails falls into one of the four
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
	} {
		if got := Reason(c.err); got != c.want {
			t.Errorf("Reason(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
