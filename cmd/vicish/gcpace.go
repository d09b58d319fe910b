package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// collectGCPercent is the garbage collector's target (as GOGC) while a
// streamed listing is collected.
const collectGCPercent = 400

// gcPacer raises the garbage collector's target while vici listings are
// collected into lists. A listing's entries stay alive until its list is
// complete, so a collection meanwhile frees little and marks the growing
// result once more: with the higher target the collector runs fewer times.
//
// When the last listing is complete, setting the user's target back at
// once would start a collection right away (the heap has outgrown the
// goal of the last one), marking the whole result yet again. Instead the
// pacer sets the target so that the next collection comes when the heap
// reaches the size it would with the user's target had a collection just
// run, and puts the user's target back after that collection.
//
// It is safe for concurrent use (threads or a vici.group collect at once).
type gcPacer struct {
	mu     sync.Mutex
	n      int    // listings being collected
	raised bool   // the target is not the user's
	saved  int    // the user's target, while raised
	gen    uint64 // counts hand-backs: a sentinel of an older one is stale
}

// newGCPacer returns a pacer, or nil when the user chose the collector's
// settings with GOGC or GOMEMLIMIT, which vicish then leaves alone.
func newGCPacer(getenv func(string) string) *gcPacer {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return nil
	}
	return &gcPacer{}
}

// collecting raises the target until the returned function is called.
func (p *gcPacer) collecting() (done func()) {
	p.mu.Lock()
	if !p.raised {
		p.saved, p.raised = debug.SetGCPercent(collectGCPercent), true
	} else if p.n == 0 {
		debug.SetGCPercent(collectGCPercent)
	}
	p.n++
	p.mu.Unlock()
	return sync.OnceFunc(p.done)
}

// done ends one listing; after the last it hands the target back.
func (p *gcPacer) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n--; p.n > 0 {
		return
	}
	if p.saved < 0 { // GOGC=off by debug.SetGCPercent: nothing to pace
		debug.SetGCPercent(p.saved)
		p.raised = false
		return
	}
	debug.SetGCPercent(handBackPercent(p.saved))
	p.gen++
	gen := p.gen
	sentinel := new([16]byte) // not tiny-allocated: its finalizer runs at the next collection
	runtime.SetFinalizer(sentinel, func(*[16]byte) { p.restore(gen) })
}

// restore puts the user's target back after the collection that followed
// hand-back gen, unless a listing started since.
func (p *gcPacer) restore(gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.raised && p.n == 0 && p.gen == gen {
		debug.SetGCPercent(p.saved)
		p.raised = false
	}
}

// handBackPercent is the target under which the next collection starts
// when the heap reaches (1+user/100) times its present size, given what the
// last collection left live; never below the user's target.
func handBackPercent(user int) int {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return user
	}
	live, heap := float64(s[0].Value.Uint64()), float64(s[1].Value.Uint64())
	if live <= 0 || heap <= live {
		return user
	}
	pct := 100 * (heap*(1+float64(user)/100)/live - 1)
	if pct > 1e6 {
		pct = 1e6
	}
	return max(user, int(pct))
}
