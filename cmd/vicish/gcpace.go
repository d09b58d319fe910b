package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The garbage collector's pacing while streamed listings are collected.
const (
	// collectRunway is how far the heap may grow from where it stands when
	// a listing starts before the next collection, unless four times what
	// the last collection left live is more.
	collectRunway = 64 << 20
	// collectGCPercent is the target (as GOGC) after a collection that
	// came during a listing, until the listing is complete.
	collectGCPercent = 400
)

// gcPacer puts the garbage collector off while vici listings are collected
// into lists. A listing's entries stay alive until its list is complete,
// and the engine reads every entry into the memory of one the conversion
// released: a collection meanwhile frees next to nothing and only marks the
// growing result once more. So when the first listing starts, the pacer
// sets the target so that the next collection comes when the heap has
// grown by collectRunway, or by four times what was live after the last
// collection when that is more (as GOGC=400 would); should a collection
// come during the listing all the same, the target is GOGC=400 after it.
//
// When the last listing is complete, setting the user's target back at
// once would start a collection right away (the heap has outgrown the
// goal of the last one), marking the whole result. Instead the pacer sets
// the target so that the next collection comes when the heap reaches the
// size it would with the user's target had a collection just run, and
// puts the user's target back after that collection.
//
// It is safe for concurrent use (threads or a vici.group collect at once).
type gcPacer struct {
	mu     sync.Mutex
	n      int    // listings being collected
	raised bool   // the target is not the user's
	saved  int    // the user's target, while raised
	gen    uint64 // counts raises and hand-backs: a sentinel of an older one is stale
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
	if p.n == 0 {
		pct := collectPercent()
		if !p.raised {
			p.saved, p.raised = debug.SetGCPercent(pct), true
		} else {
			debug.SetGCPercent(pct)
		}
		if p.saved >= 0 { // with GOGC=off by debug.SetGCPercent nothing collects
			p.afterNextGC(p.lower)
		}
	}
	p.n++
	p.mu.Unlock()
	return sync.OnceFunc(p.done)
}

// lower sets GOGC=400 after a collection that came during listings
// started with raise gen.
func (p *gcPacer) lower(gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n > 0 && p.gen == gen {
		debug.SetGCPercent(collectGCPercent)
	}
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
		p.gen++
		return
	}
	debug.SetGCPercent(handBackPercent(p.saved))
	p.afterNextGC(p.restore)
}

// afterNextGC starts a new generation and calls f with it after the next
// collection. p.mu is held.
func (p *gcPacer) afterNextGC(f func(gen uint64)) {
	p.gen++
	gen := p.gen
	sentinel := new([16]byte) // not tiny-allocated: its finalizer runs at the next collection
	runtime.SetFinalizer(sentinel, func(*[16]byte) { f(gen) })
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

// heapStats returns what the last collection left live and what the heap
// holds now, in bytes; zeros when the runtime does not say.
func heapStats() (live, heap uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return 0, 0
	}
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// collectPercent is the target under which the next collection comes when
// the heap has grown by collectRunway, or by four times what is live when
// that is more: never below GOGC=400. The runtime starts a collection at
// the larger of 4 MiB×GOGC/100 and live×(1+GOGC/100); the least target
// that puts either at the wanted heap puts the larger there.
func collectPercent() int {
	live, heap := heapStats()
	if heap == 0 {
		return collectGCPercent
	}
	goal := float64(heap + max(collectRunway, 4*live))
	pct := 100 * goal / (4 << 20)
	if live > 0 {
		pct = min(pct, 100*(goal/float64(live)-1))
	}
	return max(collectGCPercent, int(min(pct, 1e6)))
}

// handBackPercent is the target under which the next collection starts
// when the heap reaches (1+user/100) times its present size, given what the
// last collection left live; never below the user's target.
func handBackPercent(user int) int {
	l, h := heapStats()
	live, heap := float64(l), float64(h)
	if live <= 0 || heap <= live {
		return user
	}
	pct := 100 * (heap*(1+float64(user)/100)/live - 1)
	if pct > 1e6 {
		pct = 1e6
	}
	return max(user, int(pct))
}
