package script

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/stdlib/sys"
	"github.com/vicish/vicish/vici"
)

// Exit codes of vicish and of ExitCode.
const (
	ExitOK          = 0   // success
	ExitError       = 1   // a script error: fail(), a failed command, a runtime error
	ExitUsage       = 2   // a usage error or a syntax error
	ExitUnreachable = 3   // the daemon cannot be reached
	ExitInterrupted = 130 // Ctrl-C (SIGINT)
	ExitTerminated  = 143 // SIGTERM
)

// Causes a host gives to context.WithCancelCause when a signal stops a
// script; ExitCode maps them to 130 and 143. ErrInterrupted is
// starctx.ErrInterrupted, which every blocking builtin's error wraps when
// the host ended it.
var (
	ErrInterrupted = starctx.ErrInterrupted
	ErrTerminated  = errors.New("terminated")
)

// UsageError is a mistake in how a script was invoked (for example a file
// that cannot be read); ExitCode maps it to 2.
type UsageError struct{ Err error }

// Error returns the underlying message.
func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *UsageError) Unwrap() error { return e.Err }

// ExitCode maps the error of a script run under ctx to a process exit code:
// exit(n) gives n, a signal recorded as ctx's cause gives 130 or 143, a
// syntax or usage error 2, an unreachable daemon 3 (no socket, nothing
// listening, connection lost), any other error 1 — also a deadline that
// passed while connecting.
func ExitCode(ctx context.Context, err error) int {
	if err == nil {
		return ExitOK
	}
	if code, ok := ExitRequested(err); ok {
		return code
	}
	if ctx != nil && ctx.Err() != nil {
		switch cause := context.Cause(ctx); {
		case errors.Is(cause, ErrInterrupted):
			return ExitInterrupted
		case errors.Is(cause, ErrTerminated):
			return ExitTerminated
		}
	}
	if IsSyntaxError(err) {
		return ExitUsage
	}
	var usage *UsageError
	if errors.As(err, &usage) {
		return ExitUsage
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ExitError // a deadline passed, even while dialling: not "unreachable"
	}
	if isUnreachable(err) {
		return ExitUnreachable
	}
	return ExitError
}

// ExitRequested reports whether err is (or wraps) a request to end the
// program made by exit(n) or sys.exit(n), and the code asked for.
func ExitRequested(err error) (code int, ok bool) {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return exit.Code, true
	}
	return 0, false
}

// IsSyntaxError reports whether err is a scanner, parser or resolver error:
// the program did not start.
func IsSyntaxError(err error) bool {
	var serr syntax.Error
	var rerr resolve.ErrorList
	return errors.As(err, &serr) || errors.As(err, &rerr)
}

// isUnreachable reports whether err says the daemon could not be reached,
// or that its connection was lost.
func isUnreachable(err error) bool {
	var dial *vici.DialError
	return errors.As(err, &dial) || errors.Is(err, vici.ErrClosed)
}

// FormatError renders err for a person: a Starlark backtrace (one
// "file:line:col: in function" line per frame, most recent last) followed by
// the message; every resolver error with its position; any secret the
// runtime knows of replaced by <redacted>; a line longer than
// maxErrorLine bytes (a builtin quoting a 100 MB argument) cut in the
// middle. The text has no trailing newline.
func (r *Runtime) FormatError(err error) string {
	return shortenLines(r.secrets.Redact(formatError(err)))
}

// maxErrorLine is the longest line of an error FormatError shows whole.
const maxErrorLine = 4096

// shortenLines cuts each line of text longer than maxErrorLine to its
// first and last bytes, saying how many it left out.
func shortenLines(text string) string {
	if len(text) <= maxErrorLine {
		return text
	}
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if len(line) <= maxErrorLine {
			continue
		}
		head, tail := line[:maxErrorLine/2], line[len(line)-maxErrorLine/4:]
		head = strings.ToValidUTF8(head, "")
		tail = strings.ToValidUTF8(tail, "")
		lines[i] = fmt.Sprintf("%s ... (%d bytes left out) ... %s", head, len(line)-len(head)-len(tail), tail)
	}
	return strings.Join(lines, "\n")
}

// formatError is FormatError without shortening.
func formatError(err error) string {
	if err == nil {
		return ""
	}
	var eval *starlark.EvalError
	var rerr resolve.ErrorList
	switch {
	case errors.As(err, &eval):
		return backtrace(eval)
	case errors.As(err, &rerr):
		lines := make([]string, len(rerr))
		for i, e := range rerr {
			lines[i] = e.Error()
		}
		return strings.Join(lines, "\n")
	}
	return strings.TrimRight(err.Error(), "\n")
}

// backtrace renders a Starlark error as go.starlark.net's Backtrace does
// (the frames, most recent last, then the message), except that an error
// from a builtin names the builtin once: builtins start their messages
// with their own name, so that the message reads well alone (an embedder's
// err.Error()), and the last line is "Error in " + that message; only a
// builtin that does not name itself is named here.
func backtrace(e *starlark.EvalError) string {
	stack, msg := e.CallStack, strings.TrimRight(e.Msg, "\n")
	last := len(stack) - 1
	if last < 0 || stack[last].Pos.Filename() != "<builtin>" {
		return fmt.Sprintf("%sError: %s", stack, msg)
	}
	if name := stack[last].Name; !strings.HasPrefix(msg, name+": ") {
		msg = name + ": " + msg
	}
	return fmt.Sprintf("%sError in %s", stack[:last], msg)
}
