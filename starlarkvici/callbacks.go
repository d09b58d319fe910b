package starlarkvici

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
)

// Mistakes in registering for events are caught when the script makes
// them, not when the first event comes (inside listen, maybe hours later).

// checkCallback refuses fn, given to builtin fname as what, when a call
// with n positional arguments (and, with session, session= if fn declares
// a parameter of that name, as dispatch does) would fail on its
// parameters. call shows how it is called. Only Starlark functions are
// checked: a builtin's parameters are not known before it runs.
func checkCallback(fname, what string, fn starlark.Callable, n int, session bool, call string) error {
	f, ok := fn.(*starlark.Function)
	if !ok {
		return nil
	}
	named := f.NumParams()
	if f.HasVarargs() {
		named--
	}
	if f.HasKwargs() {
		named--
	}
	positional := named - f.NumKwonlyParams()
	var params []string
	required := 0
	for i := range named {
		name, _ := f.Param(i)
		given := session && name == "session" // as a keyword
		switch {
		case i < positional && f.ParamDefault(i) == nil && !given:
			required++
		case i >= positional && f.ParamDefault(i) == nil && !given:
			return fmt.Errorf("%s: %s %s has the keyword-only parameter %s, which no call gives; it is called as %s",
				fname, what, f.Name(), name, call)
		}
		if given && i < n {
			return fmt.Errorf("%s: %s %s takes the session as its parameter %d, but the session comes as the keyword session=; it is called as %s (declare session after them)",
				fname, what, f.Name(), i+1, call)
		}
		params = append(params, name)
	}
	if required > n || positional < n && !f.HasVarargs() {
		return fmt.Errorf("%s: %s %s(%s) takes %s, but it is called as %s",
			fname, what, f.Name(), strings.Join(params, ", "), arity(required, positional, f.HasVarargs()), call)
	}
	return nil
}

// arity says how many positional arguments a function takes.
func arity(required, positional int, varargs bool) string {
	plural := func(n int) string {
		if n == 1 {
			return "1 argument"
		}
		return fmt.Sprintf("%d arguments", n)
	}
	switch {
	case varargs:
		return "at least " + plural(required)
	case required == positional:
		return plural(required)
	}
	return fmt.Sprintf("%d to %s", required, plural(positional))
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
