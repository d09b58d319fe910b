package main

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// gcPercent reads the collector's target without changing it, holding p's
// lock so that a restore does not run in between.
func gcPercent(p *gcPacer) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	pct := debug.SetGCPercent(100)
	debug.SetGCPercent(pct)
	return pct
}

func TestGCPacerRespectsTheUsersSettings(t *testing.T) {
	for _, name := range []string{"GOGC", "GOMEMLIMIT"} {
		env := func(k string) string {
			if k == name {
				return "50"
			}
			return ""
		}
		if p := newGCPacer(env); p != nil {
			t.Errorf("with %s set, newGCPacer returned a pacer", name)
		}
	}
	if newGCPacer(func(string) string { return "" }) == nil {
		t.Error("without GOGC and GOMEMLIMIT, newGCPacer returned nil")
	}
}

// waitGCPercent runs collections until the target is want.
func waitGCPercent(t *testing.T, p *gcPacer, want int, what string) {
	t.Helper()
	for i := 0; gcPercent(p) != want; i++ {
		if i == 1000 {
			t.Fatalf("%s: after %d collections, GC percent %d, want %d", what, i, gcPercent(p), want)
		}
		runtime.GC()
		runtime.Gosched()
	}
}

func TestGCPacerRaisesAndRestores(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(73))
	p := newGCPacer(func(string) string { return "" })
	var keep [][]byte
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	done1 := p.collecting()
	if got := gcPercent(p); got < collectGCPercent {
		t.Fatalf("while collecting, GC percent %d, want at least %d", got, collectGCPercent)
	}
	done2 := p.collecting() // a second listing at once
	for range 32 << 20 / 4096 {
		keep = append(keep, make([]byte, 4096)) // a result that stays alive
	}
	runtime.ReadMemStats(&after)
	if after.NumGC != before.NumGC {
		t.Errorf("32 MiB collected from a %d MiB heap: %d collections meanwhile, want none (runway %d MiB)",
			before.HeapAlloc>>20, after.NumGC-before.NumGC, collectRunway>>20)
	}
	// A collection during the listings all the same: GOGC=400 after it.
	waitGCPercent(t, p, collectGCPercent, "a collection while collecting")
	done1()
	done1() // a second call changes nothing
	if got := gcPercent(p); got != collectGCPercent {
		t.Fatalf("with one listing still collecting, GC percent %d, want %d", got, collectGCPercent)
	}
	done2()
	if got := gcPercent(p); got < 73 {
		t.Fatalf("after the last listing, GC percent %d, below the user's 73", got)
	}
	// The user's target is back after the next collection.
	waitGCPercent(t, p, 73, "after the last listing")
	// A listing started before that collection keeps the raised target,
	// and the user's target is still what comes back after it.
	done3 := p.collecting()
	if got := gcPercent(p); got < collectGCPercent {
		t.Fatalf("while collecting again, GC percent %d, want at least %d", got, collectGCPercent)
	}
	waitGCPercent(t, p, collectGCPercent, "a collection while collecting again")
	done3()
	waitGCPercent(t, p, 73, "after the listing")
	runtime.KeepAlive(keep)
}

// TestCollectPercent: the target puts the next collection where the
// runway says, for a small and a large live heap.
func TestCollectPercent(t *testing.T) {
	runtime.GC()
	live, heap := heapStats()
	pct := collectPercent()
	goal := max(4<<20*float64(pct)/100, float64(live)*(1+float64(pct)/100))
	want := float64(heap + max(collectRunway, 4*live))
	if pct > collectGCPercent && (goal < 0.95*want || goal > 1.05*want) {
		t.Errorf("live %d, heap %d: GOGC=%d puts the next collection at %.0f bytes, want about %.0f", live, heap, pct, goal, want)
	}
	big := make([][]byte, 64<<20/4096) // 64 MiB live: GOGC=400's runway is longer
	for i := range big {
		big[i] = make([]byte, 4096)
	}
	runtime.GC()
	if pct := collectPercent(); pct > collectGCPercent*21/20 {
		t.Errorf("with 64 MiB live, GC percent %d, want about %d", pct, collectGCPercent)
	}
	runtime.KeepAlive(big)
}
