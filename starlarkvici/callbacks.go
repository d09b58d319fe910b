package starlarkvici

import (
	"fmt"
	"strings"

	"github.com/vicish/vicish/internal/starcall"
	"go.starlark.net/starlark"
)

// Mistakes in registering for events are caught when the script makes
// them, not when the first event comes (inside listen, maybe hours later).

// checkCallback refuses fn, given to builtin fname as what, when a call
// with n positional arguments (and, with session, session= if fn declares
// a parameter of that name, as dispatch does) would fail on its
// parameters. call shows how it is called.
func checkCallback(fname, what string, fn starlark.Callable, n int, session bool, call string) error {
	keyword := ""
	if session {
		keyword = "session"
	}
	if err := starcall.Check(fn, n, keyword, call); err != nil {
		return fmt.Errorf("%s: %s %w", fname, what, err)
	}
	return nil
}

// nearestEvent returns the event name, of those vicish knows, that name
// is most likely a misspelling of, or "".
func nearestEvent(name string) string {
	best, bestDist := "", 3 // at most two edits away
	for _, e := range append(Events(), EventInfo{Name: ReconnectEvent}) {
		if e.Name == name {
			return ""
		}
		if strings.EqualFold(strings.ReplaceAll(name, "_", "-"), e.Name) {
			return e.Name
		}
		if d := editDistance(name, e.Name); d < bestDist {
			best, bestDist = e.Name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
