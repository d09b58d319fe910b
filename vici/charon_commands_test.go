package vici_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
)

// allCommands are the 36 commands charon 5.9.8's vici plugin registers.
var allCommands = []string{
	"version", "stats", "reload-settings", "initiate", "terminate", "rekey", "redirect",
	"install", "uninstall", "list-sas", "list-policies", "list-conns", "get-conns",
	"list-certs", "list-authorities", "get-authorities", "load-conn", "unload-conn",
	"load-cert", "load-key", "unload-key", "get-keys", "load-token", "load-shared",
	"unload-shared", "get-shared", "flush-certs", "clear-creds", "load-authority",
	"unload-authority", "load-pool", "unload-pool", "get-pools", "get-algorithms",
	"get-counters", "reset-counters",
}

// recorder runs commands against one gateway and remembers which ran.
type recorder struct {
	t    *testing.T
	ctx  context.Context
	c    *vici.Client
	seen map[string]bool
}

func (r *recorder) call(command string, req *vici.Message) *vici.Message {
	r.t.Helper()
	r.seen[command] = true
	return mustCall(r.t, r.ctx, r.c, command, req)
}

func (r *recorder) ok(command string, req *vici.Message) *vici.Message {
	r.t.Helper()
	r.seen[command] = true
	return mustSucceed(r.t, r.ctx, r.c, command, req)
}

func (r *recorder) fail(command string, req *vici.Message) *vici.CommandError {
	r.t.Helper()
	r.seen[command] = true
	return mustFail(r.t, r.ctx, r.c, command, req)
}

func (r *recorder) list(command, event string, req *vici.Message) []*vici.Message {
	r.t.Helper()
	r.seen[command] = true
	return collect(r.t, r.ctx, r.c, command, event, req)
}

// stream runs a streamed command with CallStream and returns the events and
// the reply.
func (r *recorder) stream(command, event string, req *vici.Message) ([]*vici.Message, *vici.Message) {
	r.t.Helper()
	r.seen[command] = true
	var events []*vici.Message
	reply, err := r.c.CallStream(r.ctx, command, event, req, func(m *vici.Message) error {
		events = append(events, m)
		return nil
	})
	if err != nil {
		r.t.Fatalf("%s: %v (%d %s events)", command, err, len(events), event)
	}
	return events, reply
}

