package swanctl

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/vicish/vicish/internal/bytesize"
	"github.com/vicish/vicish/vici"
)

// daemon is the daemon an apply, a plan or a proof talks to: its client,
// and the budget of what the module may collect from one of its streamed
// listings (Config.MaxListing).
type daemon struct {
	*vici.Client
	maxListing int // bytes; 0 for no limit
}

// collect runs the streamed command cmd (its entries: events named
// event) and hands every entry to keep, which takes what it needs and
// returns about how many bytes of memory that holds (0 for nothing).
// Each entry counts against the budget as its bytes from the daemon, or
// as what keep holds where that is more: a daemon that streams more (a
// hostile one may stream forever) ends the command with a *listingError,
// whether the module keeps much of each entry or little.
func (d daemon) collect(ctx context.Context, cmd, event string, req *vici.Message, keep func(*vici.Message) int) error {
	if req == nil {
		req = vici.NewMessage()
	}
	var entries, received, held, counted int
	_, err := d.CallStream(ctx, cmd, event, req, func(m *vici.Message) error {
		size, kept := m.Size(), keep(m)
		entries++
		received += size
		held += kept
		counted += max(size, kept)
		if d.maxListing > 0 && counted > d.maxListing {
			return &listingError{command: cmd, event: event, entries: entries, received: received, held: held, budget: d.maxListing}
		}
		return nil
	})
	return err
}

// listingError ends a streamed command whose entries are more than
// Config.MaxListing allows.
type listingError struct {
	command, event string
	entries        int // entries received, the last one included
	received       int // their bytes on the wire
	held           int // the memory what the module kept of them takes
	budget         int // Config.MaxListing
}

func (e *listingError) Error() string {
	first := fmt.Sprintf("the first %d %s entries (%s from the daemon, %s kept) are", e.entries, e.event,
		bytesize.Text(e.received), bytesize.Text(e.held))
	if e.entries == 1 {
		first = fmt.Sprintf("the first %s entry (%s from the daemon, %s kept) is", e.event,
			bytesize.Text(e.received), bytesize.Text(e.held))
	}
	return fmt.Sprintf("%s: %s more than the budget of %s for a listing; raise it (vicish --max-listing) if the daemon really has that much",
		e.command, first, bytesize.Text(e.budget))
}

// Is makes errors.Is(err, vici.ErrBudget) hold.
func (e *listingError) Is(target error) bool { return target == vici.ErrBudget }

// What collected values take in memory, for keep functions: a string's
// header and bytes, a map entry's key and value with the map's own share.
const (
	stringHeader = int(unsafe.Sizeof(""))
	mapEntry     = 48
)

// heldString is about how many bytes s takes, header included.
func heldString(s string) int { return stringHeader + len(s) }
