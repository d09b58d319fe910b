package starlarkvici

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/starctx"
	"go.starlark.net/starlark"
)

// TestListPoliciesDefault: on a real daemon with a trap, a drop and a pass
// policy installed, vici.list_policies() with no flag lists what
// swanctl --list-pols lists (all three), and explicit flags narrow it the
// way swanctl's --trap/--drop/--pass do.
func TestListPoliciesDefault(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	gw := l.Gateway("a")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mod := NewModule(Config{URI: gw.URI})
	defer mod.Close()
	thread := &starlark.Thread{}
	defer starctx.Attach(thread, ctx)()
	eval := func(expr string) starlark.Value {
		t.Helper()
		v, err := starlark.EvalOptions(fileOptions, thread, "policies", expr, starlark.StringDict{"vici": mod})
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	eval(`vici.load_conn({"pols": {
	    "remote_addrs": "192.0.2.50",
	    "local": {"auth": "psk", "id": "a"},
	    "remote": {"auth": "psk", "id": "far"},
	    "children": {
	        "t": {"local_ts": "10.1.0.0/24", "remote_ts": "10.9.1.0/24"},
	        "d": {"local_ts": "10.1.0.0/24", "remote_ts": "10.9.2.0/24", "mode": "drop"},
	        "p": {"local_ts": "10.1.0.0/24", "remote_ts": "10.9.3.0/24", "mode": "pass"},
	    },
	}})`)
	for _, child := range []string{"t", "d", "p"} {
		eval(`vici.install(child="` + child + `", ike="pols")`)
	}

	// strongSwan 6.0.2 added the reqid to the policies vici lists (trap
	// policies) and to swanctl's head line: "<name>, reqid <N>, <mode>";
	// before, swanctl prints "<name>, <mode>" and vici sends no reqid.
	withReqid := labtest.AtLeast(t, gw, "6.0.2")
	head := regexp.MustCompile(`(?m)^(\S+), (\S+)$`)
	if withReqid {
		head = regexp.MustCompile(`(?m)^(\S+), reqid (\S+), (\S+)$`)
	}
	t.Logf("strongSwan %s: reqid in policy listings: %v", gw.Version(), withReqid)
	// names turns a list_policies result into sorted "name [reqid] mode"
	// lines, the reqid as swanctl prints it (C's "(null)" when absent).
	names := func(expr string) []string {
		t.Helper()
		var out []string
		list := eval(expr).(*starlark.List)
		for i := range list.Len() {
			for _, item := range list.Index(i).(*starlark.Dict).Items() {
				pol := item[1].(*starlark.Dict)
				mode, _, _ := pol.Get(starlark.String("mode"))
				line := string(item[0].(starlark.String)) + " "
				reqid, found, _ := pol.Get(starlark.String("reqid"))
				switch {
				case withReqid && found:
					line += string(reqid.(starlark.String)) + " "
				case withReqid:
					line += "(null) "
				case found:
					t.Errorf("strongSwan %s sent a reqid: %v", gw.Version(), pol)
				}
				out = append(out, line+string(mode.(starlark.String)))
			}
		}
		slices.Sort(out)
		return out
	}
	swanctl := func(args ...string) []string {
		t.Helper()
		out, err := gw.Swanctl(ctx, append([]string{"--list-pols"}, args...)...)
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		var lines []string
		for _, m := range head.FindAllStringSubmatch(string(out), -1) {
			lines = append(lines, strings.Join(m[1:], " "))
		}
		slices.Sort(lines)
		return lines
	}

	all := names(`vici.list_policies()`)
	if want := swanctl(); !slices.Equal(all, want) {
		t.Errorf("list_policies(): %q; swanctl --list-pols: %q", all, want)
	}
	if len(all) != 3 || !strings.Contains(strings.Join(all, ","), "DROP") || !strings.Contains(strings.Join(all, ","), "PASS") {
		t.Errorf("list_policies() should show the trap, drop and pass policy: %q", all)
	}
	for _, tc := range []struct{ expr, flag string }{
		{`vici.list_policies(trap=True)`, "--trap"},
		{`vici.list_policies(drop=True)`, "--drop"},
		{`vici.list_policies({"pass": True})`, "--pass"},
	} {
		got, want := names(tc.expr), swanctl(tc.flag)
		if !slices.Equal(got, want) || len(got) != 1 {
			t.Errorf("%s: %q; swanctl --list-pols %s: %q", tc.expr, got, tc.flag, want)
		}
	}
	if got, want := names(`vici.list_policies(drop=True, pass_=True)`), swanctl("--drop", "--pass"); !slices.Equal(got, want) || len(got) != 2 {
		t.Errorf("drop and pass: %q; swanctl: %q", got, want)
	}
	// A flag given as False leaves out only that kind.
	if got := names(`vici.list_policies(trap=False)`); !slices.Equal(got, swanctl("--drop", "--pass")) {
		t.Errorf("list_policies(trap=False): %q", got)
	}
	if got := names(`vici.list_policies(trap=False, drop=False, pass_=False)`); len(got) != 0 {
		t.Errorf("every flag False: %q", got)
	}
	// vici.call sends the request as given: no flag, no policies (the daemon's own default).
	if got := eval(`vici.stream("list-policies", "list-policy")`).(*starlark.List); got.Len() != 0 {
		t.Errorf("vici.stream without flags: %v", got)
	}
}
