package swanctl

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Effects of a configuration change on a live SA, as charon behaves
// (TestReloadBehaviour shows each rule on 5.9.8 and 6.1).
const (
	// EffectUntouched: the SA stays, and it is of the new configuration.
	EffectUntouched = "untouched"
	// EffectClosed: charon closes the SA when the change is loaded.
	EffectClosed = "torn down"
	// EffectOld: charon keeps the SA on the old configuration; only a
	// fresh SA (Impact.Proof) shows whether the new one works.
	EffectOld = "left on the old configuration"
)

// How the new configuration is proven for an SA left on the old one.
const (
	ProofFreshIKE   = "a fresh IKE_SA"
	ProofPeerIKE    = "a fresh IKE_SA from the peer (nothing to initiate to)"
	ProofFreshChild = "a fresh CHILD_SA"
	ProofReauth     = "reauthentication"
	ProofWithIKE    = "moves with its IKE_SA"
	ProofCharon     = "charon initiates it again"
	ProofNone       = "none: no longer configured, charon leaves it up"
)

// A closed SA's Proof is ProofCharon when charon initiates its child
// again (start_action=start), else empty.

// Impact is what loading the new configuration does to one live SA.
type Impact struct {
	SA     string // "IKE_SA" or "CHILD_SA"
	Conn   string // the connection
	ID     string // the SA's unique id
	IKEID  string // a CHILD_SA's IKE_SA
	Child  string // a CHILD_SA's child name
	State  string
	Effect string // EffectUntouched, EffectClosed or EffectOld
	Proof  string // how the new configuration is proven (EffectOld), or ProofCharon (EffectClosed)
	Why    string // the change behind it
}

// Plan is what applying a configuration over the previous one would do
// to one daemon: the differences of the files, where the daemon differs
// from the previous files (drift), items that cannot be loaded, and the
// impact on every live SA.
type Plan struct {
	Gateway  string // the daemon's name (the session's, or its URI)
	Version  string // the daemon's strongSwan version
	Path     string // the new swanctl.conf
	Previous string // the previous one
	Changes  []ItemDiff
	Drift    []string
	Problems []string // why applying would fail: items that cannot be loaded, pools charon will refuse
	Impact   []Impact
	// Initiates are the children ("conn/child") charon initiates itself
	// once the change is loaded (start_action=start).
	Initiates []string

	t *transition
}

// newPlan plans applying next over prev (the configuration the daemon
// has now, as files) on daemon c. name labels it.
func newPlan(ctx context.Context, c daemon, name string, next, prev *Conf) (*Plan, error) {
	st, err := readDaemon(ctx, c)
	if err != nil {
		return nil, err
	}
	return planFrom(st, name, next, prev), nil
}

func planFrom(st *liveState, name string, next, prev *Conf) *Plan {
	t := newTransition(prev, next, st.v6())
	p := &Plan{Gateway: name, Version: st.version, Path: next.Path, Previous: prev.Path,
		Changes: t.diffs, Drift: st.drift(prev), t: t, Initiates: t.initiates()}
	for _, it := range prev.Items {
		if it.Err != nil {
			p.Problems = append(p.Problems, fmt.Sprintf("the previous %s %s cannot be loaded (so it cannot be restored): %v", it.Kind, it.Name, it.Err))
		}
	}
	for _, d := range t.diffs {
		switch {
		case d.Err != nil:
			p.Problems = append(p.Problems, fmt.Sprintf("%s %s cannot be loaded: %v", d.Kind, d.Name, d.Err))
		case d.Kind == KindPool && (d.Verdict == Changed || d.Verdict == Removed) && st.pools[d.Name] > 0:
			p.Problems = append(p.Problems, fmt.Sprintf("pool %s has %d online leases: charon refuses to %s it", d.Name, st.pools[d.Name],
				map[string]string{Changed: "replace", Removed: "unload"}[d.Verdict]))
		}
	}
	p.Impact = t.impact(st.sas)
	return p
}

