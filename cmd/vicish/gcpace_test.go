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

func TestGCPacerRaisesAndRestores(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(73))
	p := newGCPacer(func(string) string { return "" })
	var keep [][]byte
	done1 := p.collecting()
	if got := gcPercent(p); got != collectGCPercent {
		t.Fatalf("while collecting, GC percent %d, want %d", got, collectGCPercent)
	}
	done2 := p.collecting() // a second listing at once
	for range 1000 {
		keep = append(keep, make([]byte, 4096)) // a result that stays alive
	}
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
	for i := 0; gcPercent(p) != 73; i++ {
		if i == 1000 {
			t.Fatalf("after %d collections, GC percent %d, want the user's 73 back", i, gcPercent(p))
		}
		runtime.GC()
		runtime.Gosched()
	}
	// A listing started before that collection keeps the raised target,
	// and the user's target is still what comes back after it.
	done3 := p.collecting()
	runtime.GC()
	runtime.Gosched()
	if got := gcPercent(p); got != collectGCPercent {
		t.Fatalf("while collecting again, GC percent %d, want %d", got, collectGCPercent)
	}
	done3()
	for i := 0; gcPercent(p) != 73; i++ {
		if i == 1000 {
			t.Fatalf("after %d collections, GC percent %d, want the user's 73 back", i, gcPercent(p))
		}
		runtime.GC()
		runtime.Gosched()
	}
	runtime.KeepAlive(keep)
}
