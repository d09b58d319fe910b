package swanctl

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/vici"
	"github.com/vicish/vicish/vici/vicitest"
)

// budgetConf is a configuration of one connection, for the daemons below.
const budgetConf = `connections {
	gw {
		remote_addrs = 192.0.2.2
		local { auth = psk }
		remote { auth = psk }
		children { net { remote_ts = 10.2.0.0/16 } }
	}
}
`

// budgetPeer starts a fake daemon that answers what apply and plan ask
// with nothing, but streams the listing of command as listing says; it
// returns a client to it.
func budgetPeer(t *testing.T, command string, listing vicitest.Handler) *vici.Client {
	t.Helper()
	empty := func(*vicitest.Conn, *vici.Message) *vici.Message { return vici.NewMessage() }
	d := &vicitest.Daemon{Commands: map[string]vicitest.Handler{"version": vicitest.Version},
		Events: []string{"list-sa", "list-conn", "list-cert", "list-authority"}}
	for _, cmd := range []string{"get-keys", "get-shared", "list-certs", "get-authorities", "list-authorities",
		"get-pools", "get-conns", "list-sas", "list-conns", "load-conn", "load-shared"} {
		d.Commands[cmd] = empty
	}
	d.Commands[command] = listing
	srv := vicitest.NewServer(t)
	srv.ServeAll(d)
	c, err := vici.Dial(context.Background(), srv.URI())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestListingBudget: swanctl.apply and swanctl.plan against a daemon that
// streams a listing forever end with an error that names the command,
// what came and the budget (issue 16); a listing that fits the budget
// works.
func TestListingBudget(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "swanctl.conf"), []byte(budgetConf), 0o600); err != nil {
		t.Fatal(err)
	}
	entry := vicitest.Entry(64 << 10) // an IKE_SA "gw" with many CHILD_SAs
	finite := func(event string, n int) vicitest.Handler {
		return func(c *vicitest.Conn, _ *vici.Message) *vici.Message {
			for range n {
				if c.Event(event, entry) != nil {
					return vicitest.NoReply
				}
			}
			return vici.NewMessage()
		}
	}
	cases := []struct {
		name, command string
		listing       vicitest.Handler
		src           string
		want          string // in the error, or in what src printed
	}{
		{"apply, endless list-conns", "list-conns", vicitest.Endless("list-conn", entry),
			`swanctl.apply(dir)`,
			"swanctl.apply: list-conns: the first "},
		{"plan, endless list-sas", "list-sas", vicitest.Endless("list-sa", entry),
			`print(swanctl.plan(dir, dir))`,
			"budget: list-sas: the first "},
		{"plan, endless list-conns", "list-conns", vicitest.Endless("list-conn", entry),
			`print(swanctl.plan(dir, dir))`,
			"budget: list-conns: the first "},
		{"plan, a listing within the budget", "list-sas", finite("list-sa", 20),
			`p = swanctl.plan(dir, dir)
m = p[list(p)[0]]
print("error:", m["error"], "SAs:", len([i for i in m["impact"] if i["sa"] == "IKE_SA"]))`,
			"error: None SAs: 20"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := budgetPeer(t, tc.command, tc.listing)
			var out bytes.Buffer
			mod := NewModule(Config{Client: func(context.Context) (*vici.Client, error) { return c, nil }, Stdout: &out, MaxListing: 4 << 20})
			_, err := runStar(t, mod, &out, tc.src, starlark.StringDict{"dir": starlark.String(dir)})
			got := out.String()
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tc.want) {
				t.Fatalf("got %s\nwant %q in it", got, tc.want)
			}
			if strings.Contains(tc.want, "the first ") {
				for _, w := range []string{"entries (", " from the daemon, ", " kept) are more than the budget of 4 MiB for a listing", "vicish --max-listing"} {
					if !strings.Contains(got, w) {
						t.Errorf("%s\nlacks %q", got, w)
					}
				}
			}
		})
	}
}
