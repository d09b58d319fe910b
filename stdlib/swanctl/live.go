package swanctl

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/vicish/vicish/vici"
)

// IKESA is an IKE_SA as list-sas shows it, with its CHILD_SAs.
type IKESA struct {
	ID    string // uniqueid
	Conn  string // the connection's name
	State string // ESTABLISHED, CONNECTING, DELETING, ...
	// Busy: charon has exchanges queued or running on it (tasks-queued,
	// tasks-active), e.g. a CHILD_SA being created.
	Busy     bool
	Children []ChildSA
}

// ChildSA is a CHILD_SA of an IKE_SA.
type ChildSA struct {
	ID    string // uniqueid
	Name  string // the child's name
	State string // INSTALLED, REKEYED, DELETING, ...
}

// up reports whether the IKE_SA is established.
func (s IKESA) up() bool { return s.State == "ESTABLISHED" }

// installed reports whether the CHILD_SA carries traffic.
func (c ChildSA) installed() bool { return c.State == "INSTALLED" }

// listSAs returns the daemon's IKE_SAs.
func listSAs(ctx context.Context, c daemon) ([]IKESA, error) {
	var out []IKESA
	err := c.collect(ctx, "list-sas", "list-sa", nil, func(m *vici.Message) int {
		held := 0
		for _, e := range m.Entries() {
			if e.Kind != vici.KindSection {
				continue
			}
			// Get copies; a name is a view of m, which it would keep.
			sa := IKESA{ID: e.Section.Get("uniqueid"), Conn: strings.Clone(e.Name), State: e.Section.Get("state"),
				Busy: len(e.Section.List("tasks-queued"))+len(e.Section.List("tasks-active")) > 0}
			if cs := e.Section.Section("child-sas"); cs != nil {
				for _, ce := range cs.Entries() {
					if ce.Kind == vici.KindSection {
						sa.Children = append(sa.Children, ChildSA{ID: ce.Section.Get("uniqueid"),
							Name: ce.Section.Get("name"), State: ce.Section.Get("state")})
					}
				}
			}
			out = append(out, sa)
			held += sa.memSize()
		}
		return held
	})
	return out, err
}

// memSize is about how many bytes s takes in memory, its children
// included (and its place in a slice).
func (s IKESA) memSize() int {
	n := int(unsafe.Sizeof(s)) + len(s.ID) + len(s.Conn) + len(s.State)
	for _, c := range s.Children {
		n += int(unsafe.Sizeof(c)) + len(c.ID) + len(c.Name) + len(c.State)
	}
	return n
}

// liveState is what a plan reads from the daemon: its version, SAs and
// the names of what is loaded, to compare with the previous files.
type liveState struct {
	version  string              // e.g. "5.9.8"
	sas      []IKESA             //
	conns    map[string][]string // connection → its children (list-conns)
	pools    map[string]int      // pool → online leases (get-pools)
	auths    []string            // get-authorities
	shared   []string            // get-shared
	keys     []string            // get-keys
	certDERs map[string]bool     // list-certs
}

// readDaemon asks the daemon for what a plan needs.
func readDaemon(ctx context.Context, c daemon) (*liveState, error) {
	st := &liveState{conns: map[string][]string{}, pools: map[string]int{}, certDERs: map[string]bool{}}
	v, err := c.Call(ctx, "version", nil)
	if err != nil {
		return nil, err
	}
	st.version = v.Get("version")
	if st.sas, err = listSAs(ctx, c); err != nil {
		return nil, err
	}
	err = c.collect(ctx, "list-conns", "list-conn", nil, func(m *vici.Message) int {
		held := 0
		for _, e := range m.Entries() {
			if e.Kind != vici.KindSection {
				continue
			}
			var children []string // names are views of m: copies, so as not to keep it
			if cs := e.Section.Section("children"); cs != nil {
				for c := range cs.All() {
					children = append(children, strings.Clone(c.Name))
					held += heldString(c.Name)
				}
			}
			st.conns[strings.Clone(e.Name)] = children
			held += heldString(e.Name) + mapEntry
		}
		return held
	})
	if err != nil {
		return nil, err
	}
	pools, err := c.Call(ctx, "get-pools", nil)
	if err != nil {
		return nil, err
	}
	for _, e := range pools.Entries() {
		if e.Kind == vici.KindSection {
			n, _ := strconv.Atoi(e.Section.Get("online"))
			st.pools[e.Name] = n
		}
	}
	for _, q := range []struct {
		cmd, key string
		into     *[]string
	}{{"get-authorities", "authorities", &st.auths}, {"get-shared", "keys", &st.shared}, {"get-keys", "keys", &st.keys}} {
		r, err := c.Call(ctx, q.cmd, nil)
		if err != nil {
			return nil, err
		}
		*q.into = r.List(q.key)
	}
	err = c.collect(ctx, "list-certs", "list-cert", nil, func(m *vici.Message) int {
		return certDER(st.certDERs, m)
	})
	return st, err
}

