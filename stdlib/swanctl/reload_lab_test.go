package swanctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
)

// What charon does to an established IKE_SA and its installed CHILD_SA
// when their connection is loaded again with a change, on the daemon the
// lab runs (5.9.8 or 6.1). The plan and the rollout are built on these
// facts; TestReloadBehaviour is their proof.
//
// Each case brings a's connection "ab" (child "net") up under a base
// configuration, loads a changed one with Apply, and looks at the old
// SAs at once: charon's reaction to load-conn (closing SAs, initiating
// start_action=start children) runs inside the command, so the state
// right after it is already the outcome. Then it initiates the child
// again: charon reuses an IKE_SA whose configuration equals the loaded
// one and refuses a CHILD_SA equal to an installed one in the same
// IKE_SA ("not establishing CHILD_SA ... due to existing duplicate"), so
// where the new CHILD_SA lands tells which SAs charon regards as being of
// the loaded configuration.

// reloadConf renders a's swanctl.conf for the reload cases.
type reloadConf struct {
	localID, remoteAddrs, proposals, dpdTimeout string
	child, localTS, start, rekey, esp           string
	noConn                                      bool
	secret                                      string
}

func baseReloadConf() reloadConf {
	return reloadConf{localID: "a", remoteAddrs: "192.0.2.2", dpdTimeout: "150s",
		child: "net", localTS: lab.NetA, start: "none", rekey: "1h", secret: lab.PSK}
}

func (p reloadConf) text() string {
	var b strings.Builder
	if !p.noConn {
		fmt.Fprintf(&b, "connections {\n  ab {\n    version = 2\n    local_addrs = 192.0.2.1\n    remote_addrs = %s\n    unique = never\n", p.remoteAddrs)
		if p.proposals != "" {
			fmt.Fprintf(&b, "    proposals = %s\n", p.proposals)
		}
		fmt.Fprintf(&b, "    dpd_delay = 30s\n    dpd_timeout = %s\n", p.dpdTimeout)
		fmt.Fprintf(&b, "    local {\n      auth = psk\n      id = %s\n    }\n    remote {\n      auth = psk\n      id = b\n    }\n", p.localID)
		fmt.Fprintf(&b, "    children {\n      %s {\n        local_ts = %s\n        remote_ts = %s\n        start_action = %s\n        rekey_time = %s\n",
			p.child, p.localTS, lab.NetB, p.start, p.rekey)
		if p.esp != "" {
			fmt.Fprintf(&b, "        esp_proposals = %s\n", p.esp)
		}
		b.WriteString("      }\n    }\n  }\n}\n")
	}
	fmt.Fprintf(&b, "secrets {\n  ike-lab {\n    secret = %q\n  }\n}\n", p.secret)
	return b.String()
}

// What a case sees. After the load: the old IKE_SA and CHILD_SA are
// "kept" (still ESTABLISHED/INSTALLED) or "closed" (DELETING or gone).
// Then, initiating the child again (or, with start_action=start, what
// charon initiated itself) gives:
const (
	thenNewIKE    = "new IKE_SA"     // a new IKE_SA with the child: the old IKE_SA is of the old configuration
	thenNewChild  = "new CHILD_SA"   // a second CHILD_SA in the old IKE_SA: only the old CHILD_SA is of the old configuration
	thenDuplicate = "duplicate"      // refused: the old SAs count as the loaded configuration
	thenFailed    = "failed"         // a new IKE_SA was tried and the peer refused it
	thenNothing   = "nothing"        // nothing is initiated (the child or connection is gone)
	kept, closed  = "kept", "closed" // the old SA after the load
)

type reloadOutcome struct{ ike, child, then string }

type reloadCase struct {
	name   string
	start  string // the child's start_action
	change func(p *reloadConf)
	peer   string // a new PSK for b too, so that a fresh IKE_SA can authenticate
	want   func(v6 bool) reloadOutcome
}

func same(o reloadOutcome) func(bool) reloadOutcome { return func(bool) reloadOutcome { return o } }