// impact applies charon's rules to every live SA.
func (t *transition) impact(sas []IKESA) []Impact {
	var out []Impact
	for _, s := range sas {
		out = append(out, t.impactOf(s)...)
	}
	return out
}

func (t *transition) impactOf(s IKESA) []Impact {
	c := t.conns[s.Conn]
	ike := Impact{SA: "IKE_SA", Conn: s.Conn, ID: s.ID, State: s.State, Effect: EffectUntouched}
	rows := []Impact{}
	child := func(ch ChildSA) Impact {
		return Impact{SA: "CHILD_SA", Conn: s.Conn, ID: ch.ID, IKEID: s.ID, Child: ch.Name, State: ch.State, Effect: EffectUntouched}
	}
	var live []ChildSA
	for _, ch := range s.Children {
		if ch.State != "DELETING" && ch.State != "DELETED" {
			live = append(live, ch)
		}
	}
	// allIn reports whether every live CHILD_SA of s is in set: charon
	// then closes the IKE_SA with them (and one without CHILD_SA).
	allIn := func(set map[string]bool) bool {
		for _, ch := range live {
			if !set[ch.Name] {
				return false
			}
		}
		return true
	}
	switch {
	case c == nil || c.verdict == Added:
		ike.Why = "its connection is not in the previous files"
		if c == nil {
			ike.Why = "its connection is in neither configuration"
		}
		rows = append(rows, ike)
		for _, ch := range s.Children {
			rows = append(rows, child(ch))
		}
		return rows

	case c.peerReplaced():
		// Charon replaces the connection: the start_action=start children
		// of the old one are closed, and an IKE_SA left with nothing else.
		closing := map[string]bool{}
		for name, start := range c.startIn {
			if start {
				closing[name] = true
			}
		}
		why := "connection removed"
		if c.verdict != Removed {
			why = "changed: " + strings.Join(c.peer, ", ")
		}
		ike.Why = why
		switch {
		case allIn(closing) && (len(closing) > 0 || t.v6):
			ike.Effect = EffectClosed
		case c.verdict == Removed:
			ike.Effect, ike.Proof = EffectOld, ProofNone
		default:
			ike.Effect, ike.Proof = EffectOld, ProofFreshIKE
			if !c.initiable {
				ike.Proof = ProofPeerIKE
			}
		}
		rows = append(rows, ike)
		for _, ch := range s.Children {
			r := child(ch)
			r.Why = why
			switch {
			case closing[ch.Name] && t.inTo(s.Conn, ch.Name) && c.startOut[ch.Name]:
				r.Effect, r.Proof = EffectClosed, ProofCharon
			case closing[ch.Name] || ike.Effect == EffectClosed:
				r.Effect = EffectClosed
			case !t.inTo(s.Conn, ch.Name):
				r.Effect, r.Proof = EffectOld, ProofNone
			default:
				r.Effect, r.Proof = EffectOld, ProofWithIKE
			}
			rows = append(rows, r)
		}
		return rows
	}

	// The connection is updated: charon replaces its children. Changed
	// and removed start_action=start children are closed; 5.9.8 closes
	// the IKE_SA with the last of its CHILD_SAs, 6.x unless a child is
	// to be initiated (and 6.x closes IKE_SAs without CHILD_SA even when
	// nothing changed).
	clearing := map[string]bool{}
	initiate := false
	for name, d := range c.children {
		if d.Verdict == Removed || d.Verdict == Changed {
			if c.startIn[name] {
				clearing[name] = true
			}
		}
		if (d.Verdict == Added || d.Verdict == Changed) && c.startOut[name] {
			initiate = true
		}
	}
	closeIKE := allIn(clearing) && len(clearing) > 0
	if t.v6 {
		closeIKE = allIn(clearing) && !initiate
	}
	switch {
	case closeIKE:
		ike.Effect = EffectClosed
		ike.Why = "its last CHILD_SA is closed"
		if len(live) == 0 {
			ike.Why = "it has no CHILD_SA (charon closes such IKE_SAs of a reloaded connection)"
			if !t.v6 {
				ike.Why = "it has no CHILD_SA and a start_action=start child changed"
			}
		}
	case len(c.cred) > 0:
		ike.Effect, ike.Proof = EffectOld, ProofReauth
		ike.Why = strings.Join(c.cred, ", ")
	}
	rows = append(rows, ike)
	for _, ch := range s.Children {
		r := child(ch)
		d := c.children[ch.Name]
		switch {
		case clearing[ch.Name] || ike.Effect == EffectClosed:
			r.Effect = EffectClosed
			if t.inTo(s.Conn, ch.Name) && c.startOut[ch.Name] {
				r.Proof = ProofCharon
			}
			r.Why = childWhy(d)
		case d.Verdict == Removed:
			r.Effect, r.Proof, r.Why = EffectOld, ProofNone, "child removed"
		case d.Verdict == Changed:
			r.Effect, r.Proof, r.Why = EffectOld, ProofFreshChild, childWhy(d)
		case ike.Effect == EffectOld:
			r.Effect, r.Proof, r.Why = EffectOld, ProofWithIKE, ike.Why
		}
		rows = append(rows, r)
	}
	return rows
}

