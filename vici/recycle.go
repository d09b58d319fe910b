package vici

import "sync"

// Limits of a stream's recycler: enough for the entries in flight
// between the reader and the consumer (see streamBatch, streamBuffer).
const (
	recycleTrees = 64
	recycleBytes = 1 << 20 // segment bytes held
)

// recycler holds the decoded messages a stream's consumer has released
// (Message.Release), for the reader to read and decode the stream's next
// entries into, so that a long listing whose consumer converts each entry
// makes almost no garbage. Each stream has its own; it is dropped with
// the stream, so an idle connection holds none. Safe for concurrent use.
type recycler struct {
	mu    sync.Mutex
	trees []*tree
	bytes int
}

// get returns a released tree, or nil.
func (r *recycler) get() *tree {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.trees)
	if n == 0 {
		return nil
	}
	t := r.trees[n-1]
	r.trees[n-1] = nil
	r.trees = r.trees[:n-1]
	r.bytes -= cap(t.seg)
	return t
}

// put keeps t for get, unless the recycler is full.
func (r *recycler) put(t *tree) {
	// Drop the views into the segment: nothing may read them from now on.
	t.buf = nil
	t.full.Store(nil)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.trees) >= recycleTrees || r.bytes+cap(t.seg) > recycleBytes {
		return
	}
	r.trees = append(r.trees, t)
	r.bytes += cap(t.seg)
}

// Release tells the client that nothing will use m again: neither m nor
// its sections, nor any name, value or list read from them. A message a
// stream handed over (CallStream, CallStreamInline, Stream), and to nobody
// else (no subscription of the same event), then gives its memory to the
// stream's next entries,
// so that a consumer that converts each entry into values of its own and
// releases it makes almost no garbage however long the listing. Release
// it once at most, from the goroutine that received it; after Release, m
// may hold another entry. It does nothing for any other message (a reply,
// a subscription's event, a section, a message built or changed by the
// caller), and a message never released is simply collected as garbage.
func (m *Message) Release() {
	if m == nil || m.t == nil || m != &m.t.msgs[0] {
		return
	}
	t := m.t
	if r := t.pool; r != nil {
		t.pool = nil
		r.put(t)
	}
}