// reloadCases are the kinds of change the issue lists: identity,
// proposals, addresses, traffic selectors, child options, removal and
// secrets, with the child's start_action none (the default), start and
// trap.
var reloadCases = []reloadCase{
	// start_action = none: charon leaves every SA alone.
	{name: "identity", start: "none", change: func(p *reloadConf) { p.localID = "a-renamed" },
		want: same(reloadOutcome{kept, kept, thenFailed})},
	{name: "ike proposals", start: "none", change: func(p *reloadConf) { p.proposals = "aes256-sha256-ecp256" },
		want: same(reloadOutcome{kept, kept, thenNewIKE})},
	{name: "addresses", start: "none", change: func(p *reloadConf) { p.remoteAddrs = "192.0.2.2, 192.0.2.3" },
		want: same(reloadOutcome{kept, kept, thenNewIKE})},
	{name: "traffic selectors", start: "none", change: func(p *reloadConf) { p.localTS = "10.1.0.0/25" },
		want: same(reloadOutcome{kept, kept, thenNewChild})},
	{name: "child rekey_time", start: "none", change: func(p *reloadConf) { p.rekey = "2h" },
		want: same(reloadOutcome{kept, kept, thenNewChild})},
	{name: "esp proposals", start: "none", change: func(p *reloadConf) { p.esp = "aes256-sha256" },
		want: same(reloadOutcome{kept, kept, thenNewChild})},
	// charon's peer_cfg equality leaves out dpd_timeout: the connection
	// counts as unchanged and keeps its old value (list-conns shows it).
	{name: "dpd_timeout", start: "none", change: func(p *reloadConf) { p.dpdTimeout = "300s" },
		want: same(reloadOutcome{kept, kept, thenDuplicate})},
	{name: "child removed", start: "none", change: func(p *reloadConf) { p.child, p.localTS = "other", "10.1.1.0/24" },
		want: same(reloadOutcome{kept, kept, thenNothing})},
	{name: "connection removed", start: "none", change: func(p *reloadConf) { p.noConn = true },
		want: same(reloadOutcome{kept, kept, thenNothing})},
	// A shared secret is only used to authenticate: the IKE_SA stays,
	// and initiating reuses it.
	{name: "secret", start: "none", change: func(p *reloadConf) { p.secret = "a-new-secret" }, peer: "a-new-secret",
		want: same(reloadOutcome{kept, kept, thenDuplicate})},

	// start_action = start: charon closes what the changed or removed
	// child has and initiates the new child itself.
	{name: "identity", start: "start", change: func(p *reloadConf) { p.localID = "a-renamed" },
		want: same(reloadOutcome{closed, closed, thenFailed})},
	// 5.9.8 closes the IKE_SA when the child was its only one; 6.x keeps
	// the IKE_SA when a child is to be initiated, and makes the new
	// CHILD_SA in it.
	{name: "child rekey_time", start: "start", change: func(p *reloadConf) { p.rekey = "2h" },
		want: func(v6 bool) reloadOutcome {
			if v6 {
				return reloadOutcome{kept, closed, thenNewChild}
			}
			return reloadOutcome{closed, closed, thenNewIKE}
		}},
	{name: "child removed", start: "start", change: func(p *reloadConf) { p.child, p.start = "other", "none" },
		want: same(reloadOutcome{closed, closed, thenNothing})},
	{name: "connection removed", start: "start", change: func(p *reloadConf) { p.noConn = true },
		want: same(reloadOutcome{closed, closed, thenNothing})},
	{name: "secret", start: "start", change: func(p *reloadConf) { p.secret = "a-new-secret" }, peer: "a-new-secret",
		want: same(reloadOutcome{kept, kept, thenDuplicate})},

	// start_action = trap: the trap policy is installed again; the
	// established SAs stay, as with none.
	{name: "identity", start: "trap", change: func(p *reloadConf) { p.localID = "a-renamed" },
		want: same(reloadOutcome{kept, kept, thenFailed})},
	{name: "child rekey_time", start: "trap", change: func(p *reloadConf) { p.rekey = "2h" },
		want: same(reloadOutcome{kept, kept, thenNewChild})},
	{name: "connection removed", start: "trap", change: func(p *reloadConf) { p.noConn = true },
		want: same(reloadOutcome{kept, kept, thenNothing})},
}

