package scripts_test

import (
	"context"
	"encoding/binary"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
)

// Tests of scripts/rollout.star on a star lab: a hub and six spokes, each
// spoke's tunnel to the hub up. The hub is in the inventory but has no
// configuration directory, so the rollout leaves it alone.

const rolloutSpokes = 6

// rolloutLab is the star lab with the inventory and configuration
// directories the rollout reads.
type rolloutLab struct {
	l         *lab.Lab
	ctx       context.Context
	inventory string
	base      map[string]string // each spoke's swanctl.conf as the lab wrote it
}

// inventoryWith writes an inventory of the lab's gateways, with the URIs
// of uris instead of the lab's.
func (r *rolloutLab) inventoryWith(t *testing.T, uris map[string]string) string {
	t.Helper()
	text := ""
	for _, g := range r.l.Gateways {
		uri := g.URI
		if u, ok := uris[g.Name]; ok {
			uri = u
		}
		text += g.Name + " " + uri + "\n"
	}
	p := filepath.Join(t.TempDir(), "fleet")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newRolloutLab(t *testing.T) *rolloutLab {
	l := labtest.StartConfig(t, lab.Config{Topology: lab.Star, Spokes: rolloutSpokes})
	r := &rolloutLab{l: l, ctx: testContext(t), base: map[string]string{}}
	text := "# the star: the hub has no configuration to roll out\n"
	for _, g := range l.Gateways {
		text += g.Name + " " + g.URI + "\n"
		if g.Name == "hub" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(g.ConfDir, "swanctl.conf"))
		if err != nil {
			t.Fatal(err)
		}
		r.base[g.Name] = string(data)
		initiate(t, r.ctx, g.URI, "hub", "net")
	}
	r.inventory = filepath.Join(t.TempDir(), "fleet")
	if err := os.WriteFile(r.inventory, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

// confDir writes one swanctl.conf per spoke, edit(name, text) of the
// lab's, and returns the directory.
func (r *rolloutLab) confDir(t *testing.T, edit func(name, text string) string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range r.base {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "swanctl.conf"), []byte(edit(name, text)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// spokes names the spokes in order.
func spokes() []string {
	var out []string
	for i := 1; i <= rolloutSpokes; i++ {
		out = append(out, lab.SpokeName(i))
	}
	return out
}

// liveIDs is every SA of a gateway as "IKE_SA #id" and "CHILD_SA #id",
// with a check that its tunnel to the hub is up.
func (r *rolloutLab) liveIDs(t *testing.T, name string) map[string]bool {
	t.Helper()
	sas := listSAs(t, r.ctx, r.l.Gateway(name).URI)
	requireInstalled(t, name, sas, "hub", "net")
	ids := map[string]bool{}
	c, err := vici.Dial(r.ctx, r.l.Gateway(name).URI)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.CallStream(r.ctx, "list-sas", "list-sa", vici.NewMessage(), func(m *vici.Message) error {
		for _, conn := range m.Keys() {
			sa := m.Section(conn)
			ids["IKE_SA #"+sa.Get("uniqueid")] = true
			if cs := sa.Section("child-sas"); cs != nil {
				for _, k := range cs.Keys() {
					ids["CHILD_SA #"+cs.Section(k).Get("uniqueid")] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// hubConn is what list-conns shows of a spoke's connection "hub" (nil
// when it has none).
func (r *rolloutLab) hubConn(t *testing.T, name string) *vici.Message {
	t.Helper()
	c, err := vici.Dial(r.ctx, r.l.Gateway(name).URI)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var hub *vici.Message
	_, err = c.CallStream(r.ctx, "list-conns", "list-conn", vici.NewMessage().Set("ike", "hub"), func(m *vici.Message) error {
		if s := m.Section("hub"); s != nil {
			hub = s
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hub
}

var planSA = regexp.MustCompile(`^\s+(IKE_SA|CHILD_SA) \S+ #(\d+) \S+: (.*)$`)

// affected reads --plan's output: per gateway, the SAs whose effect is not
// "untouched".
func affected(out string) map[string]map[string]bool {
	res := map[string]map[string]bool{}
	gw := ""
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "plan for ") {
			gw = strings.Fields(line)[2]
			res[gw] = map[string]bool{}
			continue
		}
		if m := planSA.FindStringSubmatch(line); m != nil && gw != "" && !strings.HasPrefix(m[3], "untouched") {
			res[gw][m[1]+" #"+m[2]] = true
		}
	}
	return res
}

func TestRollout(t *testing.T) {
	r := newRolloutLab(t)
	prev := r.confDir(t, func(_, text string) string { return text })
	rekeyed := r.confDir(t, func(_, text string) string {
		return strings.Replace(text, "        remote_ts = ", "        rekey_time = 2h\n        remote_ts = ", 1)
	})
	args := func(conf, prev string, extra ...string) []string {
		return append([]string{"--inventory", r.inventory, "--conf", conf, "--previous", prev, "--health", "30"}, extra...)
	}

	// --plan: every plan, nothing changed; the affected SAs are each
	// spoke's CHILD_SA, which charon keeps on the old child configuration.
	before := map[string]map[string]bool{}
	for _, s := range spokes() {
		before[s] = r.liveIDs(t, s)
	}
	res := runScript(t, r.ctx, "", "rollout.star", args(rekeyed, prev, "--plan")...)
	if res.code != 0 || !strings.Contains(res.stdout, "left alone (no "+rekeyed+"/NAME/swanctl.conf): hub") ||
		!strings.Contains(res.stdout, "rollout: --plan: nothing was changed") {
		t.Fatalf("--plan: exit %d", res.code)
	}
	planned := affected(res.stdout)
	for _, s := range spokes() {
		if !maps.Equal(r.liveIDs(t, s), before[s]) {
			t.Errorf("--plan changed the SAs of %s", s)
		}
		if len(planned[s]) != 1 {
			t.Errorf("--plan: affected SAs of %s: %v, want its CHILD_SA", s, planned[s])
		}
	}

	t.Run("good change in waves", func(t *testing.T) {
		res := runScript(t, r.ctx, "", "rollout.star", args(rekeyed, prev, "--canary", "1", "--wave", "3")...)
		if res.code != 0 {
			t.Fatalf("exit %d, want 0", res.code)
		}
		for _, step := range []string{"\ncanary: s1\n", "\nwave 1: s2 s3 s4\n", "\nwave 2: s5 s6\n"} {
			if !strings.Contains(res.stdout, step) {
				t.Errorf("no step %q in the output", step)
			}
		}
		result := section(res.stdout, "RESULT")
		for _, s := range spokes() {
			if row := rowOf(result, s); !regexp.MustCompile(`^` + s + ` (canary|wave \d) yes yes -$`).MatchString(row) {
				t.Errorf("result row of %s: %q", s, row)
			}
			// What applying did is what --plan said: the SAs gone are
			// exactly those it listed as affected.
			after := r.liveIDs(t, s)
			var gone []string
			for id := range before[s] {
				if !after[id] {
					gone = append(gone, id)
				}
			}
			if want := slices.Sorted(maps.Keys(planned[s])); !slices.Equal(slices.Sorted(slices.Values(gone)), want) {
				t.Errorf("%s: SAs gone %v, --plan listed %v", s, gone, want)
			}
		}
		if row := rowOf(result, "hub"); row != "hub - - - - left alone: no configuration" {
			t.Errorf("result row of the hub: %q", row)
		}
		requireAllUp(t, r)
	})

	// A change the hub rejects: every spoke gets a new identity. The
	// canary's proof fails, it is rolled back with its tunnel up (its SAs
	// never went down), and no other spoke is touched.
	t.Run("canary breaks", func(t *testing.T) {
		renamed := r.confDir(t, func(name, text string) string {
			text = strings.Replace(text, "        remote_ts = ", "        rekey_time = 2h\n        remote_ts = ", 1)
			return strings.Replace(text, "      id = "+name+"\n", "      id = "+name+"-renamed\n", 1)
		})
		before := map[string]map[string]bool{}
		for _, s := range spokes() {
			before[s] = r.liveIDs(t, s)
		}
		res := runScript(t, r.ctx, "", "rollout.star", args(renamed, rekeyed, "--canary", "1", "--wave", "5")...)
		if res.code != 5 {
			t.Fatalf("exit %d, want 5", res.code)
		}
		// The failure says why, in charon's words.
		if !strings.Contains(res.stdout, "  s1: FAILED (proof): initiating hub/net: ") ||
			!strings.Contains(res.stdout, "(charon: received AUTHENTICATION_FAILED notify error)") ||
			!strings.Contains(res.stdout, "rolling back canary: s1\n  s1: ok in ") ||
			!strings.Contains(res.stdout, "rollout: stopped at canary: rolled back and proven; 5 gateways not touched") {
			t.Errorf("output does not tell the failure and the rollback")
		}
		if row := rowOf(section(res.stdout, "RESULT"), "s1"); !strings.HasPrefix(row, "s1 canary yes NO yes proof: ") {
			t.Errorf("result row of s1: %q", row)
		}
		for _, s := range spokes() {
			if got := r.liveIDs(t, s); !maps.Equal(got, before[s]) {
				t.Errorf("%s: SAs %v, want them untouched %v", s, got, before[s])
			}
			if id := r.hubConn(t, s).Section("local-1").Get("id"); id != s {
				t.Errorf("%s: local id %q after the rollout, want %q", s, id, s)
			}
			if s != "s1" && rowOf(section(res.stdout, "RESULT"), s) != s+" - - - - -" && rowOf(section(res.stdout, "RESULT"), s) != s+" - - - -" {
				t.Errorf("result row of %s: %q", s, rowOf(section(res.stdout, "RESULT"), s))
			}
		}
		requireAllUp(t, r)
	})
}

func TestRolloutRefuses(t *testing.T) {
	r := newRolloutLab(t)
	prev := r.confDir(t, func(_, text string) string { return text })
	rekeyed := r.confDir(t, func(_, text string) string {
		return strings.Replace(text, "        remote_ts = ", "        rekey_time = 2h\n        remote_ts = ", 1)
	})
	before := map[string]map[string]bool{}
	for _, s := range spokes() {
		before[s] = r.liveIDs(t, s)
	}
	untouched := func(t *testing.T) {
		t.Helper()
		for _, s := range spokes() {
			if got := r.liveIDs(t, s); !maps.Equal(got, before[s]) {
				t.Errorf("%s: SAs %v, want them untouched %v", s, got, before[s])
			}
		}
	}

	// What a new user types wrong: exit 1 with the reason and the usage.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "rollout.star: --inventory is required"},
		{[]string{"--inventory", r.inventory, "--conf", rekeyed}, "rollout.star: --previous is required"},
		{[]string{"--inventory", r.inventory, "--conf", rekeyed, "--previous", prev, "--wave", "0"}, "rollout.star: --wave wants a whole number of at least 1, not \"0\""},
		{[]string{"--inventory", r.inventory, "--conf", rekeyed, "--previous", prev, "--health", "soon"}, "rollout.star: --health wants a positive number of seconds, not \"soon\""},
		{[]string{"--inventory", r.inventory, "--conf", rekeyed, "--previous", prev, "--canary"}, "rollout.star: --canary needs a value"},
		{[]string{"--inventory", r.inventory, "--conf", rekeyed, "--previous", prev, "--plan=yes"}, "rollout.star: --plan takes no value"},
		{[]string{"--inventory", r.inventory, "--conf", rekeyed, "--previous", prev, "s1"}, `rollout.star: unexpected argument "s1" (gateways come from --inventory)`},
		{[]string{"--inventory", r.inventory, "--conf", rekeyed, "--previous", prev, "--waves", "2"}, `rollout.star: unknown option "--waves"`},
		{[]string{"--inventory", r.inventory, "--conf", "/nonexistent", "--previous", prev}, "rollout.star: no gateway of " + r.inventory + " has a configuration in --conf /nonexistent (/nonexistent/NAME/swanctl.conf)"},
	} {
		res := runScript(t, r.ctx, "", "rollout.star", tc.args...)
		if res.code != 1 || !strings.HasPrefix(res.stderr, tc.want+"\nusage: vicish rollout.star") {
			t.Errorf("%q: exit %d, stderr %q; want 1 and %q", tc.args, res.code, res.stderr, tc.want)
		}
	}
	untouched(t)

	// Drift: s2's previous files have a connection its daemon lacks.
	// Nothing is applied anywhere.
	drifted := r.confDir(t, func(name, text string) string {
		if name == "s2" {
			return strings.Replace(text, "connections {\n", "connections {\n  extra {\n    remote_addrs = 192.0.2.99\n  }\n", 1)
		}
		return text
	})
	for _, extra := range [][]string{nil, {"--plan"}} {
		res := runScript(t, r.ctx, "", "rollout.star", append([]string{"--inventory", r.inventory, "--conf", rekeyed, "--previous", drifted}, extra...)...)
		if res.code != 4 || !strings.Contains(res.stdout, "NOT STARTED: nothing was changed\ns2: drift: conn extra: in the previous files, not in the daemon\n") {
			t.Errorf("%v with drift: exit %d, want 4 and the drift", extra, res.code)
		}
	}
	untouched(t)

	// A gateway that cannot be reached when the rollout starts: nothing
	// is applied anywhere.
	gone := r.inventoryWith(t, map[string]string{"s4": "unix://" + filepath.Join(t.TempDir(), "gone.vici")})
	res := runScript(t, r.ctx, "", "rollout.star", "--inventory", gone, "--conf", rekeyed, "--previous", prev)
	if res.code != 4 || !regexp.MustCompile(`(?m)^s4: unreachable: `).MatchString(res.stdout) {
		t.Errorf("an unreachable gateway: exit %d, want 4 and its reason", res.code)
	}
	untouched(t)

	// s3 dies in the middle of applying its wave (at its first
	// load-conn): a failure, never skipped. The other gateways of the
	// wave are rolled back and proven; s3's rollback cannot reach it.
	cut := r.inventoryWith(t, map[string]string{"s3": cutProxy(t, r.l.Gateway("s3"), "load-conn")})
	res = runScript(t, r.ctx, "", "rollout.star", "--inventory", cut, "--conf", rekeyed, "--previous", prev, "--canary", "1", "--wave", "5")
	if res.code != 6 {
		t.Fatalf("a gateway lost mid-wave: exit %d, want 6", res.code)
	}
	result := section(res.stdout, "RESULT")
	if row := rowOf(result, "s1"); row != "s1 canary yes yes -" {
		t.Errorf("result row of s1: %q", row)
	}
	for _, s := range []string{"s2", "s4", "s5", "s6"} {
		if row := rowOf(result, s); row != s+" wave 1 yes yes yes" {
			t.Errorf("result row of %s: %q", s, row)
		}
	}
	if row := rowOf(result, "s3"); !regexp.MustCompile(`^s3 wave 1 yes NO FAILED unreachable: .*; rollback unreachable: `).MatchString(row) {
		t.Errorf("result row of s3: %q", row)
	}
	if !strings.Contains(res.stdout, "rollout: stopped at wave 1, and its rollback FAILED") {
		t.Errorf("the last line does not say the rollback failed")
	}
	for _, s := range []string{"s2", "s4", "s5", "s6"} {
		r.liveIDs(t, s) // up
		if v := r.hubConn(t, s).Section("children").Section("net").Get("rekey_time"); v != "3600" {
			t.Errorf("%s: rekey_time %s after the rollback, want the previous 3600", s, v)
		}
	}
	requireAllUp(t, r)
}

// requireAllUp checks that the hub has an installed CHILD_SA with every
// spoke.
func requireAllUp(t *testing.T, r *rolloutLab) {
	t.Helper()
	sas := listSAs(t, r.ctx, r.l.Gateway("hub").URI)
	for _, s := range spokes() {
		up := false
		for _, sa := range sasOf(sas, s) {
			if sa.state == "ESTABLISHED" && sa.children["net"] == "INSTALLED" {
				up = true
			}
		}
		if !up {
			t.Errorf("hub: no tunnel to %s: %+v", s, sasOf(sas, s))
		}
	}
}

// cutProxy serves a unix socket that forwards to the gateway's vici
// socket until a client sends the command cutAt: then it drops every
// connection and stops listening, as a gateway that dies at that moment.
func cutProxy(t *testing.T, g *lab.Gateway, cutAt string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), g.Name+".vici")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	cut := func() {
		mu.Lock()
		defer mu.Unlock()
		ln.Close()
		for _, c := range conns {
			c.Close()
		}
	}
	t.Cleanup(cut)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", g.Socket)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			go io.Copy(c, up)
			go func() {
				// Client to daemon, packet by packet: a 4-byte length, a
				// type (0 is CMD_REQUEST) and the command's name.
				for {
					var head [4]byte
					if _, err := io.ReadFull(c, head[:]); err != nil {
						up.Close()
						return
					}
					pkt := make([]byte, binary.BigEndian.Uint32(head[:]))
					if _, err := io.ReadFull(c, pkt); err != nil {
						up.Close()
						return
					}
					if len(pkt) > 2 && pkt[0] == 0 && int(pkt[1])+2 <= len(pkt) && string(pkt[2:2+int(pkt[1])]) == cutAt {
						cut()
						return
					}
					if _, err := up.Write(append(head[:], pkt...)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "unix://" + path
}
