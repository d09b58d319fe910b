package starlarkvici

import (
	"fmt"
	"sync"

	"github.com/vicish/vicish/internal/bytesize"
	"github.com/vicish/vicish/vici"
)

// Budgets keep what a daemon sends from taking memory without bound: a
// peer that streams a listing forever, or floods events faster than the
// callbacks take them, gets a clean error instead of the process running
// out of memory.
const (
	// DefaultMaxListing is Config.MaxListing's default, 512 MiB: what a
	// list_conns of 100,000 connections (the lab's bulk ones) takes once
	// collected from strongSwan 5.9.8 (444 MiB; 49.6 MB from the daemon),
	// with room to spare. strongSwan 6.1 lists 4.6 times as much for each
	// connection: 46,000 of them fit.
	DefaultMaxListing = 512 << 20
	// DefaultMaxEventQueue is Config.MaxEventQueue's default, 64 MiB per
	// session: about 30,000 ike-updown events of one IKE_SA each.
	DefaultMaxEventQueue = 64 << 20
)

// listing counts the entries of a streamed command collected into a list
// against the budget (Config.MaxListing; 0 for none). The members of a
// group share one: add is safe for concurrent use.
type listing struct {
	budget  int
	mu      sync.Mutex
	entries int
	wire    int // bytes received
	held    int // memory the collected entries take
}

// add counts one more entry of wire bytes, taking held bytes of memory
// (fromConverter.made, or vici.Message.MemSize for entries kept as they
// came); past the budget it returns an error that says what was received
// and how to go on.
func (l *listing) add(wire, held int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries++
	l.wire += wire
	l.held += held + valueBytes // and its place in the list
	if l.budget > 0 && l.held > l.budget {
		return &ListingError{Entries: l.entries, Received: l.wire, Budget: l.budget}
	}
	return nil
}

// convert counts an entry kept as it came (raw bytes) being replaced by
// its Starlark value (made bytes); past the budget it returns the error
// add would.
func (l *listing) convert(raw, made int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held += made - raw
	if l.budget > 0 && l.held > l.budget {
		return &ListingError{Entries: l.entries, Received: l.wire, Budget: l.budget}
	}
	return nil
}

// ListingError ends a streamed command whose entries, collected into a
// list, would take more memory than Config.MaxListing allows.
type ListingError struct {
	Entries  int // entries received, the last one included
	Received int // their bytes on the wire
	Budget   int // Config.MaxListing
}

func (e *ListingError) Error() string {
	first, take := fmt.Sprintf("first %d entries", e.Entries), "take"
	if e.Entries == 1 {
		first, take = "first entry", "takes"
	}
	return fmt.Sprintf("the listing's %s (%s from the daemon) %s more memory than its budget of %s; "+
		"pass each= to handle the entries one at a time (e.g. each=lambda e: print(e)), or raise the budget (vicish --max-listing)",
		first, bytesize.Text(e.Received), take, bytesize.Text(e.Budget))
}

// Is makes errors.Is(err, vici.ErrBudget) hold, so that vici.Reason names
// a group member that failed this way "budget".
func (e *ListingError) Is(target error) bool { return target == vici.ErrBudget }