// reloadLab is the two-gateway lab the reload cases share.
type reloadLab struct {
	t    *testing.T
	ctx  context.Context
	l    *lab.Lab
	a, b *vici.Client
	dir  string // a's swanctl directory
	v6   bool
}

func newReloadLab(t *testing.T) *reloadLab {
	l := labtest.Start(t, lab.TwoGateways)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	r := &reloadLab{t: t, ctx: ctx, l: l, dir: t.TempDir(), v6: labtest.AtLeast(t, l.Gateway("a"), "6.0.0")}
	for _, p := range []struct {
		c  **vici.Client
		gw string
	}{{&r.a, "a"}, {&r.b, "b"}} {
		c, err := vici.Dial(ctx, l.Gateway(p.gw).URI)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		*p.c = c
	}
	return r
}

// load applies p to a, failing the test on any failure.
func (r *reloadLab) load(t *testing.T, p reloadConf) *applyReport {
	t.Helper()
	writeFile(t, filepath.Join(r.dir, "swanctl.conf"), p.text())
	report := applyGo(t, r.ctx, r.a, r.dir)
	if err := report.Err(); err != nil {
		t.Fatal(err)
	}
	return report
}

// setPeerSecret loads the lab's secret "ike-lab" with a new value into b.
func (r *reloadLab) setPeerSecret(t *testing.T, secret string) {
	t.Helper()
	req := vici.NewMessage().Set("id", "ike-lab").Set("type", "IKE").Set("data", secret)
	if _, err := r.b.Call(r.ctx, "load-shared", req); err != nil {
		t.Fatal(err)
	}
}

// liveIKE is an IKE_SA of list-sas with its CHILD_SAs.
type liveIKE struct {
	id, conn, state string
	children        []liveChild
}

type liveChild struct{ id, name, state string }

