package vici

import (
	"context"
	"errors"
)

// Why a command failed, as Reason classifies it: a small fixed set that a
// script can use as a label (a vici.group member's error value, a
// swanctl.plan member's reason).
const (
	// ReasonUnreachable: no connection (the daemon is down, the socket
	// or host cannot be reached, ssh failed, the client is redialling).
	ReasonUnreachable = "unreachable"
	// ReasonTimeout: the deadline passed, dialling or awaiting a reply.
	ReasonTimeout = "timeout"
	// ReasonProtocol: the peer broke the VICI protocol.
	ReasonProtocol = "protocol"
	// ReasonRefused: the daemon answered but refused the command
	// (success = no, an unknown command or event).
	ReasonRefused = "refused"
	// ReasonBudget: what the daemon sent took more memory than the
	// caller's budget for it (an error matching ErrBudget).
	ReasonBudget = "budget"
)

// Reason classifies the error of a failed command or dial as one of the
// Reason constants.
func Reason(err error) string {
	var cmdErr *CommandError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	case errors.Is(err, ErrProtocol):
		return ReasonProtocol
	case errors.As(err, &cmdErr), errors.Is(err, ErrUnknownCommand), errors.Is(err, ErrUnknownEvent):
		return ReasonRefused
	case errors.Is(err, ErrBudget):
		return ReasonBudget
	}
	return ReasonUnreachable
}
