package starctx

import (
	"context"
	"errors"
	"time"

	"go.starlark.net/starlark"
)

// ErrInterrupted is wrapped by the error every blocking builtin returns when
// the host's context ended while it waited (Ctrl-C, SIGTERM, an embedder's
// cancel). Hosts may also use it as the cause they cancel with.
var ErrInterrupted = errors.New("interrupted")

// interrupted is the error Interrupted returns; it wraps ErrInterrupted
// and the context's cause.
type interrupted struct{ cause error }

func (e *interrupted) Error() string {
	if e.cause == nil || errors.Is(e.cause, ErrInterrupted) || errors.Is(e.cause, context.Canceled) {
		return "interrupted"
	}
	return "interrupted: " + e.cause.Error()
}

func (e *interrupted) Unwrap() []error { return []error{ErrInterrupted, e.cause} }

// Interrupted returns nil while ctx is live, and once it has ended an error
// wrapping both ErrInterrupted and ctx's cause (context.Cause), reading
// "interrupted" or "interrupted: CAUSE".
func Interrupted(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	return &interrupted{cause: context.Cause(ctx)}
}

// WithTimeout returns the context of thread (see From) bounded by d, for
// one blocking call; d <= 0 means no bound. Call cancel when the call
// returns. When the returned context ends, Interrupted(From(thread)) tells
// the host's cancellation from the expiry of d.
func WithTimeout(thread *starlark.Thread, d time.Duration) (ctx context.Context, cancel context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(From(thread), d)
	}
	return context.WithCancel(From(thread))
}

// Sleep waits for d or until ctx ends; in the second case it returns
// Interrupted(ctx).
func Sleep(ctx context.Context, d time.Duration) error {
	if err := Interrupted(ctx); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return Interrupted(ctx)
	}
}
