package scripts_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
)

// Tests of the metrics scripts (metrics.star, exporter.star and what they
// share, lib/metrics.star) against real daemons; every exposition is
// checked by promtool before a value is looked at.

// promSample is one sample line of the exposition: metric name, labels, value.
var promSample = regexp.MustCompile(`^([a-z_]+)(?:\{([^}]*)\})? (\S+)$`)

// promtool returns the path of promtool, failing the test when it is
// missing.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is needed to check the exposition and the rules (apt install prometheus): %v", err)
	}
	return p
}

// parseExposition checks text with promtool check metrics and maps
// `name{labels}` to the value.
func parseExposition(t *testing.T, text string) map[string]string {
	t.Helper()
	check := exec.Command(promtool(t), "check", "metrics")
	check.Stdin = strings.NewReader(text)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s\n--- the exposition\n%s", err, out, text)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.HasPrefix(line, "# ") {
			continue
		}
		s := promSample.FindStringSubmatch(line)
		if s == nil {
			t.Fatalf("not a sample line: %q", line)
		}
		key := s[1] + "{" + s[2] + "}"
		if _, dup := m[key]; dup {
			t.Fatalf("sample %s twice", key)
		}
		m[key] = s[3]
	}
	return m
}

// parseMetrics is parseExposition of the file at path.
func parseMetrics(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseExposition(t, string(b))
}

