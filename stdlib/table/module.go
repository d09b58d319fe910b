// Package table provides the Starlark "table" module, which formats data for
// people to read:
//
//	table.render(rows, columns=None)   → aligned text columns
//	table.sas(sas=None)                → swanctl --list-sas
//	table.conns(conns=None)            → swanctl --list-conns
//	table.pols(pols=None)              → swanctl --list-pols
//	table.certs(certs=None, short=False, utc=False, pem=False) → swanctl --list-certs
//	table.authorities(authorities=None) → swanctl --list-authorities
//	table.pools(pools=None)            → swanctl --list-pools
//	table.algs(algs=None)              → swanctl --list-algs
//	table.stats(stats=None)            → swanctl --stats
//	table.counters(counters=None)      → swanctl --counters
//	table.log(event)                   → one event as swanctl --log or --initiate shows it
//
// render lays rows out in aligned columns. Each row is a dict (columns then
// name the keys to show, in order; by default every key, in the order first
// seen) or a list or tuple of cells (columns are then just header labels). An
// entry of columns may also be a (key, header) pair. Numbers are aligned
// right, None shows as an empty cell, and lists are joined with ", ".
//
// The listings render what the matching vici call returned (table.sas takes
// what vici.list_sas returns, table.pools what vici.get_pools returns, and so
// on) byte for byte the way swanctl of the same daemon version prints it.
// Given no data, a listing asks the default session itself with swanctl's
// defaults (table.pols lists trap, drop and bypass policies); keyword
// arguments are then passed on to that call, as swanctl's options are:
// table.pools(leases=True), table.counters(all=True), table.pols(child="net").
// Where swanctl 5.x and 6.x print differently (list-pols, list-certs), a
// listing that asks the daemon follows its release; given data, it takes
// 6.x's layout (list-pols: when any policy has a reqid).
//
// render and the listings return a display.Text without a trailing
// newline: print shows it, the REPL echoes it as its lines, str() gives the
// plain string. table.log returns a plain string (one line, for joining).
package table

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/display"
	"github.com/vicish/vicish/registry"
	"github.com/vicish/vicish/starctx"
)

// listing is one swanctl listing the module renders.
type listing struct {
	name  string // builtin name without "table."
	param string // its optional argument: the data to render
	call  string // the vici function asked when no data is given
	// defaults are the keyword arguments swanctl adds to that call when the
	// user names none of them (list-pols asks for every policy kind).
	defaults []starlark.Tuple
	// versioned listings changed between strongSwan releases: when they
	// ask the daemon for data they ask its version too.
	versioned bool
	// flags are keyword arguments (bool) the listing itself takes, as
	// swanctl's display options (--short, --utc, --pem); they are not
	// passed on.
	flags []string
	write func(w *strings.Builder, data starlark.Value, r *listRun) error
}

// listRun is one call of a listing: what it knows of the daemon's release,
// and the thread's context, which ends a long rendering (Ctrl-C).
type listRun struct {
	release
	flags map[string]bool // the listing's own keyword flags given True
	ctx   context.Context
	n     int
}

// tick counts one rendered entry and reports, every 256 entries, whether
// the thread's context has ended.
func (r *listRun) tick() error {
	if r.n++; r.n%256 != 0 {
		return nil
	}
	return starctx.Interrupted(r.ctx)
}

// release is what a listing knows of the strongSwan release whose swanctl
// it imitates.
type release struct {
	known bool // the listing asked the daemon for its version
	v6    bool // strongSwan 6.0 or newer; also assumed when not known
}

// listings returns the listings, each with what it asks the daemon.
func listings() []listing {
	yes := func(k string) starlark.Tuple { return starlark.Tuple{starlark.String(k), starlark.True} }
	return []listing{
		{name: "sas", param: "sas", call: "list_sas", write: writeSAs},
		{name: "conns", param: "conns", call: "list_conns", write: writeConns},
		{name: "pols", param: "pols", call: "list_policies", write: writePols, versioned: true,
			defaults: []starlark.Tuple{yes("trap"), yes("drop"), yes("pass_")}},
		{name: "certs", param: "certs", call: "list_certs", write: writeCerts, versioned: true, flags: []string{"short", "utc", "pem"}},
		{name: "authorities", param: "authorities", call: "list_authorities", write: writeAuthorities},
		{name: "pools", param: "pools", call: "get_pools", write: writePools},
		{name: "algs", param: "algs", call: "get_algorithms", write: writeAlgs},
		{name: "stats", param: "stats", call: "stats", write: writeStats},
		{name: "counters", param: "counters", call: "get_counters", write: writeCounters},
	}
}

// NewModule returns the "table" module. vici is the vici module (or a
// session) that listings called without data ask; nil means they must be
// given their data.
func NewModule(vici starlark.HasAttrs) *starlarkstruct.Module { return Spec(vici).Build(nil) }