// certDER adds the DER of the certificate a list-cert entry shows to
// ders, and returns about how many bytes that takes.
func certDER(ders map[string]bool, m *vici.Message) int {
	e, ok := m.Lookup("data")
	if !ok {
		return 0
	}
	ders[string(e.Value)] = true
	return stringHeader + len(e.Value) + mapEntry
}

// v6 reports whether the daemon is strongSwan 6 or newer, whose reaction
// to a reloaded connection differs (see the plan's rules).
func (st *liveState) v6() bool {
	major, _, _ := strings.Cut(st.version, ".")
	n, err := strconv.Atoi(major)
	return err == nil && n >= 6
}

// drift compares the previous files with what the daemon has loaded: by
// name for connections (and their children), pools, authorities and
// shared secrets; by key id for private keys (the daemon's other keys
// only when every key id of the files is known: an encrypted key's or a
// token's is the daemon's to compute); by content for certificates the
// files have (the daemon may hold more: VICI cannot unload them).
func (st *liveState) drift(prev *Conf) []string {
	var out []string
	both := func(kind string, files, daemon []string) {
		inFiles := setOf(files)
		inDaemon := setOf(daemon)
		for _, n := range files {
			if !inDaemon[n] {
				out = append(out, fmt.Sprintf("%s %s: in the previous files, not in the daemon", kind, n))
			}
		}
		for _, n := range daemon {
			if !inFiles[n] {
				out = append(out, fmt.Sprintf("%s %s: in the daemon, not in the previous files", kind, n))
			}
		}
	}
	names := func(kind string) []string {
		var ns []string
		for _, it := range prev.ByKind(kind) {
			ns = append(ns, it.Name)
		}
		return ns
	}
	var daemonConns []string
	for n := range st.conns {
		daemonConns = append(daemonConns, n)
	}
	slices.Sort(daemonConns)
	both(KindConn, names(KindConn), daemonConns)
	for _, it := range prev.ByKind(KindConn) {
		children, ok := st.conns[it.Name]
		if !ok || it.Body == nil {
			continue
		}
		_, files := splitConn(it.Body, it.Name)
		var fileChildren []string
		for _, c := range files {
			fileChildren = append(fileChildren, c.name)
		}
		both(KindChild, prefixed(it.Name, fileChildren), prefixed(it.Name, children))
	}
	var daemonPools []string
	for n := range st.pools {
		daemonPools = append(daemonPools, n)
	}
	slices.Sort(daemonPools)
	both(KindPool, names(KindPool), daemonPools)
	both(KindAuthority, names(KindAuthority), st.auths)
	both(KindShared, names(KindShared), st.shared)
	keys := setOf(st.keys)
	fileKeys := map[string]bool{}
	allKnown := len(prev.ByKind(KindToken)) == 0 // a token's key id is the daemon's to find
	for _, it := range prev.ByKind(KindKey) {
		if it.KeyID == "" {
			allKnown = false
			continue
		}
		fileKeys[it.KeyID] = true
		if !keys[it.KeyID] {
			out = append(out, fmt.Sprintf("key %s: in the previous files (id %s), not in the daemon", it.Name, it.KeyID))
		}
	}
	if allKnown {
		for _, id := range st.keys {
			if !fileKeys[id] {
				out = append(out, fmt.Sprintf("key %s: in the daemon, not in the previous files", id))
			}
		}
	}
	for _, it := range prev.ByKind(KindCert) {
		if it.DER != nil && !st.certDERs[string(it.DER)] {
			out = append(out, fmt.Sprintf("cert %s: in the previous files, not in the daemon", it.Name))
		}
	}
	return out
}

func prefixed(conn string, children []string) []string {
	out := make([]string, len(children))
	for i, c := range children {
		out[i] = conn + "/" + c
	}
	return out
}
