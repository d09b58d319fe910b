package swanctl

import (
	"context"
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

// TestApplyKeepsWhatFailed: an item whose new version fails to load (a bad
// value in the file, or one the daemon refuses) is never unloaded; the
// daemon keeps what it had, and the report says so. apply removed a
// working shared secret when the file's new value was bad base64.
func TestApplyKeepsWhatFailed(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ga, gb := l.Gateway("a"), l.Gateway("b")
	c, err := vici.Dial(ctx, gb.URI)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Besides the lab's conn "ab" and secret "ike-lab", b gets a private
	// key, a pool and an authority.
	seed := t.TempDir()
	keyPEM := goCerts(t, seed)
	caPEM, err := os.ReadFile(filepath.Join(seed, "x509ca", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for cmd, req := range map[string]*vici.Message{
		"load-key":       vici.NewMessage().Set("type", "any").SetBytes("data", keyPEM),
		"load-pool":      vici.NewMessage().SetSection("p1", vici.NewMessage().Set("addrs", "10.3.0.0/28")),
		"load-authority": vici.NewMessage().SetSection("ca1", vici.NewMessage().SetBytes("cacert", caPEM)),
	} {
		if _, err := c.Call(ctx, cmd, req); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
	}
	before := snapshot(t, ctx, c)
	if len(before.Keys) != 1 || !slices.Contains(before.Shared, "ike-lab") || before.Conns["ab"] == "" ||
		before.Pools["p1"] == "" || before.Authorities["ca1"] == "" {
		t.Fatalf("unexpected state on b: %+v", before)
	}

	dir := t.TempDir()
	authority := "authorities {\n\tca1 {\n\t\tcacert = " + filepath.Join(seed, "x509ca", "ca.pem") + "\n\t}\n}\n"
	badSecret := "secrets {\n\tike-lab {\n\t\tsecret = 0sAAAA!!\n\t}\n}\n"
	writeFile(t, filepath.Join(dir, "private", "broken.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")

	// A bad secret value, a key file and a connection the daemon refuses.
	writeFile(t, filepath.Join(dir, "swanctl.conf"), authority+badSecret+`
pools {
	p1 {
		addrs = 10.3.0.0/28
	}
}
connections {
	ab {
		remote_addrs = 192.0.2.2
		bogus_option = 1
	}
}
`)
	report := applyGo(t, ctx, c, dir)
	wantChanges(t, report, Failed, "conn ab", "key private/broken.pem", "secret ike-lab")
	wantChanges(t, report, Kept, "conn ab", "key "+before.Keys[0], "secret ike-lab")
	wantChanges(t, report, Removed)
	if err := report.Err(); err == nil || !strings.Contains(err.Error(), "secret ike-lab: secrets.ike-lab.secret: invalid 0s base64 value") {
		t.Errorf("report error: %v", err)
	}
	diffStates(t, "after applying failing items", before, snapshot(t, ctx, c))

	// swanctl --load-creds keeps the secret too.
	if out, err := ga.Swanctl(ctx, "--load-creds", "--noprompt", "--file", filepath.Join(dir, "swanctl.conf")); err != nil {
		t.Logf("swanctl --load-creds: %v\n%s", err, out)
	}
	ca, err := vici.Dial(ctx, ga.URI)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	if shared := snapshot(t, ctx, ca).Shared; !slices.Contains(shared, "ike-lab") {
		t.Errorf("swanctl --load-creds on a: get-shared %v", shared)
	}

	// A pool the daemon refuses: kept, and (as swanctl does) connections
	// are left alone, though the file has none.
	writeFile(t, filepath.Join(dir, "swanctl.conf"), authority+badSecret+"pools {\n\tp1 {\n\t\taddrs = 10.3.0.0/28\n\t\tdns = not-an-address\n\t}\n}\n")
	report = applyGo(t, ctx, c, dir)
	wantChanges(t, report, Failed, "key private/broken.pem", "pool (stage)", "pool p1", "secret ike-lab")
	wantChanges(t, report, Kept, "key "+before.Keys[0], "pool p1", "secret ike-lab")
	wantChanges(t, report, Removed)
	diffStates(t, "after a refused pool", before, snapshot(t, ctx, c))

	// A failing authority: kept, and pools and connections are left alone.
	writeFile(t, filepath.Join(dir, "swanctl.conf"), "authorities {\n\tca1 {\n\t\tcacert = missing.pem\n\t}\n}\n"+badSecret)
	if err := os.Remove(filepath.Join(dir, "private", "broken.pem")); err != nil {
		t.Fatal(err)
	}
	report = applyGo(t, ctx, c, dir)
	wantChanges(t, report, Failed, "authority (stage)", "authority ca1", "secret ike-lab")
	wantChanges(t, report, Kept, "authority ca1", "secret ike-lab")
	// The key is no longer in the file and no key file failed: it is
	// unloaded, as swanctl does.
	wantChanges(t, report, Removed, "key "+before.Keys[0])
	before.Keys = []string{}
	diffStates(t, "after a failing authority", before, snapshot(t, ctx, c))
}

// applyGo loads the swanctl directory dir and applies it with c.
func applyGo(t *testing.T, ctx context.Context, c *vici.Client, dir string) *applyReport {
	t.Helper()
	conf, err := loadConf(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	report, err := applyConf(ctx, daemon{Client: c}, conf, false)
	if err != nil {
		t.Fatal(err)
	}
	return report
}

// wantChanges checks the kind-and-name of every change with verdict.
func wantChanges(t *testing.T, r *applyReport, verdict string, want ...string) {
	t.Helper()
	var got []string
	for _, c := range r.With(verdict) {
		got = append(got, c.Kind+" "+c.Name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %q, want %q", verdict, got, want)
	}
}