// builtin returns the function of table.<l.name>.
func (l listing) builtin(vici starlark.HasAttrs) registry.Func {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if len(args) > 1 {
			return nil, fmt.Errorf("%s: got %d positional arguments, want at most 1 (%s)", b.Name(), len(args), l.param)
		}
		var data starlark.Value = starlark.None
		if len(args) == 1 {
			data = args[0]
		}
		var pass []starlark.Tuple
		flags := map[string]bool{}
	kwargs:
		for _, kv := range kwargs {
			for _, f := range l.flags {
				if string(kv[0].(starlark.String)) == f {
					on, ok := kv[1].(starlark.Bool)
					if !ok {
						return nil, fmt.Errorf("%s: for parameter %q: got %s, want bool", b.Name(), f, kv[1].Type())
					}
					flags[f] = bool(on)
					continue kwargs
				}
			}
			if string(kv[0].(starlark.String)) == l.param {
				if len(args) == 1 {
					return nil, fmt.Errorf("%s: got multiple values for parameter %q", b.Name(), l.param)
				}
				data = kv[1]
				continue
			}
			pass = append(pass, kv)
		}
		rel := release{v6: true}
		if data == starlark.None {
			var err error
			if data, err = l.ask(thread, b, vici, pass); err != nil {
				return nil, err
			}
			if l.versioned {
				if rel, err = daemonRelease(thread, b, vici); err != nil {
					return nil, err
				}
			}
		} else if len(pass) > 0 {
			return nil, fmt.Errorf("%s: keyword %s= is passed to vici.%s, which is not called when %s are given",
				b.Name(), pass[0][0].(starlark.String).GoString(), l.call, l.param)
		}
		var w strings.Builder
		if err := l.write(&w, data, &listRun{release: rel, flags: flags, ctx: starctx.From(thread)}); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		return display.Text(strings.TrimSuffix(w.String(), "\n")), nil
	}
}

// ask calls vici.<l.call> with kwargs (plus swanctl's defaults when kwargs
// names none of them) and returns its result.
func (l listing) ask(thread *starlark.Thread, b *starlark.Builtin, vici starlark.HasAttrs, kwargs []starlark.Tuple) (starlark.Value, error) {
	if vici == nil {
		return nil, fmt.Errorf("%s: no %s given, and no vici session to ask for them", b.Name(), l.param)
	}
	named := false
	for _, kv := range kwargs {
		for _, d := range l.defaults {
			named = named || kv[0] == d[0]
		}
	}
	if !named {
		kwargs = append(kwargs, l.defaults...)
	}
	fn, err := vici.Attr(l.call)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if fn == nil {
		return nil, fmt.Errorf("%s: the vici module has no %s", b.Name(), l.call)
	}
	return starlark.Call(thread, fn, nil, kwargs)
}

// daemonRelease asks vici.version() which release the daemon runs.
func daemonRelease(thread *starlark.Thread, b *starlark.Builtin, vici starlark.HasAttrs) (release, error) {
	fn, err := vici.Attr("version")
	if err != nil || fn == nil {
		return release{}, fmt.Errorf("%s: the vici module has no version: %v", b.Name(), err)
	}
	v, err := starlark.Call(thread, fn, nil, nil)
	if err != nil {
		return release{}, err
	}
	m, ok := v.(starlark.Mapping)
	if !ok {
		return release{}, fmt.Errorf("%s: vici.version() returned %s, want a dict", b.Name(), v.Type())
	}
	// An unknown version gets the newest layout.
	major, _, _ := strings.Cut(find(m, "", "version"), ".")
	n, err := strconv.Atoi(major)
	return release{known: true, v6: err != nil || n >= 6}, nil
}

// printable reports whether swanctl would print s: it shows only values of
// printable ASCII characters (C's isprint), as its chunk_printable check.
func printable(v starlark.Value) (string, bool) {
	s, ok := v.(starlark.String)
	if !ok {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return "", false
		}
	}
	return string(s), true
}

// padRight pads s with spaces to n bytes, as C's %-Ns does.
func padRight(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}

// padLeft pads s with leading spaces to n bytes, as C's %Ns does.
func padLeft(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return strings.Repeat(" ", n-len(s)) + s
}

// asMapping returns v as a dict, or an error naming what.
func asMapping(v starlark.Value, what string) (starlark.IterableMapping, error) {
	m, ok := v.(starlark.IterableMapping)
	if !ok {
		return nil, fmt.Errorf("%s is %s, want a dict", what, v.Type())
	}
	return m, nil
}

// events returns the event dicts of a streamed listing: the list the vici
// call returned, or one event dict alone.
func events(v starlark.Value, source string) ([]starlark.IterableMapping, error) {
	var vals []starlark.Value
	switch v := v.(type) {
	case starlark.IterableMapping:
		vals = []starlark.Value{v}
	case starlark.Iterable:
		vals = collect(v)
	default:
		return nil, fmt.Errorf("got %s, want the list %s returns", v.Type(), source)
	}
	out := make([]starlark.IterableMapping, len(vals))
	for i, ev := range vals {
		m, ok := ev.(starlark.IterableMapping)
		if !ok {
			return nil, fmt.Errorf("element %d is %s, want a dict", i, ev.Type())
		}
		out[i] = m
	}
	return out, nil
}
