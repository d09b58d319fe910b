package script

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
)

// completions returns what TAB offers at the end of line, as whole words.
func completions(c *completer, line string) []string {
	cands, n := c.Do([]rune(line), len([]rune(line)))
	word := string([]rune(line)[len([]rune(line))-n:])
	out := make([]string, len(cands))
	for i, s := range cands {
		out[i] = word + string(s)
	}
	slices.Sort(out)
	return out
}

func TestCompleter(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway) // vici.connect dials at once
	var out bytes.Buffer
	rt := New(Options{URI: l.Gateway("a").URI, Stdout: &out, Stderr: &out})
	defer rt.Close()
	globals := rt.Predeclared()
	// a session value, made the way a user would make one
	thread, release := rt.NewThread(context.Background(), "t")
	defer release()
	more, err := rt.Exec(thread, "s.star", "s = vici.connect()\ndef up(peer, timeout = 5):\n    pass\n")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range more {
		globals[k] = v
	}
	c := &completer{globals: globals, rt: rt}

	for _, tc := range []struct {
		line string
		want []string
	}{
		{"vici.list_", []string{"list_authorities", "list_certs", "list_conns", "list_policies", "list_sas"}},
		{"x = vici.vers", []string{"version"}},
		{"s.list_s", []string{"list_sas"}},
		{"s.ur", []string{"uri"}},
		{"vici.initiate(ch", []string{"child="}},
		{"vici.initiate(child='net', ik", []string{"ike="}},
		{"vici.initiate(che", []string{"check="}},
		{"up(ti", []string{"timeout="}},
		{"print(vici.initiate(child=\"x\"), le", []string{"len"}},
		{"jso", []string{"json"}},
		{"whi", []string{"while"}},
		{"swan", []string{"swanctl"}},
		{"print(\"vici.li", nil}, // inside a string: nothing
		{"vici.on(\"ike-upd", []string{"ike-update", "ike-updown"}},
		{"s.wait('child-r", []string{"child-rekey"}},
		{"vici.on(\"ike-updown\", f); print(\"ike-upd", nil},
		{"nosuch.x", nil},          // unknown base
		{"    ", []string{"    "}}, // TAB on an empty line inserts 4 spaces
		// after a keyword of a command, TAB shows the type charon reads
		{"vici.list_sas(ike=", []string{`"`}},
		{"s.list_sas(noblock = ", []string{"False", "True"}},
		{"vici.terminate(force=", []string{"False", "True"}},
		{"vici.load_shared(owners=", []string{`["`}},
		{"vici.load_cert(data=", []string{`"`}},
	} {
		got := completions(c, tc.line)
		if !slices.Equal(got, tc.want) {
			t.Errorf("TAB after %q offers %q, want %q", tc.line, got, tc.want)
		}
	}
	// the command table's keywords are all there for a bare "("
	got := strings.Join(completions(c, "vici.list_sas("), " ")
	for _, want := range []string{"ike=", "ike_id=", "noblock="} {
		if !strings.Contains(got, want) {
			t.Errorf("TAB after vici.list_sas( offers %q, missing %s", got, want)
		}
	}
}
