package starctx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.starlark.net/starlark"
)

// DefaultCleanupGrace is how long a cleanup may run after the host has
// cancelled the script, unless it states another grace (sys.guard's
// grace=).
const DefaultCleanupGrace = 30 * time.Second

// Cleanups follows the cleanups running under a host's context. A host
// that cancels a script (a signal) waits for the script to stop; while a
// cleanup runs, Until tells it how long that may take. The zero value is
// ready to use; it is safe for concurrent use.
type Cleanups struct {
	mu      sync.Mutex
	running map[*time.Time]bool // each running cleanup's deadline
}

// Until returns the latest deadline of the cleanups running now; ok is
// false when none runs.
func (c *Cleanups) Until() (until time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for d := range c.running {
		if d.After(until) {
			until, ok = *d, true
		}
	}
	return until, ok
}

func (c *Cleanups) add(d *time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running == nil {
		c.running = map[*time.Time]bool{}
	}
	c.running[d] = true
}

func (c *Cleanups) remove(d *time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.running, d)
}

type cleanupsKey struct{}

// WithCleanups returns ctx carrying c, so that the cleanups run by threads
// attached to ctx (or to a context derived from it) are known to c.
func WithCleanups(ctx context.Context, c *Cleanups) context.Context {
	return context.WithValue(ctx, cleanupsKey{}, c)
}

// ErrCleanupGrace is wrapped by the cause of a cleanup's context when its
// grace ran out.
var ErrCleanupGrace = errors.New("the cleanup's grace ran out")

// RunCleanup runs fn, which runs Starlark code on thread, as a cleanup:
// even when the host has cancelled the thread's context, on a context of
// its own that keeps the values of the thread's but not its cancellation,
// ended only when grace passes. The thread is uncancelled for it and
// cancelled again afterwards if its context has ended meanwhile. The
// host's Cleanups (WithCleanups) knows the cleanup runs until then. A
// host that must stop anyway (a second signal) ends the process.
func RunCleanup(thread *starlark.Thread, grace time.Duration, fn func() error) error {
	a, ok := thread.Local(localKey).(*attached)
	if !ok {
		return fn() // no host context: nothing cancels the thread
	}
	orig := a.ctx
	until := time.Now().Add(grace)
	ctx, cancel := context.WithDeadlineCause(context.WithoutCancel(orig), until, fmt.Errorf("%w after %v", ErrCleanupGrace, grace))
	defer cancel()
	if c, ok := orig.Value(cleanupsKey{}).(*Cleanups); ok {
		c.add(&until)
		defer c.remove(&until)
	}
	a.shielded.Add(1)
	thread.Uncancel()
	a.ctx = ctx
	stop := context.AfterFunc(ctx, func() { thread.Cancel(context.Cause(ctx).Error()) })
	defer func() {
		stop()
		a.ctx = orig
		thread.Uncancel()
		if a.shielded.Add(-1) == 0 && orig.Err() != nil {
			thread.Cancel(context.Cause(orig).Error())
		}
	}()
	return fn()
}