// waitChildSAs polls the CHILD_SAs of the daemon at uri until ok accepts
// them, and returns them. The limit is the test's context.
func waitChildSAs(t *testing.T, ctx context.Context, uri, what string, ok func([]*vici.Message) bool) []*vici.Message {
	t.Helper()
	for {
		sas := childSAs(t, uri)
		if ok(sas) {
			return sas
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never happened: CHILD_SAs of %s: %v", what, uri, sas)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// oneInstalled accepts a single INSTALLED CHILD_SA whose counter has
// reached n and whose unique id is not old.
func oneInstalled(counter string, n int, old string) func([]*vici.Message) bool {
	return func(sas []*vici.Message) bool {
		return len(sas) == 1 && sas[0].Get("state") == "INSTALLED" && sas[0].Get("uniqueid") != old &&
			sas[0].Get(counter) == strconv.Itoa(n)
	}
}

// sendPackets sends n datagrams from a to b through the tunnel.
func sendPackets(t *testing.T, ctx context.Context, a *lab.Gateway, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := a.SendUDP(ctx, lab.LocalA, lab.LocalB, []byte("metrics")); err != nil {
			t.Fatal(err)
		}
	}
}

// loadCA makes a self-signed CA certificate, loads it into the daemon at
// uri and returns it.
func loadCA(t *testing.T, ctx context.Context, uri string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x5eed), Subject: pkix.Name{Country: []string{"CH"}, CommonName: "vicish metrics CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	call(t, ctx, uri, "load-cert", vici.NewMessage().Set("type", "x509").Set("flag", "ca").Set("data", pemText))
	return cert
}

// getPool returns the daemon's get-pools entry of pool name.
func getPool(t *testing.T, ctx context.Context, uri, name string) *vici.Message {
	t.Helper()
	c, err := vici.Dial(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Call(ctx, "get-pools", nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.Section(name)
}

// TestMetrics runs metrics.star against the Failover lab (a with primary
// up to b, a certificate and a pool on a; c idle; "gone" unreachable) and
// checks the exposition against the daemons' own answers; then that the
// traffic totals carried in --state never go down, across a rekey of the
// CHILD_SA and a restart of a's daemon.
func TestMetrics(t *testing.T) {
	l := labtest.Start(t, lab.Failover)
	ctx := testContext(t)
	a, b := l.Gateway("a"), l.Gateway("b")
	bin := buildVicish(t)
	initiate(t, ctx, a.URI, "primary", "net")
	ca := loadCA(t, ctx, a.URI)
	call(t, ctx, a.URI, "load-pool", vici.NewMessage().SetSection("p1", vici.NewMessage().Set("addrs", "10.3.0.0/28")))
	sendPackets(t, ctx, a, 3)
	// SendUDP returns once the kernel has the datagrams; the daemons count
	// them as they carry them through the tunnel, a moment later.
	first := waitChildSAs(t, ctx, a.URI, "a counting 3 packets out", oneInstalled("packets-out", 3, ""))
	waitChildSAs(t, ctx, b.URI, "b counting 3 packets in", oneInstalled("packets-in", 3, ""))

	dir := t.TempDir()
	out := filepath.Join(dir, "strongswan.prom")
	state := filepath.Join(dir, "metrics.state")
	inv := inventory(t, l, "gone unix://"+filepath.Join(dir, "gone.vici"))

	// Without --allow-write nothing is written.
	cmd := exec.CommandContext(ctx, bin, scriptArgs("metrics.star", "--inventory", inv, "--out", out)...)
	if o, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(o), "--allow-write") {
		t.Errorf("without --allow-write: %v\n%s", err, o)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the file exists without --allow-write: %v", err)
	}
	write := func(args ...string) map[string]string {
		t.Helper()
		args = append([]string{"--allow-write", "metrics.star", "--inventory", inv, "--out", out}, args...)
		if o, err := exec.CommandContext(ctx, bin, args...).CombinedOutput(); err != nil || len(o) != 0 {
			t.Fatalf("metrics.star --out: %v\n%s", err, o)
		}
		return parseMetrics(t, out)
	}
	before := time.Now().Unix()
	m := write("--state", state)
	after := time.Now().Unix()

	// The values are the daemons' own: compare with list-sas, get-pools
	// and the certificate loaded.
	pool := getPool(t, ctx, a.URI, "p1")
	want := map[string]string{
		`strongswan_up{gateway="a"}`:                                                                   "1",
		`strongswan_up{gateway="gone"}`:                                                                "0",
		`strongswan_scrape_error{gateway="gone",reason="unreachable"}`:                                 "1",
		`strongswan_ike_sas{gateway="a"}`:                                                              "1",
		`strongswan_ike_sas{gateway="c"}`:                                                              "0",
		`strongswan_ike_sas_half_open{gateway="a"}`:                                                    "0",
		`strongswan_connection_configured{gateway="a",connection="backup"}`:                            "1",
		`strongswan_connection_established{gateway="a",connection="primary"}`:                          "1",
		`strongswan_connection_established{gateway="a",connection="backup"}`:                           "0",
		`strongswan_connection_established{gateway="b",connection="primary"}`:                          "1",
		`strongswan_child_configured{gateway="c",connection="backup",child="net"}`:                     "1",
		`strongswan_child_installed{gateway="a",connection="primary",child="net"}`:                     "1",
		`strongswan_child_installed{gateway="c",connection="backup",child="net"}`:                      "0",
		`strongswan_child_packets_total{gateway="a",connection="primary",child="net",direction="out"}`: "3",
		`strongswan_child_packets_total{gateway="b",connection="primary",child="net",direction="in"}`:  "3",
		`strongswan_child_bytes_total{gateway="a",connection="primary",child="net",direction="out"}`:   first[0].Get("bytes-out"),
		`strongswan_child_bytes_total{gateway="c",connection="backup",child="net",direction="in"}`:     "0",
		`strongswan_pool_addresses{gateway="a",pool="p1"}`:                                             pool.Get("size"),
		`strongswan_pool_leases{gateway="a",pool="p1",state="online"}`:                                 pool.Get("online"),
		`strongswan_pool_leases{gateway="a",pool="p1",state="offline"}`:                                pool.Get("offline"),
		`strongswan_info{gateway="b",daemon="charon",version="` + strings.Fields(daemonVersion(t, b.URI))[1] + `",sysname="Linux",release="` + uname(t, "-r") + `",machine="` + uname(t, "-m") + `"}`: "1",
	}
	caLabels := `{gateway="a",subject="C=CH, CN=vicish metrics CA",serial="5e:ed",issuer="C=CH, CN=vicish metrics CA"}`
	want["strongswan_certificate_not_before_timestamp_seconds"+caLabels] = strconv.FormatInt(ca.NotBefore.Unix(), 10)
	want["strongswan_certificate_not_after_timestamp_seconds"+caLabels] = strconv.FormatInt(ca.NotAfter.Unix(), 10)
	for _, g := range []*lab.Gateway{a, b} {
		sa := childSAs(t, g.URI)[0]
		child := fmt.Sprintf(`{gateway=%q,connection="primary",child="net",uniqueid=%q`, g.Name, sa.Get("uniqueid"))
		want["strongswan_child_sa_info"+child+`,state="INSTALLED",mode="TUNNEL",protocol="ESP"}`] = "1"
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	// Times are Unix timestamps: the past for the start of the daemon, the
	// IKE_SA and the CHILD_SA, the future for rekeying and expiry.
	times := 0
	for k, v := range m {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Errorf("%s: %q is not a number", k, v)
		}
		if strings.Contains(k, `gateway="gone"`) && !strings.HasPrefix(k, "strongswan_up{") &&
			!strings.HasPrefix(k, "strongswan_scrape_") {
			t.Errorf("an unreachable gateway has more than strongswan_up and the scrape's: %s", k)
		}
		switch {
		case strings.HasPrefix(k, "strongswan_start_time_seconds{"), strings.Contains(k, "established_timestamp"), strings.Contains(k, "installed_timestamp"):
			// stats and list-sas count whole seconds since: one second either way
			if n > float64(after+1) || n < float64(before-600) {
				t.Errorf("%s = %s, want a moment before %d", k, v, before)
			}
			times++
		case strings.Contains(k, "rekey_timestamp"), strings.Contains(k, "expire_timestamp"):
			if n <= float64(after) {
				t.Errorf("%s = %s, want a time after %d", k, v, after)
			}
			times++
		}
	}
	// a, b and c's start; a's and b's IKE_SA established and rekeyed and
	// their CHILD_SA installed, rekeyed and expiring
	if times != 3+2*5 {
		t.Errorf("%d timestamps, want 13", times)
	}

	// A rekeyed CHILD_SA starts counting at 0; the totals go on from 3.
	call(t, ctx, a.URI, "rekey", vici.NewMessage().Set("child", "net"))
	old := first[0].Get("uniqueid")
	waitChildSAs(t, ctx, a.URI, "the rekeying of a's CHILD_SA", oneInstalled("packets-out", 0, old))
	sendPackets(t, ctx, a, 2)
	second := waitChildSAs(t, ctx, a.URI, "a counting 2 packets out", oneInstalled("packets-out", 2, old))
	waitChildSAs(t, ctx, b.URI, "b counting 2 packets in", oneInstalled("packets-in", 2, old))
	m = write()
	if got := m[`strongswan_child_packets_total{gateway="a",connection="primary",child="net",direction="out"}`]; got != "2" {
		t.Errorf("without --state the totals are those of the CHILD_SAs now: %s, want 2", got)
	}
	bytesOut := func() string {
		o, _ := strconv.Atoi(first[0].Get("bytes-out"))
		n, _ := strconv.Atoi(second[0].Get("bytes-out"))
		return strconv.Itoa(o + n)
	}()
	for i := 0; i < 2; i++ { // the second run carries the same totals on
		m = write("--state", state)
		for k, v := range map[string]string{
			`strongswan_child_packets_total{gateway="a",connection="primary",child="net",direction="out"}`: "5",
			`strongswan_child_packets_total{gateway="b",connection="primary",child="net",direction="in"}`:  "5",
			`strongswan_child_bytes_total{gateway="a",connection="primary",child="net",direction="out"}`:   bytesOut,
		} {
			if m[k] != v {
				t.Errorf("after the rekey, run %d: %s = %q, want %q", i+1, k, m[k], v)
			}
		}
	}

	// a's daemon restarts: its CHILD_SA is gone, the total stays.
	if err := a.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := a.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	m = write("--state", state)
	if got := m[`strongswan_child_packets_total{gateway="a",connection="primary",child="net",direction="out"}`]; got != "5" ||
		m[`strongswan_child_installed{gateway="a",connection="primary",child="net"}`] != "0" {
		t.Errorf("after a's restart: packets out %q, want 5, with nothing installed", got)
	}

	// A state file that is not one is refused; it and the metrics stay.
	prom, _ := os.ReadFile(out)
	for _, bad := range []string{`{"version": 1, "gateways": {"a": {"children": {"primary": {"net": {"retired": [1, 2], "live": {}}}}}}}`, "[1, 2", ""} {
		os.WriteFile(state, []byte(bad), 0o600)
		o, err := exec.CommandContext(ctx, bin, "--allow-write", "metrics.star", "--inventory", inv, "--out", out, "--state", state).CombinedOutput()
		if err == nil || !strings.Contains(string(o), state+": ") || !strings.Contains(string(o), "move it away") {
			t.Errorf("state %q: %v\n%s", bad, err, o)
		}
		if now, _ := os.ReadFile(state); string(now) != bad {
			t.Errorf("a bad state file was replaced: %q", now)
		}
		if now, _ := os.ReadFile(out); string(now) != string(prom) {
			t.Errorf("metrics were written with a bad state file")
		}
	}
}

// uname is `uname flag` on this machine, whose kernel the lab's daemons share.
func uname(t *testing.T, flag string) string {
	t.Helper()
	out, err := exec.Command("uname", flag).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