// sectionNames lists the names of the single top-level section of each
// streamed entry.
func sectionNames(t *testing.T, entries []*vici.Message) []string {
	t.Helper()
	var names []string
	for _, m := range entries {
		name, _ := onlySection(t, m)
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// TestCharonEveryCommand runs each of the 36 commands against real charon
// gateways of a two-gateway lab, with the set-up each needs, and checks the
// content of the replies.
func TestCharonEveryCommand(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	ctx := charonCtx(t, 3*time.Minute)
	ga, gb := l.Gateway("a"), l.Gateway("b")
	seen := map[string]bool{}
	a := &recorder{t: t, ctx: ctx, c: dialGateway(t, ga, vici.Options{}), seen: seen}
	b := &recorder{t: t, ctx: ctx, c: dialGateway(t, gb, vici.Options{}), seen: seen}
	defer func() {
		if t.Failed() {
			t.Log(logTails(l))
		}
	}()

	t.Run("info", func(t *testing.T) { a.t = t; commandsInfo(t, ctx, a, ga) })
	t.Run("conns", func(t *testing.T) { a.t = t; commandsConns(t, a, ga) })
	t.Run("sas", func(t *testing.T) { a.t, b.t = t, t; commandsSAs(t, ctx, a, b, ga, gb) })
	t.Run("policies", func(t *testing.T) { a.t = t; commandsPolicies(t, a) })
	t.Run("pools", func(t *testing.T) { a.t, b.t = t, t; commandsPools(t, a, b, ga, gb) })
	t.Run("creds", func(t *testing.T) { a.t = t; commandsCreds(t, a) })

	// Every command ran; a name the daemon does not know is CMD_UNKNOWN.
	var missing []string
	for _, name := range allCommands {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		t.Errorf("commands not exercised: %v", missing)
	}
	if _, err := a.c.Call(ctx, "no-such-command", nil); !errors.Is(err, vici.ErrUnknownCommand) {
		t.Errorf("unknown command: want ErrUnknownCommand, got %v", err)
	}
	if v := mustCall(t, ctx, a.c, "version", nil); v.Get("daemon") != "charon" {
		t.Errorf("connection unusable after CMD_UNKNOWN: version reply %v", v.Keys())
	}
}

func commandsInfo(t *testing.T, ctx context.Context, a *recorder, ga *lab.Gateway) {
	v := a.call("version", nil)
	if got := v.Keys(); !slices.Equal(got, []string{"daemon", "version", "sysname", "release", "machine"}) {
		t.Errorf("version keys %v", got)
	}
	// swanctl, another client, must report the same daemon version.
	out, err := ga.Swanctl(ctx, "--version", "--daemon")
	if err != nil {
		t.Fatalf("swanctl --version: %v\n%s", err, out)
	}
	for _, k := range []string{"daemon", "version", "release", "machine"} {
		if v.Get(k) == "" || !strings.Contains(string(out), v.Get(k)) {
			t.Errorf("version %s=%q not in swanctl's %q", k, v.Get(k), out)
		}
	}

	st := a.call("stats", nil)
	plugins := st.List("plugins")
	for _, p := range []string{"vici", "counters", "attr", "kernel-libipsec"} {
		if !slices.Contains(plugins, p) {
			t.Errorf("stats plugins %v lack %q", plugins, p)
		}
	}
	if st.Section("ikesas").Get("total") != "0" {
		t.Errorf("stats ikesas.total = %q before any SA", st.Section("ikesas").Get("total"))
	}
	if n, err := strconv.Atoi(st.Section("workers").Get("total")); err != nil || n <= 0 {
		t.Errorf("stats workers.total = %q", st.Section("workers").Get("total"))
	}
	if st.Section("uptime").Get("since") == "" {
		t.Errorf("stats uptime without since: %v", st.Section("uptime").Keys())
	}

	a.ok("reload-settings", nil)

	// Every algorithm names a plugin that stats lists as loaded.
	algs := a.call("get-algorithms", nil)
	enc := algs.Section("encryption")
	if enc == nil || enc.Get("AES_CBC") == "" || algs.Section("integrity") == nil || algs.Section("hasher").Get("HASH_SHA2_256") == "" {
		t.Fatalf("get-algorithms: sections %v, encryption %v", algs.Keys(), enc)
	}
	// The key-exchange methods: section "dh" up to 5.9.x, "ke" since 6.0.0
	// (strongSwan renamed Diffie-Hellman groups to key exchange methods).
	ke, old := "ke", "dh"
	if !labtest.AtLeast(t, ga, "6.0.0") {
		ke, old = old, ke
	}
	if algs.Section(ke).Get("CURVE_25519") == "" || algs.Has(old) {
		t.Errorf("get-algorithms of strongSwan %s: want section %q with CURVE_25519 and no %q; sections %v", ga.Version(), ke, old, algs.Keys())
	}
	for _, typ := range algs.Entries() {
		if typ.Kind != vici.KindSection {
			t.Errorf("get-algorithms: %s is a %v, want a section", typ.Name, typ.Kind)
			continue
		}
		for _, alg := range typ.Section.Entries() {
			if !slices.Contains(plugins, string(alg.Value)) {
				t.Errorf("get-algorithms: %s.%s from plugin %q, which stats does not list", typ.Name, alg.Name, alg.Value)
			}
		}
	}
}

// extraConn is a connection definition loaded over vici.
func extraConn() *vici.Message {
	child := vici.NewMessage().
		SetList("local_ts", "10.1.5.0/24").
		SetList("remote_ts", "10.2.5.0/24", "10.2.6.0/24").
		Set("start_action", "none")
	return vici.NewMessage().
		SetList("remote_addrs", "192.0.2.77").
		Set("version", "2").
		Set("mobike", "no").
		SetSection("local", msg("auth", "psk", "id", "extra.a")).
		SetSection("remote", msg("auth", "psk", "id", "extra.peer")).
		SetSection("children", vici.NewMessage().SetSection("c1", child))
}

func commandsConns(t *testing.T, a *recorder, ga *lab.Gateway) {
	if got := a.call("get-conns", nil).List("conns"); !slices.Equal(got, []string{"ab"}) {
		t.Fatalf("get-conns before load-conn: %v", got)
	}
	a.ok("load-conn", section("extra", extraConn()))
	conns := a.list("list-conns", "list-conn", nil)
	if got := sectionNames(t, conns); !slices.Equal(got, []string{"ab", "extra"}) {
		t.Fatalf("list-conns after load-conn: %v", got)
	}
	only := a.list("list-conns", "list-conn", msg("ike", "extra"))
	if len(only) != 1 {
		t.Fatalf("list-conns ike=extra: %d entries", len(only))
	}
	name, extra := onlySection(t, only[0])
	if name != "extra" || !slices.Equal(extra.List("remote_addrs"), []string{"192.0.2.77"}) || extra.Get("version") != "IKEv2" {
		t.Errorf("list-conn extra: name %q remote_addrs %v version %q", name, extra.List("remote_addrs"), extra.Get("version"))
	}
	c1 := extra.Section("children").Section("c1")
	if c1 == nil || !slices.Equal(c1.List("remote-ts"), []string{"10.2.5.0/24", "10.2.6.0/24"}) || !slices.Equal(c1.List("local-ts"), []string{"10.1.5.0/24"}) {
		t.Errorf("list-conn extra child c1: %v", c1)
	}
	if l1 := extra.Section("local-1"); l1 == nil || l1.Get("id") != "extra.a" || l1.Get("class") != "pre-shared key" {
		t.Errorf("list-conn extra local-1: %v", l1)
	}
	got := a.call("get-conns", nil).List("conns")
	sort.Strings(got)
	if !slices.Equal(got, []string{"ab", "extra"}) {
		t.Errorf("get-conns after load-conn: %v", got)
	}

	// A value where a section belongs: the daemon rejects the whole config.
	bad := extraConn().Set("local", "psk")
	ce := a.fail("load-conn", section("broken", bad))
	if !strings.Contains(ce.Errmsg, "local") {
		t.Errorf("load-conn of a bad config: errmsg %q does not name the key", ce.Errmsg)
	}

	a.ok("unload-conn", msg("name", "extra"))
	if got := a.call("get-conns", nil).List("conns"); !slices.Equal(got, []string{"ab"}) {
		t.Errorf("get-conns after unload-conn: %v", got)
	}
	if got := a.list("list-conns", "list-conn", msg("ike", "extra")); len(got) != 0 {
		t.Errorf("list-conns still lists the unloaded connection")
	}
	ce = a.fail("unload-conn", msg("name", "extra"))
	if ce.Errmsg == "" {
		t.Errorf("unload-conn of an unknown name: empty errmsg")
	}
	// swanctl sees what vici loaded and unloaded.
	out, err := ga.Swanctl(a.ctx, "--list-conns")
	if err != nil || !strings.Contains(string(out), "ab:") || strings.Contains(string(out), "extra:") {
		t.Errorf("swanctl --list-conns after load/unload: %v\n%s", err, out)
	}
}

// controlLogs joins the msg values of control-log events.
func controlLogs(events []*vici.Message) string {
	var b strings.Builder
	for _, m := range events {
		b.WriteString(m.Get("msg"))
		b.WriteByte('\n')
	}
	return b.String()
}

// ikeSA lists SAs on r and returns the single IKE_SA named name.
func ikeSA(t *testing.T, r *recorder, name string) *vici.Message {
	t.Helper()
	sas := r.list("list-sas", "list-sa", msg("ike", name))
	if len(sas) != 1 {
		t.Fatalf("list-sas ike=%s: %d entries", name, len(sas))
	}
	got, ike := onlySection(t, sas[0])
	if got != name {
		t.Fatalf("list-sas ike=%s: entry %q", name, got)
	}
	return ike
}

func commandsSAs(t *testing.T, ctx context.Context, a, b *recorder, ga, gb *lab.Gateway) {
	if got := a.list("list-sas", "list-sa", nil); len(got) != 0 {
		t.Fatalf("list-sas before initiate: %d entries", len(got))
	}
	logs, reply := a.stream("initiate", "control-log", msg("child", "net", "ike", "ab", "timeout", "30000"))
	if reply.Get("success") != "yes" {
		t.Fatalf("initiate: %v", reply.Get("errmsg"))
	}
	text := controlLogs(logs)
	if !strings.Contains(text, "IKE_SA ab[") || !strings.Contains(text, "established between") ||
		!strings.Contains(text, "CHILD_SA net{") {
		t.Errorf("initiate's control-log does not tell the IKE and CHILD_SA set-up:\n%s", text)
	}
	for _, m := range logs {
		if m.Get("group") == "" || m.Get("level") == "" || m.Get("ikesa-name") != "ab" {
			t.Errorf("control-log entry keys %v group %q ikesa-name %q", m.Keys(), m.Get("group"), m.Get("ikesa-name"))
			break
		}
	}

	ike := ikeSA(t, a, "ab")
	if ike.Get("state") != "ESTABLISHED" || ike.Get("remote-host") != gb.Addr || ike.Get("local-host") != ga.Addr || ike.Get("version") != "2" {
		t.Errorf("list-sa ab: state %q local %q remote %q version %q", ike.Get("state"), ike.Get("local-host"), ike.Get("remote-host"), ike.Get("version"))
	}
	children := ike.Section("child-sas")
	if children == nil || children.Len() != 1 {
		t.Fatalf("list-sa ab: child-sas %v", children)
	}
	_, child := onlySection(t, children)
	if child.Get("name") != "net" || child.Get("state") != "INSTALLED" || !slices.Equal(child.List("local-ts"), []string{lab.NetA}) {
		t.Errorf("list-sa ab child: name %q state %q local-ts %v", child.Get("name"), child.Get("state"), child.List("local-ts"))
	}
	// The responder agrees.
	if bIke := ikeSA(t, b, "ab"); bIke.Get("initiator-spi") != ike.Get("initiator-spi") || bIke.Get("responder-spi") != ike.Get("responder-spi") {
		t.Errorf("SPIs differ: a %s/%s, b %s/%s", ike.Get("initiator-spi"), ike.Get("responder-spi"), bIke.Get("initiator-spi"), bIke.Get("responder-spi"))
	}
	if got := a.call("stats", nil).Section("ikesas").Get("total"); got != "1" {
		t.Errorf("stats ikesas.total = %q with one SA", got)
	}

	// counters: one IKE_SA_INIT request went out for "ab".
	cnt := a.ok("get-counters", msg("name", "ab"))
	if got := cnt.Section("counters").Section("ab").Get("ike-init-out-req"); got != "1" {
		t.Errorf("get-counters ab ike-init-out-req = %q", got)
	}
	// With no name charon answers with its global counters, in a section
	// it names "" (the decoder once refused that name).
	global := a.ok("get-counters", nil).Section("counters")
	if global == nil || !slices.Equal(global.Keys(), []string{""}) {
		t.Fatalf("get-counters without a name: counters sections %v, want the one named \"\"", global.Keys())
	}
	if n, err := strconv.Atoi(global.Section("").Get("ike-init-out-req")); err != nil || n < 1 {
		t.Errorf("global ike-init-out-req = %q after an initiate", global.Section("").Get("ike-init-out-req"))
	}
	all := a.ok("get-counters", msg("all", "yes")).Section("counters")
	if all == nil || all.Section("ab") == nil {
		t.Errorf("get-counters all: sections %v", all.Keys())
	}
	a.ok("reset-counters", msg("name", "ab"))
	a.fail("get-counters", msg("name", "ab"))
	a.ok("reset-counters", msg("all", "yes"))

	// rekey the CHILD_SA: one match; the new one replaces the old.
	oldChild := child.Get("uniqueid")
	if r := a.ok("rekey", msg("child", "net", "ike", "ab")); r.Get("matches") != "1" {
		t.Errorf("rekey child: matches %q", r.Get("matches"))
	}
	// The old CHILD_SA lingers a few seconds (charon's
	// delete_rekeyed_delay) but is no longer the installed one.
	waitFor(t, ctx, "the rekeyed CHILD_SA", func() bool {
		installed := 0
		for _, e := range ikeSA(t, a, "ab").Section("child-sas").Entries() {
			if e.Section.Get("state") == "INSTALLED" {
				if e.Section.Get("uniqueid") == oldChild {
					return false
				}
				installed++
			}
		}
		return installed == 1
	})
	if r := a.fail("rekey", msg("ike", "nope")); r.Errmsg == "" {
		t.Errorf("rekey of no SA: empty errmsg")
	}

	// terminate with its control-log.
	logs, reply = a.stream("terminate", "control-log", msg("ike", "ab", "timeout", "30000"))
	if reply.Get("success") != "yes" || reply.Get("matches") != "1" || reply.Get("terminated") != "1" {
		t.Errorf("terminate: success %q matches %q terminated %q", reply.Get("success"), reply.Get("matches"), reply.Get("terminated"))
	}
	if text := controlLogs(logs); !strings.Contains(text, "deleting IKE_SA ab[") {
		t.Errorf("terminate's control-log does not tell the deletion:\n%s", text)
	}
	if got := a.list("list-sas", "list-sa", nil); len(got) != 0 {
		t.Errorf("list-sas after terminate: %d entries", len(got))
	}

	// redirect (issued by the responder): the initiator follows it and
	// reconnects to the gateway named, here b itself.
	a.ok("initiate", msg("child", "net", "ike", "ab", "timeout", "30000"))
	before := ikeSA(t, a, "ab").Get("uniqueid")
	sub, err := a.c.Subscribe(ctx, "ike-updown")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ce := b.fail("redirect", msg("ike", "ab"))
	if !strings.Contains(ce.Errmsg, "gateway") {
		t.Errorf("redirect without gateway: errmsg %q", ce.Errmsg)
	}
	if r := b.ok("redirect", msg("ike", "ab", "gateway", gb.Addr)); r.Get("matches") != "1" {
		t.Errorf("redirect: matches %q", r.Get("matches"))
	}
	up := waitEvent(t, ctx, sub, "the redirected IKE_SA up", func(ev vici.Event) bool {
		return ev.Message != nil && ev.Message.Get("up") == "yes"
	})
	_, newSA := onlySection(t, up.Message)
	if newSA.Get("uniqueid") == before || newSA.Get("remote-host") != gb.Addr {
		t.Errorf("after redirect: IKE_SA #%s to %s, before #%s", newSA.Get("uniqueid"), newSA.Get("remote-host"), before)
	}
	b.fail("redirect", msg("ike", "nope", "gateway", gb.Addr))
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// policyEntries lists policies and returns them by section name.
func policyEntries(t *testing.T, r *recorder, req *vici.Message) map[string]*vici.Message {
	t.Helper()
	out := map[string]*vici.Message{}
	for _, m := range r.list("list-policies", "list-policy", req) {
		name, body := onlySection(t, m)
		out[name] = body
	}
	return out
}

func commandsPolicies(t *testing.T, a *recorder) {
	trap := vici.NewMessage().SetFlag("trap", true)
	if got := policyEntries(t, a, trap); len(got) != 0 {
		t.Fatalf("trap policies before install: %v", got)
	}
	a.ok("install", msg("child", "net", "ike", "ab"))
	got := policyEntries(t, a, trap)
	p := got["ab/net"]
	if len(got) != 1 || p == nil || p.Get("mode") != "TUNNEL" || !slices.Equal(p.List("remote-ts"), []string{lab.NetB}) {
		t.Fatalf("trap policies after install: %v", got)
	}
	// The flags are presence-only: SetFlag(false) omits them, so nothing
	// is selected.
	off := vici.NewMessage().SetFlag("trap", false).SetFlag("drop", false).SetFlag("pass", false)
	if got := policyEntries(t, a, off); len(got) != 0 {
		t.Errorf("list-policies with every flag off: %v", got)
	}

	// Shunt policies: a pass and a drop child.
	shunts := vici.NewMessage().
		SetSection("lan", vici.NewMessage().SetList("local_ts", "10.1.0.0/24").SetList("remote_ts", "10.1.0.0/24").Set("mode", "pass")).
		SetSection("block", vici.NewMessage().SetList("local_ts", "10.1.0.0/24").SetList("remote_ts", "10.99.0.0/16").Set("mode", "drop"))
	a.ok("load-conn", section("shunts", vici.NewMessage().SetSection("children", shunts)))
	a.ok("install", msg("child", "lan", "ike", "shunts"))
	a.ok("install", msg("child", "block", "ike", "shunts"))
	pass := policyEntries(t, a, vici.NewMessage().SetFlag("pass", true))
	drop := policyEntries(t, a, vici.NewMessage().SetFlag("drop", true))
	if len(pass) != 1 || len(drop) != 1 {
		t.Fatalf("shunts: pass %v, drop %v", pass, drop)
	}
	for name, p := range pass {
		if !strings.HasSuffix(name, "lan") || p.Get("mode") != "PASS" {
			t.Errorf("pass policy %s mode %q", name, p.Get("mode"))
		}
	}
	for name, p := range drop {
		if !strings.HasSuffix(name, "block") || p.Get("mode") != "DROP" || !slices.Equal(p.List("remote-ts"), []string{"10.99.0.0/16"}) {
			t.Errorf("drop policy %s mode %q remote-ts %v", name, p.Get("mode"), p.List("remote-ts"))
		}
	}
	every := vici.NewMessage().SetFlag("trap", true).SetFlag("drop", true).SetFlag("pass", true)
	if got := policyEntries(t, a, every); len(got) != 3 {
		t.Errorf("all policies: %d, want 3", len(got))
	}

	a.ok("uninstall", msg("child", "net", "ike", "ab"))
	a.ok("uninstall", msg("child", "lan", "ike", "shunts"))
	a.ok("uninstall", msg("child", "block", "ike", "shunts"))
	if got := policyEntries(t, a, every); len(got) != 0 {
		t.Errorf("policies after uninstall: %v", got)
	}
	a.fail("uninstall", msg("child", "net", "ike", "ab"))
	a.ok("unload-conn", msg("name", "shunts"))
}

func commandsPools(t *testing.T, a, b *recorder, ga, gb *lab.Gateway) {
	pool := vici.NewMessage().Set("addrs", "10.3.0.0/28").SetList("dns", "10.3.0.53")
	b.ok("load-pool", section("vpool", pool))
	rwB := vici.NewMessage().
		SetList("local_addrs", gb.Addr).SetList("remote_addrs", ga.Addr).
		SetList("pools", "vpool").
		SetSection("local", msg("auth", "psk", "id", "rw.b")).
		SetSection("remote", msg("auth", "psk", "id", "rw.a")).
		SetSection("children", vici.NewMessage().SetSection("rw", vici.NewMessage().SetList("local_ts", lab.NetB)))
	b.ok("load-conn", section("rw", rwB))
	rwA := vici.NewMessage().
		SetList("local_addrs", ga.Addr).SetList("remote_addrs", gb.Addr).
		SetList("vips", "0.0.0.0").
		SetSection("local", msg("auth", "psk", "id", "rw.a")).
		SetSection("remote", msg("auth", "psk", "id", "rw.b")).
		SetSection("children", vici.NewMessage().SetSection("rw", vici.NewMessage().SetList("remote_ts", lab.NetB)))
	a.ok("load-conn", section("rw", rwA))

	// The base of a pool given as a subnet: 5.9.x reports the network
	// address, 6.0.0 and newer the first assignable address (charon's
	// mem-pool moved the base past the network ID). Both hand out 14
	// addresses of a /28.
	base := "10.3.0.0"
	if labtest.AtLeast(t, gb, "6.0.0") {
		base = "10.3.0.1"
	}
	empty := b.call("get-pools", msg("leases", "yes")).Section("vpool")
	if empty == nil || empty.Get("base") != base || empty.Get("online") != "0" || empty.Get("size") != "14" {
		t.Fatalf("get-pools before any lease on strongSwan %s: want base %s, size 14, online 0; got %v", gb.Version(), base, empty)
	}
	a.ok("initiate", msg("child", "rw", "ike", "rw", "timeout", "30000"))
	vips := ikeSA(t, a, "rw").List("local-vips")
	if len(vips) != 1 || !strings.HasPrefix(vips[0], "10.3.0.") {
		t.Fatalf("initiator's virtual IPs: %v", vips)
	}
	p := b.call("get-pools", msg("leases", "yes", "name", "vpool")).Section("vpool")
	if p == nil || p.Get("online") != "1" || p.Get("offline") != "0" {
		t.Fatalf("get-pools with a lease: %v", p)
	}
	leases := p.Section("leases")
	if leases == nil || leases.Len() != 1 {
		t.Fatalf("get-pools leases: %v", leases)
	}
	_, lease := onlySection(t, leases)
	if lease.Get("address") != vips[0] || lease.Get("identity") != "rw.a" || lease.Get("status") != "online" {
		t.Errorf("lease %s/%s/%s, want %s/rw.a/online", lease.Get("address"), lease.Get("identity"), lease.Get("status"), vips[0])
	}
	if noLeases := b.call("get-pools", nil).Section("vpool"); noLeases == nil || noLeases.Has("leases") {
		t.Errorf("get-pools without leases=yes: %v", noLeases)
	}
	ce := b.fail("unload-pool", msg("name", "vpool"))
	if !strings.Contains(ce.Errmsg, "vpool") {
		t.Errorf("unload-pool with an online lease: errmsg %q", ce.Errmsg)
	}

	a.ok("terminate", msg("ike", "rw", "timeout", "30000"))
	waitFor(t, a.ctx, "the lease to go offline", func() bool {
		return b.call("get-pools", nil).Section("vpool").Get("online") == "0"
	})
	if p := b.call("get-pools", nil).Section("vpool"); p.Get("offline") != "1" {
		t.Errorf("pool after terminate: online %q offline %q", p.Get("online"), p.Get("offline"))
	}
	b.ok("unload-pool", msg("name", "vpool"))
	if got := b.call("get-pools", nil); got.Has("vpool") {
		t.Errorf("get-pools after unload-pool: %v", got.Keys())
	}
	a.ok("unload-conn", msg("name", "rw"))
	b.ok("unload-conn", msg("name", "rw"))
}

// certsBy lists certificates matching req and returns their DER data.
func certsBy(t *testing.T, r *recorder, req *vici.Message) [][]byte {
	t.Helper()
	var out [][]byte
	for _, m := range r.list("list-certs", "list-cert", req) {
		e, ok := m.Lookup("data")
		if !ok || e.Kind != vici.KindValue {
			t.Fatalf("list-cert without data: %v", m.Keys())
		}
		out = append(out, e.Value)
	}
	return out
}

func commandsCreds(t *testing.T, a *recorder) {
	cr := makeCredentials(t)

	// keys: load-key reports the key id pki computes.
	if got := a.ok("load-key", vici.NewMessage().Set("type", "ecdsa").SetBytes("data", cr.keyPEM)).Get("id"); got != cr.keyID {
		t.Errorf("load-key ecdsa: id %q, pki says %q", got, cr.keyID)
	}
	if got := a.ok("load-key", vici.NewMessage().Set("type", "rsa").SetBytes("data", cr.rsaDER)).Get("id"); got != cr.rsaID {
		t.Errorf("load-key rsa: id %q, pki says %q", got, cr.rsaID)
	}
	keys := a.call("get-keys", nil).List("keys")
	sort.Strings(keys)
	want := []string{cr.keyID, cr.rsaID}
	sort.Strings(want)
	if !slices.Equal(keys, want) {
		t.Errorf("get-keys %v, want %v", keys, want)
	}
	a.ok("unload-key", msg("id", cr.rsaID))
	if keys := a.call("get-keys", nil).List("keys"); !slices.Equal(keys, []string{cr.keyID}) {
		t.Errorf("get-keys after unload-key: %v", keys)
	}
	a.fail("load-key", vici.NewMessage().Set("type", "ecdsa").SetBytes("data", []byte("not a key")))

	// certificates come back byte for byte.
	a.ok("load-cert", vici.NewMessage().Set("type", "X509").Set("flag", "CA").SetBytes("data", cr.caDER))
	a.ok("load-cert", vici.NewMessage().Set("type", "X509").Set("flag", "NONE").SetBytes("data", cr.leafDER))
	ca := a.list("list-certs", "list-cert", msg("type", "X509", "flag", "CA"))
	if len(ca) != 1 {
		t.Fatalf("list-certs CA: %d entries", len(ca))
	}
	if e, _ := ca[0].Lookup("data"); !bytes.Equal(e.Value, cr.caDER) {
		t.Errorf("list-cert CA data differs from the DER loaded (%d vs %d bytes)", len(e.Value), len(cr.caDER))
	}
	if ca[0].Get("has_privkey") != "yes" || ca[0].Get("flag") != "CA" || ca[0].Get("type") != "X509" {
		t.Errorf("list-cert CA: has_privkey %q flag %q type %q", ca[0].Get("has_privkey"), ca[0].Get("flag"), ca[0].Get("type"))
	}
	if leaf := certsBy(t, a, msg("type", "X509", "flag", "NONE")); len(leaf) != 1 || !bytes.Equal(leaf[0], cr.leafDER) {
		t.Errorf("list-certs end-entity: %d entries, byte-exact %v", len(leaf), len(leaf) == 1 && bytes.Equal(leaf[0], cr.leafDER))
	}
	if bySubject := certsBy(t, a, msg("subject", "C=CH, O=vicish, CN=leaf.vicish.test")); len(bySubject) != 1 || !bytes.Equal(bySubject[0], cr.leafDER) {
		t.Errorf("list-certs by subject: %d entries", len(bySubject))
	}
	a.fail("load-cert", vici.NewMessage().Set("type", "X509").Set("flag", "CA").SetBytes("data", []byte("garbage")))
	// flush-certs empties the cache, not what was loaded.
	a.ok("flush-certs", msg("type", "X509"))
	a.ok("flush-certs", nil)
	if got := certsBy(t, a, msg("type", "X509")); len(got) != 2 {
		t.Errorf("list-certs after flush-certs: %d, want the 2 loaded", len(got))
	}

	// authorities
	auth := vici.NewMessage().SetBytes("cacert", cr.caDER).
		SetList("crl_uris", "http://crl.vicish.test/ca.crl").
		SetList("ocsp_uris", "http://ocsp.vicish.test/", "http://ocsp2.vicish.test/").
		Set("cert_uri_base", "http://certs.vicish.test/")
	a.ok("load-authority", section("lab-ca", auth))
	auths := a.list("list-authorities", "list-authority", nil)
	if len(auths) != 1 {
		t.Fatalf("list-authorities: %d entries", len(auths))
	}
	name, la := onlySection(t, auths[0])
	if name != "lab-ca" || la.Get("cacert") != cr.caDN || !slices.Equal(la.List("crl_uris"), []string{"http://crl.vicish.test/ca.crl"}) ||
		!slices.Equal(la.List("ocsp_uris"), []string{"http://ocsp.vicish.test/", "http://ocsp2.vicish.test/"}) || la.Get("cert_uri_base") != "http://certs.vicish.test/" {
		t.Errorf("list-authority %s: cacert %q crl %v ocsp %v base %q", name, la.Get("cacert"), la.List("crl_uris"), la.List("ocsp_uris"), la.Get("cert_uri_base"))
	}
	if got := a.list("list-authorities", "list-authority", msg("name", "nope")); len(got) != 0 {
		t.Errorf("list-authorities name=nope: %d entries", len(got))
	}
	if got := a.call("get-authorities", nil).List("authorities"); !slices.Equal(got, []string{"lab-ca"}) {
		t.Errorf("get-authorities: %v", got)
	}
	a.ok("unload-authority", msg("name", "lab-ca"))
	if got := a.call("get-authorities", nil).List("authorities"); len(got) != 0 {
		t.Errorf("get-authorities after unload: %v", got)
	}
	a.fail("unload-authority", msg("name", "lab-ca"))

	// shared secrets
	a.ok("load-shared", vici.NewMessage().Set("id", "s1").Set("type", "IKE").Set("data", "secret one").SetList("owners", "x@vicish.test"))
	a.ok("load-shared", vici.NewMessage().Set("id", "s2").Set("type", "EAP").SetBytes("data", []byte{0, 'b', 0xff}).SetList("owners", "u1", "u2"))
	shared := a.call("get-shared", nil).List("keys")
	sort.Strings(shared)
	if !slices.Equal(shared, []string{"ike-lab", "s1", "s2"}) {
		t.Errorf("get-shared: %v", shared)
	}
	a.ok("unload-shared", msg("id", "s1"))
	shared = a.call("get-shared", nil).List("keys")
	sort.Strings(shared)
	if !slices.Equal(shared, []string{"ike-lab", "s2"}) {
		t.Errorf("get-shared after unload-shared: %v", shared)
	}
	a.fail("load-shared", vici.NewMessage().Set("id", "s3").Set("type", "BOGUS").Set("data", "x"))

	// No PKCS#11 module is loaded here: load-token fails cleanly.
	ce := a.fail("load-token", msg("handle", "0102", "slot", "0", "pin", "1234"))
	if ce.Errmsg == "" {
		t.Errorf("load-token: empty errmsg")
	}

	// clear-creds drops everything loaded over vici.
	a.ok("clear-creds", nil)
	if got := a.call("get-keys", nil).List("keys"); len(got) != 0 {
		t.Errorf("get-keys after clear-creds: %v", got)
	}
	if got := a.call("get-shared", nil).List("keys"); len(got) != 0 {
		t.Errorf("get-shared after clear-creds: %v", got)
	}
	if got := certsBy(t, a, nil); len(got) != 0 {
		t.Errorf("list-certs after clear-creds: %d", len(got))
	}
}
