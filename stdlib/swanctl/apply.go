package swanctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/vicish/vicish/vici"
)

// Verdicts of a Change.
const (
	Added     = "added"     // not in the daemon before; loaded
	Changed   = "changed"   // in the daemon before; what the daemon shows of it differs after loading
	Unchanged = "unchanged" // in the daemon before; loaded again, and what the daemon shows is the same
	Reloaded  = "reloaded"  // in the daemon before; loaded again, but the daemon does not show enough to compare
	Removed   = "removed"   // in the daemon but not in the file; unloaded
	Failed    = "failed"    // could not be loaded or unloaded; Err says why
	// Kept: in the daemon, and the file's version failed to load (or, for
	// private keys, a key file failed, so which loaded key it replaces is
	// unknown): the daemon's was left as it is. apply never removes what
	// failed to load.
	Kept = "kept"
)

// verdicts lists every verdict in report order.
var verdicts = []string{Added, Changed, Reloaded, Unchanged, Removed, Kept, Failed}

// Change is what apply did (or, in a dry run, would do) with one item.
type Change struct {
	Kind    string // KindConn, KindPool, ...
	Name    string // its name; for keys the file, or the key id when removed
	Verdict string
	Err     error // set when Verdict is Failed
}

func (c Change) String() string {
	s := c.Kind + " " + c.Name
	if c.Err != nil {
		s += ": " + c.Err.Error()
	}
	return s
}

// applyReport is the outcome of applyConf.
type applyReport struct {
	Path    string
	DryRun  bool
	Changes []Change
}

// With returns the changes with the given verdict.
func (r *applyReport) With(verdict string) []Change {
	var out []Change
	for _, c := range r.Changes {
		if c.Verdict == verdict {
			out = append(out, c)
		}
	}
	return out
}

// Err summarises the failed changes, or returns nil.
func (r *applyReport) Err() error {
	failed := r.With(Failed)
	if len(failed) == 0 {
		return nil
	}
	msgs := make([]string, len(failed))
	for i, c := range failed {
		msgs[i] = c.String()
	}
	return fmt.Errorf("%d item(s) of %s failed: %s", len(failed), r.Path, strings.Join(msgs, "; "))
}

// Print writes the report: a header, one line per change that is not
// "unchanged", and a summary with the counts.
func (r *applyReport) Print(w io.Writer) {
	head := "swanctl.apply " + r.Path
	if r.DryRun {
		head += " (dry run: nothing was changed)"
	}
	fmt.Fprintln(w, head)
	for _, c := range r.Changes {
		if c.Verdict != Unchanged {
			fmt.Fprintf(w, "  %-9s %s\n", c.Verdict, c)
		}
	}
	var counts []string
	for _, v := range verdicts {
		counts = append(counts, fmt.Sprintf("%d %s", len(r.With(v)), v))
	}
	fmt.Fprintln(w, "  "+strings.Join(counts, ", "))
}

// state is the daemon's loaded credentials, as far as apply needs to know
// before loading them.
type state struct {
	keys   []string        // get-keys
	shared []string        // get-shared
	certs  map[string]bool // DER of every certificate (list-certs)
}

// setOf returns the set of names, so that apply's checks stay linear with
// many items.
func setOf(names []string) map[string]bool {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set
}

type applier struct {
	loadFailures int // failed loads (not unloads), for the stage rule
	ctx          context.Context
	c            daemon
	dry          bool
	report       *applyReport
}

func (a *applier) call(cmd string, req *vici.Message) (*vici.Message, error) {
	if req == nil {
		req = vici.NewMessage()
	}
	return a.c.Call(a.ctx, cmd, req)
}

// named collects the sections of a streamed listing by their name.
func (a *applier) named(cmd, event string) (map[string]*vici.Message, error) {
	out := map[string]*vici.Message{}
	err := a.c.collect(a.ctx, cmd, event, nil, func(m *vici.Message) int {
		held := 0
		for e := range m.All() {
			if e.Kind == vici.KindSection {
				out[e.Name] = e.Section
				held += heldString(e.Name) + mapEntry
			}
		}
		if held > 0 { // the sections keep m
			held += m.MemSize()
		}
		return held
	})
	return out, err
}

func (a *applier) snapshotCreds(st *state) error {
	r, err := a.call("get-keys", nil)
	if err != nil {
		return err
	}
	st.keys = r.List("keys")
	if r, err = a.call("get-shared", nil); err != nil {
		return err
	}
	st.shared = r.List("keys")
	st.certs = map[string]bool{}
	return a.c.collect(a.ctx, "list-certs", "list-cert", nil, func(m *vici.Message) int {
		return certDER(st.certs, m)
	})
}