func childWhy(d ItemDiff) string {
	switch d.Verdict {
	case Removed:
		return "child removed"
	case Changed:
		return "changed: " + strings.Join(d.Keys, ", ")
	}
	return ""
}

// Affected returns the impact rows of SAs the change closes or leaves on
// the old configuration.
func (p *Plan) Affected() []Impact {
	var out []Impact
	for _, r := range p.Impact {
		if r.Effect != EffectUntouched {
			out = append(out, r)
		}
	}
	return out
}

// Print writes the plan: a header, the items that differ, what charon
// ignores, drift, problems, and the live SAs with their fate.
func (p *Plan) Print(w io.Writer) {
	fmt.Fprintf(w, "plan for %s (strongSwan %s): %s over %s\n", p.Gateway, p.Version, p.Path, p.Previous)
	counts := map[string]int{}
	for _, d := range p.Changes {
		counts[d.Verdict]++
		if d.Verdict != Unchanged {
			fmt.Fprintf(w, "  %-9s %s\n", d.Verdict, d)
		}
	}
	for _, d := range p.Changes {
		if len(d.Ignored) > 0 {
			fmt.Fprintf(w, "  ignored   %s %s: %s (charon keeps the old value until the connection is unloaded)\n",
				d.Kind, d.Name, strings.Join(d.Ignored, ", "))
		}
	}
	for _, d := range p.Drift {
		fmt.Fprintf(w, "  drift     %s\n", d)
	}
	for _, pr := range p.Problems {
		fmt.Fprintf(w, "  problem   %s\n", pr)
	}
	effects := map[string]int{}
	for _, r := range p.Impact {
		effects[r.Effect]++
		indent := "  "
		name := fmt.Sprintf("IKE_SA %s #%s", r.Conn, r.ID)
		if r.SA == "CHILD_SA" {
			indent = "    "
			name = fmt.Sprintf("CHILD_SA %s #%s", r.Child, r.ID)
		}
		line := fmt.Sprintf("  %s%s %s: %s", indent, name, r.State, r.Effect)
		if r.Why != "" && r.Effect != EffectUntouched {
			line += " (" + r.Why + ")"
		}
		if r.Proof != "" {
			line += "; proof: " + r.Proof
		}
		fmt.Fprintln(w, line)
	}
	for _, c := range p.Initiates {
		fmt.Fprintf(w, "  initiate  %s (charon, start_action=start)\n", c)
	}
	fmt.Fprintf(w, "  %d added, %d changed, %d removed, %d unchanged; live SAs: %d torn down, %d left on the old configuration, %d untouched\n",
		counts[Added], counts[Changed], counts[Removed], counts[Unchanged],
		effects[EffectClosed], effects[EffectOld], effects[EffectUntouched])
}
