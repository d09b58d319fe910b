package scripts_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
)

// statusRow finds the row of IKE_SA or CHILD_SA name in status output and
// reports its state column.
func statusRow(out, name string) (state string, ok bool) {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` #\d+\s+(?:\S+ #\d+\s+)?([A-Z_]+)\s`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// TestFailover: status shows the primary up; a dry run changes nothing; the
// failover moves the CHILD_SA to the backup (seen on gateways a and c, gone
// from b), and status then shows it there.
func TestFailover(t *testing.T) {
	l := labtest.Start(t, lab.Failover)
	ctx := testContext(t)
	a, b, c := l.Gateway("a"), l.Gateway("b"), l.Gateway("c")
	initiate(t, ctx, a.URI, "primary", "net")
	requireInstalled(t, "a", listSAs(t, ctx, a.URI), "primary", "net")

	st := runScript(t, ctx, a.URI, "status.star")
	if st.code != 0 {
		t.Fatalf("status.star: exit %d: %s", st.code, st.stderr)
	}
	// The banner names the version the daemon reports (5.9.8 or 6.1.0 here).
	for _, want := range []string{"charon " + a.Version() + " ", "primary  IKEv2", "backup   IKEv2", "IKE_SAS (1)", "CHILD_SAS (1)"} {
		if !strings.Contains(st.stdout, want) {
			t.Errorf("status output lacks %q", want)
		}
	}
	if s, ok := statusRow(st.stdout, "primary"); !ok || s != "ESTABLISHED" {
		t.Errorf("status: IKE_SA primary row: state %q, found %v", s, ok)
	}
	if s, ok := statusRow(st.stdout, "net"); !ok || s != "INSTALLED" {
		t.Errorf("status: CHILD_SA net row: state %q, found %v", s, ok)
	}

	before := listSAs(t, ctx, a.URI)
	dry := runScript(t, ctx, a.URI, "failover.star", "--dry-run", "primary", "backup")
	if dry.code != 0 {
		t.Fatalf("dry run: exit %d: %s", dry.code, dry.stderr)
	}
	for _, want := range []string{"dry run, nothing is changed", "terminate IKE_SA primary #", "initiate backup, child net"} {
		if !strings.Contains(dry.stdout, want) {
			t.Errorf("dry run output lacks %q", want)
		}
	}
	after := listSAs(t, ctx, a.URI)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("the dry run changed the SAs of a:\nbefore %+v\nafter  %+v", before, after)
	}
	if got := listSAs(t, ctx, c.URI); len(got) != 0 {
		t.Fatalf("the dry run brought up SAs on c: %+v", got)
	}

	fo := runScript(t, ctx, a.URI, "failover.star", "primary", "backup")
	if fo.code != 0 {
		t.Fatalf("failover: exit %d: %s", fo.code, fo.stderr)
	}
	if !strings.Contains(fo.stdout, "failover done: net now runs over backup") {
		t.Errorf("failover output lacks its final line")
	}
	sasA := listSAs(t, ctx, a.URI)
	requireInstalled(t, "a", sasA, "backup", "net")
	if p := sasOf(sasA, "primary"); len(p) != 0 {
		t.Errorf("gateway a still has the primary IKE_SA: %+v", p)
	}
	if sasOf(sasA, "backup")[0].remoteID != "c" {
		t.Errorf("gateway a: backup's peer is %q, want c", sasOf(sasA, "backup")[0].remoteID)
	}
	requireInstalled(t, "c", listSAs(t, ctx, c.URI), "backup", "net")
	if got := listSAs(t, ctx, b.URI); len(got) != 0 {
		t.Errorf("gateway b still has SAs after the failover: %+v", got)
	}

	// Running it again is harmless: nothing to terminate, nothing to initiate.
	again := runScript(t, ctx, a.URI, "failover.star", "primary", "backup")
	if again.code != 0 || !strings.Contains(again.stdout, "net is already INSTALLED under backup; not initiating it again") {
		t.Fatalf("second failover: exit %d, output does not say net is already up: %s", again.code, again.stderr)
	}
	requireInstalled(t, "a", listSAs(t, ctx, a.URI), "backup", "net")

	st = runScript(t, ctx, a.URI, "status.star", "--detail")
	if st.code != 0 {
		t.Fatalf("status.star after failover: exit %d: %s", st.code, st.stderr)
	}
	if s, ok := statusRow(st.stdout, "backup"); !ok || s != "ESTABLISHED" {
		t.Errorf("status after failover: IKE_SA backup row: state %q, found %v", s, ok)
	}
	if _, ok := statusRow(st.stdout, "primary"); ok {
		t.Errorf("status after failover still lists an IKE_SA primary")
	}
	if !strings.Contains(st.stdout, "remote 'c' @ 198.51.100.2") {
		t.Errorf("status --detail lacks the swanctl-style peer line of the backup")
	}
}