func (a *applier) add(kind, name, verdict string, err error) {
	if err != nil {
		if verdict != Removed {
			a.loadFailures++
		}
		verdict = Failed
	}
	a.report.Changes = append(a.report.Changes, Change{Kind: kind, Name: name, Verdict: verdict, Err: err})
}

// applyConf makes the daemon match conf the way `swanctl --load-all` does, in
// its order: credentials (certificates, private keys, tokens, shared
// secrets; keys and shared secrets not in the file are unloaded),
// authorities, pools and connections (each unloading what the file no
// longer has). As with swanctl, a failed authority stops before pools and
// connections, and a failed pool before connections. With dryRun nothing
// is sent but queries. Nothing that failed to load is unloaded: the daemon
// keeps its version (verdict Kept); where swanctl unloads a shared secret
// or key whose new version the daemon refused, apply keeps it. The error
// is for failures to talk to the daemon;
// per-item failures are in the report (see applyReport.Err).
func applyConf(ctx context.Context, c daemon, conf *Conf, dryRun bool) (*applyReport, error) {
	a := &applier{ctx: ctx, c: c, dry: dryRun, report: &applyReport{Path: conf.Path, DryRun: dryRun}}
	var st state
	if err := a.snapshotCreds(&st); err != nil {
		return nil, err
	}
	if err := a.creds(conf, &st); err != nil {
		return a.report, err
	}
	for _, stage := range []struct {
		kind string
		run  func(*Conf) error
	}{
		{KindAuthority, a.authorities},
		{KindPool, a.pools},
		{KindConn, a.conns},
	} {
		before := a.loadFailures
		if err := stage.run(conf); err != nil {
			return a.report, err
		}
		if n := a.loadFailures - before; n > 0 && stage.kind != KindConn {
			next := map[string]string{KindAuthority: "pools and connections", KindPool: "connections"}[stage.kind]
			a.add(stage.kind, "(stage)", Failed, fmt.Errorf("%d %s item(s) failed, so %s were left as they are (as swanctl --load-all does)", n, stage.kind, next))
			break
		}
	}
	return a.report, nil
}

func (a *applier) creds(conf *Conf, st *state) error {
	keep := map[string]bool{} // key ids loaded (or that would be)
	loadedKeys, loadedShared := setOf(st.keys), setOf(st.shared)
	for _, it := range conf.ByKind(KindCert) {
		if it.Err != nil {
			a.add(it.Kind, it.Name, Failed, it.Err)
			continue
		}
		verdict := Added
		if st.certs[string(it.DER)] {
			verdict = Unchanged
		}
		var err error
		if !a.dry {
			_, err = a.call("load-cert", it.Body)
		}
		a.add(it.Kind, it.Name, verdict, err)
	}
	// A key item that failed without a known id could be any loaded key:
	// then no key is unloaded.
	unmatched := false
	failedKey := func(it Item, err error) {
		a.add(it.Kind, it.Name, Failed, err)
		if it.KeyID != "" {
			keep[it.KeyID] = true
		} else {
			unmatched = true
		}
	}
	for _, it := range append(conf.ByKind(KindKey), conf.ByKind(KindToken)...) {
		if it.Err != nil {
			failedKey(it, it.Err)
			continue
		}
		id := it.KeyID
		if !a.dry {
			cmd := "load-key"
			if it.Kind == KindToken {
				cmd = "load-token"
			}
			r, err := a.call(cmd, it.Body)
			if err != nil {
				failedKey(it, err)
				continue
			}
			id = r.Get("id")
		}
		verdict := Reloaded // the id is unknown until the daemon parses the key
		if id != "" {
			keep[id] = true
			verdict = Added
			if loadedKeys[id] {
				verdict = Unchanged
			}
		}
		a.add(it.Kind, it.Name, verdict, nil)
	}
	// Every secret the file names stays: loaded again, or, when that
	// failed, the daemon's as it was.
	keepShared := map[string]bool{}
	for _, it := range conf.ByKind(KindShared) {
		keepShared[it.Name] = true
		err := it.Err
		if err == nil && !a.dry {
			_, err = a.call("load-shared", it.Body)
		}
		// The daemon never shows secret data, so a known id is "reloaded".
		verdict := Added
		if loadedShared[it.Name] {
			verdict = Reloaded
		}
		a.add(it.Kind, it.Name, verdict, err)
		a.keptIf(err, loadedShared[it.Name], it.Kind, it.Name)
	}
	// Like swanctl, unload what was loaded before and not again now; unlike
	// swanctl, never what failed to load again.
	for _, id := range st.keys {
		switch {
		case keep[id]:
		case unmatched:
			a.add(KindKey, id, Kept, nil)
		default:
			a.unload(KindKey, id, "unload-key", "id")
		}
	}
	for _, id := range st.shared {
		if !keepShared[id] {
			a.unload(KindShared, id, "unload-shared", "id")
		}
	}
	return nil
}

