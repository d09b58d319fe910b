package swanctl

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// pkiCerts makes the lab's credentials with strongSwan's pki: a CA
// (x509ca/ca.pem, its key outside the swanctl directory), an ECDSA gateway
// key and certificate (private/gw.pem, x509/gw.pem) and an RSA key
// (rsa/extra.pem).
func pkiCerts(t *testing.T, ctx context.Context, dir string) {
	t.Helper()
	caKey := filepath.Join(t.TempDir(), "cakey.pem")
	for _, d := range []string{"x509", "x509ca", "private", "rsa"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	pki := func(stdin []byte, out string, args ...string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, "pki", args...)
		cmd.Stdin = bytes.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		data, err := cmd.Output()
		if err != nil {
			t.Fatalf("pki %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		if err := os.WriteFile(out, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := func(rel string) string { return filepath.Join(dir, rel) }
	pki(nil, caKey, "--gen", "--type", "ecdsa", "--size", "256", "--outform", "pem")
	pki(nil, p("x509ca/ca.pem"), "--self", "--ca", "--in", caKey, "--type", "ecdsa",
		"--dn", "CN=Lab CA", "--lifetime", "30", "--outform", "pem")
	pki(nil, p("private/gw.pem"), "--gen", "--type", "ecdsa", "--size", "256", "--outform", "pem")
	pub, err := exec.CommandContext(ctx, "pki", "--pub", "--in", p("private/gw.pem"), "--type", "ecdsa").Output()
	if err != nil {
		t.Fatalf("pki --pub: %v", err)
	}
	pki(pub, p("x509/gw.pem"), "--issue", "--cacert", p("x509ca/ca.pem"), "--cakey", caKey,
		"--dn", "CN=gw.lab.example", "--san", "gw.lab.example", "--lifetime", "30", "--outform", "pem")
	pki(nil, p("rsa/extra.pem"), "--gen", "--type", "rsa", "--size", "2048", "--outform", "pem")
}

// daemonState is what the tests compare between gateways.
type daemonState struct {
	Conns       map[string]string // list-conns, by name
	Pools       map[string]string // get-pools without lease counters
	Shared      []string          // get-shared ids, sorted
	Authorities map[string]string // list-authorities, by name
	Certs       []string          // list-certs (type, flag, DER), sorted
	Keys        []string          // get-keys, sorted
}

func snapshot(t *testing.T, ctx context.Context, c *vici.Client) daemonState {
	t.Helper()
	st := daemonState{Conns: map[string]string{}, Pools: map[string]string{}, Authorities: map[string]string{}}
	collect := func(cmd, event string, into map[string]string) {
		_, err := c.CallStream(ctx, cmd, event, vici.NewMessage(), func(m *vici.Message) error {
			for _, e := range m.Entries() {
				into[e.Name] = dump(e.Section)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
	}
	collect("list-conns", "list-conn", st.Conns)
	collect("list-authorities", "list-authority", st.Authorities)
	_, err := c.CallStream(ctx, "list-certs", "list-cert", vici.NewMessage(), func(m *vici.Message) error {
		st.Certs = append(st.Certs, fmt.Sprintf("%s/%s/%x", m.Get("type"), m.Get("flag"), m.Get("data")))
		return nil
	})
	if err != nil {
		t.Fatalf("list-certs: %v", err)
	}
	slices.Sort(st.Certs)
	call := func(cmd string) *vici.Message {
		r, err := c.Call(ctx, cmd, vici.NewMessage())
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		return r
	}
	for _, e := range call("get-pools").Entries() {
		st.Pools[e.Name] = e.Section.Get("base") + " size " + e.Section.Get("size")
	}
	st.Shared = call("get-shared").List("keys")
	slices.Sort(st.Shared)
	st.Keys = call("get-keys").List("keys")
	slices.Sort(st.Keys)
	return st
}

func diffStates(t *testing.T, what string, want, got daemonState) {
	t.Helper()
	if reflect.DeepEqual(want, got) {
		return
	}
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	for i := 0; i < wv.NumField(); i++ {
		if !reflect.DeepEqual(wv.Field(i).Interface(), gv.Field(i).Interface()) {
			t.Errorf("%s: %s differ\nwant %v\n got %v", what, wv.Type().Field(i).Name, wv.Field(i).Interface(), gv.Field(i).Interface())
		}
	}
}

// applyStar runs swanctl.apply from Starlark against client and returns the
// report dict and what it printed.
func applyStar(t *testing.T, c *vici.Client, path string, dryRun bool) (map[string][]string, string) {
	t.Helper()
	var out bytes.Buffer
	mod := NewModule(Config{Client: func(context.Context) (*vici.Client, error) { return c, nil }, Stdout: &out})
	g, err := runStar(t, mod, &out, `report = swanctl.apply(path, dry_run = dry)`,
		starlark.StringDict{"path": starlark.String(path), "dry": starlark.Bool(dryRun)})
	if err != nil {
		t.Fatalf("swanctl.apply(%s, dry_run=%v): %v\n%s", path, dryRun, err, out.String())
	}
	report := map[string][]string{}
	d := g["report"].(*starlark.Dict)
	for _, v := range verdicts {
		x, _, _ := d.Get(starlark.String(v))
		l := x.(*starlark.List)
		for i := 0; i < l.Len(); i++ {
			report[v] = append(report[v], string(l.Index(i).(starlark.String)))
		}
		slices.Sort(report[v])
	}
	if got, _, _ := d.Get(starlark.String("dry_run")); got != starlark.Bool(dryRun) {
		t.Errorf("report dry_run = %v", got)
	}
	return report, out.String()
}

func wantReport(t *testing.T, what string, got map[string][]string, want map[string][]string) {
	t.Helper()
	for _, v := range verdicts {
		w := want[v]
		slices.Sort(w)
		if !slices.Equal(got[v], w) {
			t.Errorf("%s: %s\n got %q\nwant %q", what, v, got[v], w)
		}
	}
}

// TestApplyMatchesSwanctl loads the same files with `swanctl --load-all`
// into gateway a and with swanctl.apply into gateway b, and compares what
// both daemons then have.
func TestApplyMatchesSwanctl(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ga, gb := l.Gateway("a"), l.Gateway("b")
	dir := copyTestdata(t)
	pkiCerts(t, ctx, dir)
	conf := filepath.Join(dir, "swanctl.conf")
	shrunk := filepath.Join(dir, "shrunk.conf")

	ca, err := vici.Dial(ctx, ga.URI)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, err := vici.Dial(ctx, gb.URI)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()

	// Both gateways start with the lab's own conn "ab" and secret "ike-lab".
	fresh := snapshot(t, ctx, cb)
	if _, ok := fresh.Conns["ab"]; !ok || !slices.Contains(fresh.Shared, "ike-lab") {
		t.Fatalf("unexpected lab state on b: %+v", fresh)
	}

	// A dry run reports the plan and changes nothing.
	report, printed := applyStar(t, cb, conf, true)
	wantReport(t, "dry run", report, map[string][]string{
		Added: {"cert x509/gw.pem", "cert x509ca/ca.pem", "key private/enc.pem", "key private/gw.pem", "key rsa/extra.pem", "key ecdsa/legacy.pem",
			"secret ike-gw", "secret ike-hex", "secret eap-carol", "secret ike-extra",
			"authority lab-ca", "pool p1", "pool p2", "conn gw", "conn rw", "conn extra"},
		Removed: {"secret ike-lab", "conn ab"},
	})
	if !strings.Contains(printed, "dry run") {
		t.Errorf("dry-run output does not say so:\n%s", printed)
	}
	diffStates(t, "after the dry run", fresh, snapshot(t, ctx, cb))

	// swanctl on a, apply on b: the same daemon state.
	if out, err := ga.Swanctl(ctx, "--load-all", "--noprompt", "--file", conf); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	report, printed = applyStar(t, cb, conf, false)
	wantReport(t, "first apply", report, map[string][]string{
		Added: {"cert x509/gw.pem", "cert x509ca/ca.pem", "key private/enc.pem", "key private/gw.pem", "key rsa/extra.pem", "key ecdsa/legacy.pem",
			"secret ike-gw", "secret ike-hex", "secret eap-carol", "secret ike-extra",
			"authority lab-ca", "pool p1", "pool p2", "conn gw", "conn rw", "conn extra"},
		Removed: {"secret ike-lab", "conn ab"},
	})
	for _, secret := range []string{"a psk with blanks", "carol-password", "extra-secret", "PRIVATE KEY"} {
		if strings.Contains(printed, secret) {
			t.Errorf("apply printed secret data %q", secret)
		}
	}
	t.Logf("apply printed:\n%s", printed)
	sa, sb := snapshot(t, ctx, ca), snapshot(t, ctx, cb)
	diffStates(t, "swanctl --load-all (a) vs swanctl.apply (b)", sa, sb)
	if len(sb.Conns) != 3 || len(sb.Pools) != 2 || len(sb.Keys) != 4 || len(sb.Shared) != 4 || len(sb.Authorities) != 1 {
		t.Errorf("b has not loaded everything: %d conns, %d pools, %d keys, %d shared, %d authorities",
			len(sb.Conns), len(sb.Pools), len(sb.Keys), len(sb.Shared), len(sb.Authorities))
	}

	// A dry run now predicts nothing to add or remove; key ids computed
	// locally match the daemon's.
	report, _ = applyStar(t, cb, conf, true)
	wantReport(t, "dry run after apply", report, map[string][]string{
		Unchanged: {"cert x509/gw.pem", "cert x509ca/ca.pem", "key private/enc.pem", "key private/gw.pem", "key rsa/extra.pem", "key ecdsa/legacy.pem"},
		Reloaded: {"secret ike-gw", "secret ike-hex", "secret eap-carol", "secret ike-extra",
			"authority lab-ca", "pool p1", "pool p2", "conn gw", "conn rw", "conn extra"},
	})

	// Applying the same file again changes nothing.
	report, _ = applyStar(t, cb, conf, false)
	wantReport(t, "second apply", report, map[string][]string{
		Unchanged: {"cert x509/gw.pem", "cert x509ca/ca.pem", "key private/enc.pem", "key private/gw.pem", "key rsa/extra.pem", "key ecdsa/legacy.pem",
			"authority lab-ca", "conn gw", "conn rw", "conn extra"},
		Reloaded: {"secret ike-gw", "secret ike-hex", "secret eap-carol", "secret ike-extra", "pool p1", "pool p2"},
	})
	diffStates(t, "after applying twice", sa, snapshot(t, ctx, cb))

	// Items removed from the file are unloaded; a changed conn is reported.
	if out, err := ga.Swanctl(ctx, "--load-all", "--noprompt", "--file", shrunk); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	report, _ = applyStar(t, cb, shrunk, false)
	wantReport(t, "apply shrunk.conf", report, map[string][]string{
		Unchanged: {"cert x509/gw.pem", "cert x509ca/ca.pem", "key private/enc.pem", "key private/gw.pem", "key rsa/extra.pem", "key ecdsa/legacy.pem",
			"authority lab-ca", "conn rw"},
		Changed:  {"conn gw", "pool p1"},
		Reloaded: {"secret ike-gw", "secret ike-hex", "secret eap-carol"},
		Removed:  {"secret ike-extra", "pool p2", "conn extra"},
	})
	sa, sb = snapshot(t, ctx, ca), snapshot(t, ctx, cb)
	diffStates(t, "shrunk.conf: swanctl --load-all (a) vs swanctl.apply (b)", sa, sb)
	if _, ok := sb.Conns["extra"]; ok {
		t.Error("conn extra is still loaded on b")
	}

	// A conn the daemon rejects fails apply (after the report is printed)
	// while the rest is applied, as swanctl does.
	bad := filepath.Join("testdata", "bad", "swanctl.conf")
	if out, err := ga.Swanctl(ctx, "--load-all", "--noprompt", "--file", bad); err == nil || !strings.Contains(string(out), "loading connection 'bad' failed") {
		t.Fatalf("swanctl --load-all %s: err %v\n%s", bad, err, out)
	}
	var out bytes.Buffer
	mod := NewModule(Config{Client: func(context.Context) (*vici.Client, error) { return cb, nil }, Stdout: &out})
	_, err = runStar(t, mod, &out, `swanctl.apply(path)`, starlark.StringDict{"path": starlark.String(bad)})
	if err == nil || !strings.Contains(err.Error(), "swanctl.apply: 1 item(s) of") ||
		!strings.Contains(err.Error(), "conn bad: vici: load-conn: unknown option: bogus_option") {
		t.Fatalf("apply of a rejected conn: err %v", err)
	}
	if !strings.Contains(out.String(), "failed    conn bad: ") || !strings.Contains(out.String(), "added     conn good") ||
		!strings.Contains(out.String(), "removed   conn gw") {
		t.Errorf("apply printed:\n%s", out.String())
	}
	diffStates(t, "bad/swanctl.conf: swanctl --load-all (a) vs swanctl.apply (b)", snapshot(t, ctx, ca), snapshot(t, ctx, cb))
}
