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