// TestFailoverBackupDown: with gateway c killed the failover stops at the
// initiate step with exit code 1 and a message saying so, and leaves no
// half-made backup IKE_SA behind.
func TestFailoverBackupDown(t *testing.T) {
	l := labtest.Start(t, lab.Failover)
	ctx := testContext(t)
	a, c := l.Gateway("a"), l.Gateway("c")
	initiate(t, ctx, a.URI, "primary", "net")
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	r := runScript(t, ctx, a.URI, "failover.star", "--timeout", "3", "primary", "backup")
	if r.code != 1 {
		t.Fatalf("failover with the backup down: exit %d, want 1", r.code)
	}
	for _, want := range []string{"failover: FAILED at step 3: initiating backup (child net) failed", "not established after 3000ms", `vici.initiate(ike="primary", child="net")`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error message lacks %q", want)
		}
	}
	if got := sasOf(listSAs(t, ctx, a.URI), "backup"); len(got) != 0 {
		t.Errorf("a half-made backup IKE_SA was left behind: %+v", got)
	}

	// Usage mistakes and unknown connections fail before anything changes.
	initiate(t, ctx, a.URI, "primary", "net")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"primary"}, "name two connections"},
		{[]string{"primary", "nope"}, `FAILED at step 1: connection "nope" is not loaded`},
		{[]string{"--child", "other", "primary", "backup"}, `connection "backup" has no child "other"`},
		{[]string{"--timeout", "x", "primary", "backup"}, "--timeout wants a whole number"},
	} {
		r := runScript(t, ctx, a.URI, "failover.star", tc.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("failover %v: exit %d, stderr %q; want exit 1 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	requireInstalled(t, "a", listSAs(t, ctx, a.URI), "primary", "net")
}

// TestStatusManySAs: status lists every IKE_SA and CHILD_SA the lab brought up.
func TestStatusManySAs(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	ctx := testContext(t)
	const n = 4
	if err := l.BringUpSAs(ctx, n); err != nil {
		t.Fatal(err)
	}
	a := l.Gateway("a")
	sas := listSAs(t, ctx, a.URI)
	r := runScript(t, ctx, a.URI, "status.star")
	if r.code != 0 {
		t.Fatalf("status.star: exit %d: %s", r.code, r.stderr)
	}
	if want := fmt.Sprintf("IKE_SAS (%d)", len(sas)); !strings.Contains(r.stdout, want) {
		t.Errorf("status lacks %q", want)
	}
	for i := 1; i <= n; i++ {
		name := lab.SAConnName(i)
		if s, ok := statusRow(r.stdout, name); !ok || s != "ESTABLISHED" {
			t.Errorf("status: IKE_SA %s: state %q, found %v", name, s, ok)
		}
		re := regexp.MustCompile(`(?m)^net #\d+\s+` + name + ` #\d+\s+INSTALLED\s+0 B, 0 pkts`)
		if !re.MatchString(r.stdout) {
			t.Errorf("status: no INSTALLED CHILD_SA row for %s", name)
		}
	}
}

// TestFailoverPrimaryDead: with gateway b killed (the usual reason for a
// failover) the primary's IKE_SA cannot be deleted gracefully; the failover
// forces it and brings the CHILD_SA up over c.
func TestFailoverPrimaryDead(t *testing.T) {
	l := labtest.Start(t, lab.Failover)
	ctx := testContext(t)
	a, b, c := l.Gateway("a"), l.Gateway("b"), l.Gateway("c")
	initiate(t, ctx, a.URI, "primary", "net")
	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	r := runScript(t, ctx, a.URI, "failover.star", "--timeout", "2", "--child", "net", "primary", "backup")
	if r.code != 0 {
		t.Fatalf("failover with the primary dead: exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "graceful terminate of primary #1 failed") || !strings.Contains(r.stdout, "forcing") {
		t.Errorf("the output does not say the deletion was forced")
	}
	sasA := listSAs(t, ctx, a.URI)
	requireInstalled(t, "a", sasA, "backup", "net")
	if p := sasOf(sasA, "primary"); len(p) != 0 {
		t.Errorf("gateway a still has the primary IKE_SA: %+v", p)
	}
	requireInstalled(t, "c", listSAs(t, ctx, c.URI), "backup", "net")
}

// TestExamples runs the small scripts of examples/ against a two-gateway lab.
func TestExamples(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	ctx := testContext(t)
	a := l.Gateway("a")
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"../examples/hello.star"}, 0, []string{"charon " + a.Version() + " ", ": 0 IKE_SA(s), up "}},
		{[]string{"../examples/initiate.star", "ab", "net"}, 0, []string{"  daemon: IKE_SA ab[1] established", "ab/net is up"}},
		{[]string{"../examples/initiate.star", "ab", "nope"}, 1, []string{"ab/nope failed: CHILD_SA config 'nope' not found"}},
		{[]string{"../examples/list-sas.star"}, 0, []string{"ab: #1, ESTABLISHED, IKEv2", "ab      net       INSTALLED"}},
		{[]string{"../examples/load-conn.star"}, 0, []string{"example: IKEv2", "remote: 10.9.0.0/24 10.10.0.0/24", `unloaded; connections now: ["ab"]`}},
		{[]string{"../examples/watch.star", "1"}, 0, []string{"0 event(s) in 1s"}},
	} {
		r := runScript(t, ctx, a.URI, tc.args[0], tc.args[1:]...)
		if r.code != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.args, r.code, tc.code)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stdout+r.stderr, w) {
				t.Errorf("%v: output lacks %q", tc.args, w)
			}
		}
	}
}