// keptIf reports an item that failed to load while the daemon has it: the
// daemon's stays.
func (a *applier) keptIf(err error, inDaemon bool, kind, name string) {
	if err != nil && inDaemon {
		a.add(kind, name, Kept, nil)
	}
}

func (a *applier) unload(kind, name, cmd, key string) {
	var err error
	if !a.dry {
		_, err = a.call(cmd, vici.NewMessage().Set(key, name))
	}
	a.add(kind, name, Removed, err)
}

// loadNamed loads the items of kind, then unloads the names the daemon had
// (listed by its get- command) that the file does not have. show returns
// what the daemon shows of each item, to tell changed from unchanged; when
// partial is set, show does not cover everything an item holds, so an
// item that looks the same is "reloaded" rather than "unchanged".
func (a *applier) loadNamed(conf *Conf, kind, loadCmd, unloadCmd string, had []string,
	show func() (map[string]*vici.Message, error), partial bool) error {
	var before map[string]*vici.Message
	if show != nil && !a.dry {
		var err error
		if before, err = show(); err != nil {
			return err
		}
	}
	type loaded struct {
		name string
		err  error
	}
	var done []loaded
	hadSet := setOf(had)
	inFile := map[string]bool{}
	for _, it := range conf.ByKind(kind) {
		inFile[it.Name] = true
		if it.Err != nil {
			done = append(done, loaded{it.Name, it.Err})
			continue
		}
		var err error
		if !a.dry {
			_, err = a.call(loadCmd, it.Body)
		}
		done = append(done, loaded{it.Name, err})
	}
	var after map[string]*vici.Message
	if show != nil && !a.dry {
		var err error
		if after, err = show(); err != nil {
			return err
		}
	}
	for _, d := range done {
		verdict := Added
		if hadSet[d.name] {
			switch {
			case a.dry:
				verdict = Reloaded
			case !equalMessages(before[d.name], after[d.name]):
				verdict = Changed
			case partial:
				verdict = Reloaded
			default:
				verdict = Unchanged
			}
		}
		a.add(kind, d.name, verdict, d.err)
		a.keptIf(d.err, hadSet[d.name], kind, d.name)
	}
	for _, name := range had {
		if !inFile[name] {
			a.unload(kind, name, unloadCmd, "name")
		}
	}
	return nil
}

func (a *applier) authorities(conf *Conf) error {
	r, err := a.call("get-authorities", nil)
	if err != nil {
		return err
	}
	return a.loadNamed(conf, KindAuthority, "load-authority", "unload-authority", r.List("authorities"),
		func() (map[string]*vici.Message, error) { return a.named("list-authorities", "list-authority") }, false)
}

func (a *applier) pools(conf *Conf) error {
	r, err := a.call("get-pools", nil)
	if err != nil {
		return err
	}
	// get-pools shows a pool's base address and size but none of its
	// attributes: a pool whose addresses changed is "changed", any other
	// pool loaded again "reloaded".
	return a.loadNamed(conf, KindPool, "load-pool", "unload-pool", r.Keys(), a.poolAddrs, true)
}

// poolAddrs returns each pool's base and size from get-pools.
func (a *applier) poolAddrs() (map[string]*vici.Message, error) {
	r, err := a.call("get-pools", nil)
	if err != nil {
		return nil, err
	}
	out := map[string]*vici.Message{}
	for e := range r.All() {
		if e.Kind == vici.KindSection {
			out[e.Name] = vici.NewMessage().Set("base", e.Section.Get("base")).Set("size", e.Section.Get("size"))
		}
	}
	return out, nil
}

func (a *applier) conns(conf *Conf) error {
	r, err := a.call("get-conns", nil)
	if err != nil {
		return err
	}
	return a.loadNamed(conf, KindConn, "load-conn", "unload-conn", r.List("conns"),
		func() (map[string]*vici.Message, error) { return a.named("list-conns", "list-conn") }, false)
}

// equalMessages compares two messages entry by entry, in order.
func equalMessages(x, y *vici.Message) bool {
	if x == nil || y == nil {
		return x == y
	}
	xe, ye := x.Entries(), y.Entries()
	if len(xe) != len(ye) {
		return false
	}
	for i := range xe {
		p, q := xe[i], ye[i]
		if p.Name != q.Name || p.Kind != q.Kind {
			return false
		}
		switch p.Kind {
		case vici.KindSection:
			if !equalMessages(p.Section, q.Section) {
				return false
			}
		case vici.KindList:
			if !slices.EqualFunc(p.List, q.List, func(a, b []byte) bool { return string(a) == string(b) }) {
				return false
			}
		default:
			if string(p.Value) != string(q.Value) {
				return false
			}
		}
	}
	return true
}

// errNoClient explains a missing client function.
var errNoClient = errors.New("no VICI client: the host gave the swanctl module no Config.Client")
