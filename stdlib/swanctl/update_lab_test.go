package swanctl

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/starlarkvici"
	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// TestUpdate applies changes with Update, proves them and rolls them
// back on a's connection "ab", checking what the proof did against the
// daemon's SAs.
func TestUpdate(t *testing.T) {
	r := newReloadLab(t)
	const within = 30 * time.Second
	update := func(t *testing.T, prev, next reloadConf) *Update {
		t.Helper()
		prevConf, nextConf := r.confs(t, prev, next)
		u, err := newUpdate(r.ctx, daemon{Client: r.a}, "a", nextConf, prevConf)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	// change brings ab up under base and plans the change edit makes to
	// it: the SAs of base, and the update.
	change := func(t *testing.T, base reloadConf, edit func(*reloadConf)) (liveIKE, *Update) {
		t.Helper()
		old := r.bringUp(t, base)
		next := base
		edit(&next)
		return old, update(t, base, next)
	}
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// one is the single ESTABLISHED IKE_SA of ab with its single
	// INSTALLED CHILD_SA, once charon is done closing the old ones.
	one := func(t *testing.T) liveIKE {
		t.Helper()
		sa, _ := up(r.waitFor(t, "one IKE_SA with one CHILD_SA", func(sas []liveIKE) bool { _, ok := up(sas); return ok }))
		return sa
	}
	wantIDs := func(t *testing.T, what string, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
	}

	t.Run("child option", func(t *testing.T) {
		old, u := change(t, baseReloadConf(), func(p *reloadConf) { p.rekey = "2h" })
		must(t, u.Apply(r.ctx, within))
		now := one(t)
		if now.id != old.id || now.children[0].id == old.children[0].id {
			t.Errorf("after the proof: %+v, want IKE_SA #%s with a new CHILD_SA", now, old.id)
		}
		wantIDs(t, "initiated", u.Proof.Initiated, "ab/net")
		wantIDs(t, "closed", u.Proof.Closed, "CHILD_SA ab/net #"+old.children[0].id)
		// The rollback replaces the CHILD_SA of the new configuration.
		must(t, u.Rollback(r.ctx, within))
		back := one(t)
		if back.id != old.id || back.children[0].id == now.children[0].id {
			t.Errorf("after the rollback: %+v", back)
		}
		wantIDs(t, "rollback closed", u.RollbackProof.Closed, "CHILD_SA ab/net #"+now.children[0].id)
	})

	t.Run("peer setting", func(t *testing.T) {
		old, u := change(t, baseReloadConf(), func(p *reloadConf) { p.proposals = "aes256-sha256-ecp256" })
		must(t, u.Apply(r.ctx, within))
		now := one(t)
		if now.id == old.id {
			t.Errorf("after the proof: still IKE_SA #%s", old.id)
		}
		wantIDs(t, "closed", u.Proof.Closed, "IKE_SA ab #"+old.id)
		must(t, u.Rollback(r.ctx, within))
		if back := one(t); back.id == now.id {
			t.Errorf("after the rollback: still IKE_SA #%s", now.id)
		}
	})

	// The canary: an identity the peer rejects. The proof fails,
	// the old SAs were never touched, and the rollback proves at once,
	// without initiating anything, that they are of the old configuration.
	t.Run("identity the peer rejects", func(t *testing.T) {
		old, u := change(t, baseReloadConf(), func(p *reloadConf) { p.localID = "a-renamed" })
		err := u.Apply(r.ctx, within)
		if err == nil || !strings.Contains(err.Error(), "initiating ab/net") {
			t.Fatalf("apply: %v, want the failed initiation", err)
		}
		if now := one(t); now.id != old.id || now.children[0].id != old.children[0].id {
			t.Errorf("after the failed proof: %+v, want the old SAs", now)
		}
		must(t, u.Rollback(r.ctx, within))
		if now := one(t); now.id != old.id || now.children[0].id != old.children[0].id {
			t.Errorf("after the rollback: %+v, want the old SAs", now)
		}
		wantIDs(t, "rollback initiated", u.RollbackProof.Initiated)
		wantIDs(t, "rollback closed", u.RollbackProof.Closed)
	})

	// A secret both sides change: a reauthentication proves it.
	t.Run("secret", func(t *testing.T) {
		old, u := change(t, baseReloadConf(), func(p *reloadConf) { p.secret = "a-new-secret" })
		r.setPeerSecret(t, "a-new-secret")
		must(t, u.Apply(r.ctx, within))
		wantIDs(t, "reauthenticated", u.Proof.Reauthenticated, "ab #"+old.id)
		if now := one(t); now.id == old.id {
			t.Errorf("after the proof: still IKE_SA #%s", old.id)
		}
	})

	// A secret the peer does not have: the reauthentication fails. 6.x
	// keeps the old IKE_SA (make-before-break), 5.9.8 has closed it; the
	// rollback brings it back either way.
	t.Run("secret the peer rejects", func(t *testing.T) {
		old, u := change(t, baseReloadConf(), func(p *reloadConf) { p.secret = "a-wrong-secret" })
		err := u.Apply(r.ctx, within)
		if err == nil || !strings.Contains(err.Error(), "reauthenticating IKE_SA #"+old.id+" failed") {
			t.Fatalf("apply: %v, want the failed reauthentication", err)
		}
		must(t, u.Rollback(r.ctx, within))
		now := one(t)
		if r.v6 {
			if now.id != old.id {
				t.Errorf("6.x: after the rollback: %+v, want the old IKE_SA #%s", now, old.id)
			}
			wantIDs(t, "rollback initiated", u.RollbackProof.Initiated)
		} else {
			wantIDs(t, "rollback initiated", u.RollbackProof.Initiated, "ab/net")
		}
	})

	// start_action=start: charon closes and initiates itself; the proof
	// waits for it and initiates nothing.
	t.Run("start child option", func(t *testing.T) {
		base := baseReloadConf()
		base.start = "start"
		old, u := change(t, base, func(p *reloadConf) { p.rekey = "2h" })
		must(t, u.Apply(r.ctx, within))
		if now := one(t); now.children[0].id == old.children[0].id {
			t.Errorf("after the proof: the old CHILD_SA #%s", old.children[0].id)
		}
		wantIDs(t, "initiated", u.Proof.Initiated)
	})

	// Drift: the daemon has a connection the previous files lack.
	t.Run("drift", func(t *testing.T) {
		base := baseReloadConf()
		r.bringUp(t, base)
		prev := base
		prev.noConn = true
		u := update(t, prev, base)
		if len(u.Plan.Drift) != 1 || u.Plan.Drift[0] != "conn ab: in the daemon, not in the previous files" {
			t.Errorf("drift: %q", u.Plan.Drift)
		}
		if err := u.Apply(r.ctx, within); !errors.Is(err, ErrDrift) || u.Applied {
			t.Errorf("apply with drift: %v (applied %v)", err, u.Applied)
		}
		// A private key the daemon has and the files lack.
		keyPEM := goCerts(t, t.TempDir())
		reply, err := r.a.Call(r.ctx, "load-key", vici.NewMessage().Set("type", "any").SetBytes("data", keyPEM))
		if err != nil {
			t.Fatal(err)
		}
		defer r.a.Call(r.ctx, "unload-key", vici.NewMessage().Set("id", reply.Get("id")))
		u = update(t, base, base)
		if want := "key " + reply.Get("id") + ": in the daemon, not in the previous files"; !slices.Equal(u.Plan.Drift, []string{want}) {
			t.Errorf("drift: %q, want %q", u.Plan.Drift, want)
		}
	})
}

// TestPlanStarlark: swanctl.plan and swanctl.apply with target= from a
// script, with a group of real daemons.
func TestPlanStarlark(t *testing.T) {
	r := newReloadLab(t)
	base := baseReloadConf()
	r.bringUp(t, base)
	next := base
	next.rekey = "2h"
	dirs := map[string]string{}
	for name, p := range map[string]reloadConf{"prev": base, "next": next} {
		dirs[name] = t.TempDir()
		writeFile(t, filepath.Join(dirs[name], "swanctl.conf"), p.text())
	}
	vmod := starlarkvici.NewModule(starlarkvici.Config{URI: r.l.Gateway("b").URI})
	defer vmod.Close()
	var out bytes.Buffer
	g, err := runStar(t, NewModule(Config{Client: vmod.Client, Stdout: &out}), &out, `
g = vici.group({"a": a})
p = swanctl.plan({"a": next}, {"a": prev}, target = g)
print(p)
affected = [(r["sa"], r["effect"], r["proof"]) for r in p["a"]["impact"] if r["effect"] != "untouched"]
applied = p.apply(prove = 30)["a"]
rolled = p.rollback(prove = 30)["a"]
report = swanctl.apply(prev, dry_run = True, target = g["a"])
`, starlark.StringDict{"vici": vmod, "a": starlark.String(r.l.Gateway("a").URI),
		"next": starlark.String(dirs["next"]), "prev": starlark.String(dirs["prev"])})
	if err != nil {
		t.Fatal(err)
	}
	if got := g["affected"].String(); got != `[("CHILD_SA", "left on the old configuration", "a fresh CHILD_SA")]` {
		t.Errorf("affected: %s", got)
	}
	if !strings.Contains(out.String(), "plan for a (strongSwan ") || !strings.Contains(out.String(), "changed   child ab/net (rekey_time)") {
		t.Errorf("printed plan:\n%s", out.String())
	}
	for _, key := range []string{"applied", "rolled"} {
		d := g[key].(*starlark.Dict)
		ok, _, _ := d.Get(starlark.String("ok"))
		proof, _, _ := d.Get(starlark.String("proof"))
		initiated, _, _ := proof.(*starlark.Dict).Get(starlark.String("initiated"))
		if ok != starlark.True || initiated.String() != `["ab/net"]` {
			t.Errorf("%s: %s", key, d)
		}
	}
	if path, _, _ := g["report"].(*starlark.Dict).Get(starlark.String("path")); path != starlark.String(filepath.Join(dirs["prev"], "swanctl.conf")) {
		t.Errorf("apply with target=g[\"a\"]: %s", g["report"])
	}
}