func listLive(t *testing.T, ctx context.Context, c *vici.Client) []liveIKE {
	t.Helper()
	var out []liveIKE
	_, err := c.CallStream(ctx, "list-sas", "list-sa", vici.NewMessage(), func(m *vici.Message) error {
		for _, conn := range m.Keys() {
			sa := m.Section(conn)
			ike := liveIKE{id: sa.Get("uniqueid"), conn: conn, state: sa.Get("state")}
			if cs := sa.Section("child-sas"); cs != nil {
				for _, k := range cs.Keys() {
					ch := cs.Section(k)
					ike.children = append(ike.children, liveChild{ch.Get("uniqueid"), ch.Get("name"), ch.Get("state")})
				}
			}
			out = append(out, ike)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list-sas: %v", err)
	}
	return out
}

// waitFor polls list-sas on a until cond holds (charon's own initiation
// and deletion run in the background); it fails the test after a minute.
func (r *reloadLab) waitFor(t *testing.T, what string, cond func([]liveIKE) bool) []liveIKE {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		sas := listLive(t, r.ctx, r.a)
		if cond(sas) {
			return sas
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: a has %+v", what, sas)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clear terminates every SA on a and b and waits until none is left.
func (r *reloadLab) clear(t *testing.T) {
	t.Helper()
	for _, c := range []*vici.Client{r.a, r.b} {
		for _, sa := range listLive(t, r.ctx, c) {
			_, _ = c.Call(r.ctx, "terminate", vici.NewMessage().Set("ike-id", sa.id).Set("force", "yes").Set("timeout", "-1"))
		}
	}
	deadline := time.Now().Add(time.Minute)
	for len(listLive(t, r.ctx, r.a))+len(listLive(t, r.ctx, r.b)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("SAs left after terminating them")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// up is the one ESTABLISHED IKE_SA of "ab" with its one INSTALLED CHILD_SA.
func up(sas []liveIKE) (liveIKE, bool) {
	var found []liveIKE
	for _, sa := range sas {
		if sa.conn == "ab" && sa.state == "ESTABLISHED" && len(sa.children) == 1 && sa.children[0].state == "INSTALLED" {
			found = append(found, sa)
		}
	}
	if len(found) != 1 || len(sas) != 1 {
		return liveIKE{}, false
	}
	return found[0], true
}

// bringUp loads p and brings "ab" up (charon does for start_action=start).
func (r *reloadLab) bringUp(t *testing.T, p reloadConf) liveIKE {
	t.Helper()
	r.clear(t)
	r.setPeerSecret(t, lab.PSK)
	r.load(t, p)
	if p.start != "start" {
		if _, err := r.a.Call(r.ctx, "initiate", vici.NewMessage().Set("ike", "ab").Set("child", p.child).Set("timeout", "20000")); err != nil {
			t.Fatalf("initiate: %v", err)
		}
	}
	sa, _ := up(r.waitFor(t, "ab up", func(sas []liveIKE) bool { _, ok := up(sas); return ok }))
	return sa
}

// duplicates counts charon's "due to existing duplicate" lines in a's log.
func (r *reloadLab) duplicates(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile(r.l.Gateway("a").LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "due to existing duplicate")
}

// oldState is what became of the SAs with these ids: kept (ESTABLISHED,
// INSTALLED) or closed (DELETING, gone; a CHILD_SA of a DELETING IKE_SA
// stays INSTALLED until the deletion ends, and is closed too).
func oldState(sas []liveIKE, ikeID, childID string) (ike, child string) {
	ike, child = closed, closed
	for _, sa := range sas {
		if sa.state != "ESTABLISHED" {
			continue
		}
		if sa.id == ikeID {
			ike = kept
		}
		for _, ch := range sa.children {
			if ch.id == childID && ch.state == "INSTALLED" {
				child = kept
			}
		}
	}
	return ike, child
}

// newChild finds an INSTALLED CHILD_SA other than old: in the IKE_SA
// oldIKE (thenNewChild) or another one (thenNewIKE); "" if none.
func newChild(sas []liveIKE, oldIKE, oldChild string) string {
	for _, sa := range sas {
		for _, ch := range sa.children {
			if ch.id != oldChild && ch.state == "INSTALLED" && sa.state == "ESTABLISHED" {
				if sa.id == oldIKE {
					return thenNewChild
				}
				return thenNewIKE
			}
		}
	}
	return ""
}

// then initiates the child of p again and says what happened.
func (r *reloadLab) then(t *testing.T, p reloadConf, old liveIKE) string {
	t.Helper()
	dup := r.duplicates(t)
	_, err := r.a.Call(r.ctx, "initiate", vici.NewMessage().Set("ike", "ab").Set("child", p.child).Set("timeout", "20000"))
	var ce *vici.CommandError
	switch {
	case err == nil:
		return newChild(listLive(t, r.ctx, r.a), old.id, old.children[0].id)
	case !errors.As(err, &ce):
		t.Fatalf("initiate: %v", err)
	case r.duplicates(t) > dup:
		return thenDuplicate
	}
	return thenFailed
}

func TestReloadBehaviour(t *testing.T) {
	r := newReloadLab(t)
	for _, tc := range reloadCases {
		t.Run(tc.start+"/"+tc.name, func(t *testing.T) {
			base := baseReloadConf()
			base.start = tc.start
			old := r.bringUp(t, base)
			next := base
			tc.change(&next)
			if tc.peer != "" {
				r.setPeerSecret(t, tc.peer)
			}
			plan := r.plan(t, base, next)
			r.load(t, next)
			var got reloadOutcome
			got.ike, got.child = oldState(listLive(t, r.ctx, r.a), old.id, old.children[0].id)
			switch {
			case next.noConn || next.child != base.child:
				got.then = thenNothing
				if got.ike == closed {
					// Nothing of ab may come back.
					r.waitFor(t, "the old SAs gone", func(sas []liveIKE) bool { return len(sas) == 0 })
				}
			case tc.start == "start" && got.child == closed:
				// What charon initiated itself: a new CHILD_SA, or
				// nothing left once the peer refused it.
				sas := r.waitFor(t, "charon's initiation to end", func(sas []liveIKE) bool {
					return newChild(sas, old.id, old.children[0].id) != "" || len(sas) == 0
				})
				if got.then = newChild(sas, old.id, old.children[0].id); got.then == "" {
					got.then = thenFailed
				}
			default:
				got.then = r.then(t, next, old)
			}
			want := tc.want(r.v6)
			if got != want {
				t.Errorf("strongSwan %s: got %+v, want %+v", r.l.Gateway("a").Version(), got, want)
			}
			// The plan foresaw it.
			var text strings.Builder
			plan.Print(&text)
			t.Logf("%s", text.String())
			if p := predicted(plan, old.id, old.children[0].id); p != want && (p.then != thenNewIKE || want.then != thenFailed || p.ike != want.ike || p.child != want.child) {
				t.Errorf("strongSwan %s: the plan predicted %+v, charon did %+v", r.l.Gateway("a").Version(), p, want)
			}
			if tc.name == "dpd_timeout" {
				if v := r.listConn(t, "ab").Get("dpd_timeout"); v != "150" {
					t.Errorf("dpd_timeout after loading 300s: list-conns shows %q, want the old 150", v)
				}
			}
		})
	}

	// Rolling back: the connection is loaded again as it was, while the
	// IKE_SA of that configuration is still up. Initiating then finds the
	// old SAs equal to the loaded configuration and is refused, so a
	// rollback has to know which SAs predate the change.
	t.Run("none/identity rolled back", func(t *testing.T) {
		base := baseReloadConf()
		old := r.bringUp(t, base)
		next := base
		next.localID = "a-renamed"
		r.load(t, next)
		r.load(t, base)
		if got := r.then(t, base, old); got != thenDuplicate {
			t.Errorf("initiating after the rollback: %s, want %s", got, thenDuplicate)
		}
	})

	// An IKE_SA without CHILD_SA: 6.x closes it whenever its connection
	// is loaded again, even unchanged (vici_config.c clears start actions
	// with "delete empty IKE_SAs" unless a child is to be initiated);
	// 5.9.8 keeps it.
	for _, change := range []string{"unchanged", "child rekey_time"} {
		t.Run("none/childless IKE_SA, "+change, func(t *testing.T) {
			base := baseReloadConf()
			old := r.bringUp(t, base)
			if _, err := r.a.Call(r.ctx, "terminate", vici.NewMessage().Set("child-id", old.children[0].id).Set("timeout", "20000")); err != nil {
				t.Fatal(err)
			}
			next := base
			if change != "unchanged" {
				next.rekey = "2h"
			}
			plan := r.plan(t, base, next)
			r.load(t, next)
			got, _ := oldState(listLive(t, r.ctx, r.a), old.id, "")
			if p := predicted(plan, old.id, "").ike; p != got {
				t.Errorf("strongSwan %s: the plan predicted the childless IKE_SA %s, charon: %s", r.l.Gateway("a").Version(), p, got)
			}
			want := kept
			if r.v6 {
				want = closed
			}
			if got != want {
				t.Errorf("strongSwan %s: the childless IKE_SA is %s, want %s", r.l.Gateway("a").Version(), got, want)
			}
		})
	}

	// Reauthentication makes a fresh IKE_SA of the same configuration,
	// the only way to prove a changed secret: 6.x makes the new IKE_SA
	// before deleting the old one (charon.make_before_break defaults to
	// yes), 5.9.8 deletes first.
	t.Run("reauthentication order", func(t *testing.T) {
		base := baseReloadConf()
		old := r.bringUp(t, base)
		sub, err := r.a.Subscribe(r.ctx, "ike-updown")
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		if _, err := r.a.Call(r.ctx, "rekey", vici.NewMessage().Set("ike-id", old.id).Set("reauth", "yes")); err != nil {
			t.Fatal(err)
		}
		var order []string
		for len(order) < 2 {
			select {
			case ev := <-sub.Events():
				for _, conn := range ev.Message.Keys() {
					sa := ev.Message.Section(conn)
					if sa == nil {
						continue
					}
					what := "down"
					if ev.Message.Get("up") == "yes" {
						what = "up"
					}
					if sa.Get("uniqueid") == old.id {
						order = append(order, "old "+what)
					} else {
						order = append(order, "new "+what)
					}
				}
			case <-r.ctx.Done():
				t.Fatalf("events so far: %v", order)
			}
		}
		want := []string{"old down", "new up"}
		if r.v6 {
			want = []string{"new up", "old down"}
		}
		if !slices.Equal(order, want) {
			t.Errorf("strongSwan %s: reauthentication gave %v, want %v", r.l.Gateway("a").Version(), order, want)
		}
	})
}

// listConn is a's list-conns entry of conn.
func (r *reloadLab) listConn(t *testing.T, conn string) *vici.Message {
	t.Helper()
	var found *vici.Message
	_, err := r.a.CallStream(r.ctx, "list-conns", "list-conn", vici.NewMessage().Set("ike", conn), func(m *vici.Message) error {
		if s := m.Section(conn); s != nil {
			found = s
		}
		return nil
	})
	if err != nil || found == nil {
		t.Fatalf("list-conns %s: %v", conn, err)
	}
	return found
}

// confs writes and reads the configurations prev and next.
func (r *reloadLab) confs(t *testing.T, prev, next reloadConf) (*Conf, *Conf) {
	t.Helper()
	confs := make([]*Conf, 2)
	for i, p := range []reloadConf{prev, next} {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "swanctl.conf"), p.text())
		c, err := loadConf(r.ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		confs[i] = c
	}
	return confs[0], confs[1]
}

// plan plans loading next over prev on a (a's SAs are of prev).
func (r *reloadLab) plan(t *testing.T, prev, next reloadConf) *Plan {
	t.Helper()
	prevConf, nextConf := r.confs(t, prev, next)
	plan, err := newPlan(r.ctx, daemon{Client: r.a}, "a", nextConf, prevConf)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Drift) > 0 || len(plan.Problems) > 0 {
		t.Fatalf("plan: drift %q, problems %q", plan.Drift, plan.Problems)
	}
	return plan
}

// predicted is the outcome a plan foresees for the IKE_SA and CHILD_SA
// with these ids, in the terms of reloadOutcome.
func predicted(p *Plan, ikeID, childID string) reloadOutcome {
	var ike, child Impact
	for _, r := range p.Impact {
		switch {
		case r.SA == "IKE_SA" && r.ID == ikeID:
			ike = r
		case r.SA == "CHILD_SA" && r.ID == childID:
			child = r
		}
	}
	o := reloadOutcome{ike: kept, child: kept}
	if ike.Effect == EffectClosed {
		o.ike = closed
	}
	if child.Effect == EffectClosed {
		o.child = closed
	}
	switch {
	case child.Effect == EffectClosed && child.Proof == ProofCharon && o.ike == closed:
		o.then = thenNewIKE
	case child.Effect == EffectClosed && child.Proof == ProofCharon:
		o.then = thenNewChild
	case child.Proof == ProofNone || child.Effect == EffectClosed:
		o.then = thenNothing
	case ike.Proof == ProofFreshIKE:
		o.then = thenNewIKE
	case child.Proof == ProofFreshChild:
		o.then = thenNewChild
	default: // untouched, or a reauthentication proves it: initiating reuses the IKE_SA
		o.then = thenDuplicate
	}
	return o
}
