package table

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
)

// find returns the value at path (keys of nested dicts) in m as text, or
// def when any part is missing or is not a value, like swanctl's
// vici_find_str.
func find(m starlark.Mapping, def string, path ...string) string {
	v, _, _ := lookup(m, path...)
	switch v := v.(type) {
	case starlark.String:
		return string(v)
	case starlark.Bytes:
		return string(v)
	}
	return def
}

// sections returns the (name, dict) entries of m whose value is a dict,
// in order; other entries are skipped, as swanctl's section callbacks see
// only sections.
func sections(m starlark.IterableMapping) []sectionEntry {
	var out []sectionEntry
	for _, kv := range m.Items() {
		if d, ok := kv[1].(starlark.IterableMapping); ok {
			out = append(out, sectionEntry{text(kv[0]), d})
		}
	}
	return out
}

// sectionEntry is one named section of a reply.
type sectionEntry struct {
	name string
	m    starlark.IterableMapping
}

// writePools renders what vici.get_pools returns as swanctl --list-pools
// does: one line per pool with its base address and online / offline /
// size counts, then its leases when the reply has them (leases=True).
func writePools(w *strings.Builder, data starlark.Value, r *listRun) error {
	root, err := asMapping(data, "the pools (what vici.get_pools returns)")
	if err != nil {
		return err
	}
	for _, pool := range sections(root) {
		if err := r.tick(); err != nil {
			return err
		}
		counts := fmt.Sprintf("%s / %s / %s", find(root, "", pool.name, "online"),
			find(root, "", pool.name, "offline"), find(root, "", pool.name, "size"))
		fmt.Fprintf(w, "%s %s %s\n", padRight(pool.name, 20), padRight(find(root, "", pool.name, "base"), 30), padLeft(counts, 16))
		if err := writeLeases(r, w, root, pool.name, pool.m); err != nil {
			return err
		}
	}
	return nil
}

// writeLeases writes the leases of a pool: each section under its
// "leases" section, and, as swanctl does, any other section of the pool,
// each looked up by name under pool.leases.
func writeLeases(r *listRun, w *strings.Builder, root starlark.Mapping, pool string, m starlark.IterableMapping) error {
	var names []string
	for _, sec := range sections(m) {
		if sec.name != "leases" {
			names = append(names, sec.name)
			continue
		}
		for _, lease := range sections(sec.m) {
			names = append(names, lease.name)
		}
	}
	for _, name := range names {
		if err := r.tick(); err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s %s '%s'\n",
			padRight(find(root, "", pool, "leases", name, "address"), 30),
			padRight(find(root, "", pool, "leases", name, "status"), 8),
			find(root, "", pool, "leases", name, "identity"))
	}
	return nil
}

// writeAlgs renders what vici.get_algorithms returns as swanctl
// --list-algs does: each algorithm type, then its algorithms with the
// plugin providing them.
func writeAlgs(w *strings.Builder, data starlark.Value, r *listRun) error {
	root, err := asMapping(data, "the algorithms (what vici.get_algorithms returns)")
	if err != nil {
		return err
	}
	for _, typ := range sections(root) {
		fmt.Fprintf(w, "%s:\n", typ.name)
		for _, kv := range typ.m.Items() {
			if err := r.tick(); err != nil {
				return err
			}
			if s, ok := printable(kv[1]); ok {
				fmt.Fprintf(w, "  %s[%s]\n", text(kv[0]), s)
			}
		}
	}
	return nil
}

// writeStats renders what vici.stats returns as swanctl --stats does.
func writeStats(w *strings.Builder, data starlark.Value, r *listRun) error {
	st, err := asMapping(data, "the statistics (what vici.stats returns)")
	if err != nil {
		return err
	}
	f := func(path ...string) string { return find(st, "", path...) }
	fmt.Fprintf(w, "uptime: %s, since %s\n", f("uptime", "running"), f("uptime", "since"))
	fmt.Fprintf(w, "worker threads: %s total, %s idle, working: %s/%s/%s/%s\n",
		f("workers", "total"), f("workers", "idle"), f("workers", "active", "critical"),
		f("workers", "active", "high"), f("workers", "active", "medium"), f("workers", "active", "low"))
	fmt.Fprintf(w, "job queues: %s/%s/%s/%s\n", f("queues", "critical"), f("queues", "high"), f("queues", "medium"), f("queues", "low"))
	fmt.Fprintf(w, "jobs scheduled: %s\n", f("scheduled"))
	fmt.Fprintf(w, "IKE_SAs: %s total, %s half-open\n", f("ikesas", "total"), f("ikesas", "half-open"))
	if _, found, _ := lookup(st, "mem", "total"); found {
		fmt.Fprintf(w, "memory usage: %s bytes, %s allocations\n", f("mem", "total"), f("mem", "allocs"))
	}
	if _, found, _ := lookup(st, "mallinfo", "sbrk"); found {
		fmt.Fprintf(w, "mallinfo: sbrk %s, mmap %s, used %s, free %s\n",
			f("mallinfo", "sbrk"), f("mallinfo", "mmap"), f("mallinfo", "used"), f("mallinfo", "free"))
	}
	w.WriteString("loaded plugins:")
	// swanctl prints the items of every top-level list (only "plugins").
	for _, kv := range st.Items() {
		if l, ok := kv[1].(*starlark.List); ok {
			for _, item := range collect(l) {
				if err := r.tick(); err != nil {
					return err
				}
				fmt.Fprintf(w, " %s", text(item))
			}
		}
	}
	w.WriteString("\n")
	return nil
}

// lookup returns the value at path in m.
func lookup(m starlark.Mapping, path ...string) (starlark.Value, bool, error) {
	var v starlark.Value = m
	for _, key := range path {
		d, ok := v.(starlark.Mapping)
		if !ok {
			return nil, false, nil
		}
		next, found, err := d.Get(starlark.String(key))
		if err != nil || !found {
			return nil, false, err
		}
		v = next
	}
	return v, true, nil
}

// writeCounters renders what vici.get_counters returns as swanctl
// --counters does: each connection's counters ("global" for the global
// ones, which charon names ""), one aligned line per counter.
func writeCounters(w *strings.Builder, data starlark.Value, r *listRun) error {
	root, err := asMapping(data, "the counters (what vici.get_counters returns)")
	if err != nil {
		return err
	}
	if _, found, _ := lookup(root, "success"); !found {
		return fmt.Errorf("got a dict without \"success\", want what vici.get_counters returns")
	}
	if find(root, "no", "success") != "yes" {
		return fmt.Errorf("get-counters failed: %s", find(root, "", "errmsg"))
	}
	for _, top := range sections(root) {
		for _, conn := range sections(top.m) {
			name := conn.name
			if name == "" {
				name = "global"
			}
			fmt.Fprintf(w, "%s:\n", name)
			for _, kv := range conn.m.Items() {
				if err := r.tick(); err != nil {
					return err
				}
				if s, ok := printable(kv[1]); ok {
					fmt.Fprintf(w, "  %s: %s\n", padRight(text(kv[0]), 22), s)
				}
			}
		}
	}
	return nil
}
