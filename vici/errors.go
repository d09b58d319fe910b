package vici

import (
	"errors"
	"fmt"
	"strings"
)

// Errors a caller can match with errors.Is.
var (
	// ErrUnknownCommand: the daemon has no handler for the command (CMD_UNKNOWN).
	ErrUnknownCommand = errors.New("unknown command")
	// ErrUnknownEvent: the daemon has no such event source (EVENT_UNKNOWN).
	ErrUnknownEvent = errors.New("unknown event")
	// ErrProtocol: the peer sent data that breaks the VICI protocol, or a
	// message to send breaks its limits. *ProtocolError wraps it.
	ErrProtocol = errors.New("vici protocol error")
	// ErrClosed: the connection is closed, by Close or by the daemon.
	ErrClosed = errors.New("connection closed")
	// ErrOverflow: a subscription's consumer fell more than
	// Options.MaxQueued events or Options.MaxQueuedBytes bytes behind, so
	// the subscription was ended.
	ErrOverflow = errors.New("subscription overflow")
	// ErrBudget: what a caller collected from a streamed command took
	// more memory than the caller's budget for it; the caller's error
	// (a listing's, in the Starlark modules) matches it with errors.Is.
	ErrBudget = errors.New("over the memory budget")
)

// CommandError is a command whose reply says success = no.
type CommandError struct {
	Command string   // the command's wire name, e.g. "initiate"
	Errmsg  string   // the reply's errmsg, possibly empty
	Reply   *Message // the whole reply
}

func (e *CommandError) Error() string {
	if msg := strings.TrimSpace(e.Errmsg); msg != "" {
		return fmt.Sprintf("vici: %s: %s", e.Command, msg)
	}
	return fmt.Sprintf("vici: %s failed (the daemon gave no reason)", e.Command)
}

// ProtocolError describes malformed or out-of-limit wire data. Path names
// the offending key, e.g. "conns.gw.children"; it is empty when the fault is
// in the framing.
type ProtocolError struct {
	Path   string
	Reason string
}

func (e *ProtocolError) Error() string {
	if e.Path == "" {
		return "vici: " + e.Reason
	}
	return fmt.Sprintf("vici: %s: %s", e.Path, e.Reason)
}

// Unwrap makes errors.Is(err, ErrProtocol) true.
func (e *ProtocolError) Unwrap() error { return ErrProtocol }
