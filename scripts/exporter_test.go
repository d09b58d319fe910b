package scripts_test

import (
	"context"
	"fmt"
	"io"
	nethttp "net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/scripts/internal/measure"
	"github.com/vicish/vicish/vici"
)

// exporterProc is a running exporter.star and a client that scrapes it
// over one kept-alive connection.
type exporterProc struct {
	*process
	url    string // http://ADDR
	client *nethttp.Client
}

// startExporter runs exporter.star on a free loopback port with args and
// waits until it serves.
func startExporter(t *testing.T, ctx context.Context, bin string, env []string, flags []string, args ...string) *exporterProc {
	t.Helper()
	argv := append(append(flags, "exporter.star", "--listen", "127.0.0.1:0"), args...)
	p := startVicish(t, ctx, bin, env, argv...)
	addr := regexp.MustCompile(`serving /metrics addr=(\S+)`)
	for {
		line := p.errs.next(t, "the exporter's serving line")
		if m := addr.FindStringSubmatch(line); m != nil {
			return &exporterProc{process: p, url: "http://" + m[1], client: &nethttp.Client{Transport: &nethttp.Transport{MaxIdleConnsPerHost: 1}}}
		}
	}
}

// get fetches path and returns the status, Content-Type and body.
func (e *exporterProc) get(t *testing.T, method, path string) (int, string, string) {
	t.Helper()
	req, err := nethttp.NewRequest(method, e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// scrape fetches /metrics, checks it with promtool and returns its samples.
func (e *exporterProc) scrape(t *testing.T) map[string]string {
	t.Helper()
	status, ctype, body := e.get(t, "GET", "/metrics")
	if status != 200 || ctype != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("GET /metrics: %d %q\n%s", status, ctype, body)
	}
	return parseExposition(t, body)
}

// await scrapes until ok accepts the samples; the limit is the test's
// context.
func (e *exporterProc) await(t *testing.T, ctx context.Context, what string, ok func(map[string]string) bool) map[string]string {
	t.Helper()
	for {
		m := e.scrape(t)
		if ok(m) {
			return m
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never showed in the exporter's metrics", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// socketsAndChildren is what process pid holds that a scrape could
// open anew: its sockets and its child processes (ssh clients).
func socketsAndChildren(t *testing.T, pid int) ([]string, []int) {
	t.Helper()
	socks, err := measure.Sockets(pid)
	if err != nil {
		t.Fatal(err)
	}
	kids, err := measure.Children(pid)
	if err != nil {
		t.Fatal(err)
	}
	return socks, kids
}

// TestExporter runs exporter.star as a vicish process over the Failover
// lab, b reached over ssh:// through its sshd, plus a gateway that does
// not exist: every scrape passes promtool and names every gateway of the
// inventory; five scrapes after the first open no socket and start no ssh;
// the event counters follow the tunnel; the traffic totals survive a
// rekey and a restart of b's daemon; a killed gateway is up 0 with its
// reason while the others stay 1, and is 1 again once it is back; a new
// exporter with the same --state goes on from the totals.
func TestExporter(t *testing.T) {
	l := labtest.Start(t, lab.Failover)
	ctx := testContext(t)
	a, b, c := l.Gateway("a"), l.Gateway("b"), l.Gateway("c")
	sb := labtest.SSHD(t, b)
	bin := buildVicish(t)
	known := filepath.Join(t.TempDir(), "known_hosts")
	kb, _ := os.ReadFile(sb.KnownHostsFile)
	if err := os.WriteFile(known, kb, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"VICI_SSH_COMMAND=" + sshClient(t, known, sb)}
	dir := t.TempDir()
	inv := filepath.Join(dir, "fleet")
	text := fmt.Sprintf("a %s\nb %s\nc %s\ngone unix://%s/gone.vici\n", a.URI, sb.URI(b.Socket), c.URI, dir)
	if err := os.WriteFile(inv, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}

	// Listening, the ssh:// URIs of the inventory and a state file are
	// privileges, refused at the start (not at the first scrape).
	for _, tc := range []struct {
		flags, extra []string
		want         string
	}{
		{[]string{"--allow-net"}, nil, "http.listen accepts connections, which needs --allow-listen"},
		{[]string{"--allow-listen"}, nil, "is a remote transport, which needs --allow-net"},
		{[]string{"--allow-listen", "--allow-net"}, []string{"--state", filepath.Join(dir, "refused.state")}, "file.write replaces files, which needs --allow-write"},
	} {
		args := append(append(tc.flags, "exporter.star", "--listen", "127.0.0.1:0", "--inventory", inv), tc.extra...)
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("vicish %q: %v, want an error saying %q\n%s", args, err, tc.want, out)
		}
	}
	state := filepath.Join(dir, "exporter.state")
	e := startExporter(t, ctx, bin, env, []string{"--allow-listen", "--allow-net", "--allow-write"}, "--inventory", inv, "--state", state)

	m := e.scrape(t)
	for _, gw := range []string{"a", "b", "c", "gone"} {
		if _, ok := m[fmt.Sprintf(`strongswan_up{gateway=%q}`, gw)]; !ok {
			t.Errorf("no strongswan_up for gateway %s", gw)
		}
	}
	for k, v := range map[string]string{
		`strongswan_up{gateway="a"}`:                                                                     "1",
		`strongswan_up{gateway="b"}`:                                                                     "1",
		`strongswan_up{gateway="gone"}`:                                                                  "0",
		`strongswan_scrape_error{gateway="gone",reason="unreachable"}`:                                   "1",
		`strongswan_connection_configured{gateway="b",connection="primary"}`:                             "1",
		`strongswan_ike_updown_events_total{gateway="a",connection="primary",event="up"}`:                "0",
		`strongswan_child_updown_events_total{gateway="c",connection="backup",child="net",event="down"}`: "0",
		`strongswan_scrape_errors_total{gateway="gone",reason="unreachable"}`:                            "1",
	} {
		if m[k] != v {
			t.Errorf("first scrape: %s = %q, want %q", k, m[k], v)
		}
	}
	for line := ""; !strings.Contains(line, "scrape failed gateway=gone reason=unreachable command=version error="); {
		line = e.errs.next(t, "the log line of gone's failure, with the error")
	}

	// Five scrapes after the first: no new socket, no new ssh process.
	pid := e.cmd.Process.Pid
	socks, kids := socketsAndChildren(t, pid)
	if len(kids) == 0 {
		t.Fatalf("no ssh process for b")
	}
	t.Logf("after the first scrape: sockets %v, child processes %v", socks, kids)
	for i := 0; i < 5; i++ {
		if m := e.scrape(t); m[`strongswan_up{gateway="b"}`] != "1" {
			t.Fatalf("scrape %d: b is not up", i+2)
		}
	}
	socksNow, kidsNow := socketsAndChildren(t, pid)
	if !slices.Equal(socksNow, socks) {
		t.Errorf("sockets changed over five scrapes: %v, then %v", socks, socksNow)
	}
	if !slices.Equal(kidsNow, kids) {
		t.Errorf("child processes changed over five scrapes: %v, then %v", kids, kidsNow)
	}

	// The event stream: the tunnel comes up on a and b.
	initiate(t, ctx, a.URI, "primary", "net")
	e.await(t, ctx, "primary's ike-updown and child-updown up on a and b", func(m map[string]string) bool {
		return m[`strongswan_ike_updown_events_total{gateway="a",connection="primary",event="up"}`] == "1" &&
			m[`strongswan_ike_updown_events_total{gateway="b",connection="primary",event="up"}`] == "1" &&
			m[`strongswan_child_updown_events_total{gateway="a",connection="primary",child="net",event="up"}`] == "1" &&
			m[`strongswan_child_updown_events_total{gateway="b",connection="primary",child="net",event="up"}`] == "1"
	})

	// Traffic totals go on across a rekey of the CHILD_SA.
	const packetsIn = `strongswan_child_packets_total{gateway="b",connection="primary",child="net",direction="in"}`
	sendPackets(t, ctx, a, 3)
	first := waitChildSAs(t, ctx, b.URI, "b counting 3 packets in", oneInstalled("packets-in", 3, ""))
	e.await(t, ctx, "3 packets into b", func(m map[string]string) bool { return m[packetsIn] == "3" })
	call(t, ctx, a.URI, "rekey", vici.NewMessage().Set("child", "net"))
	waitChildSAs(t, ctx, b.URI, "the rekeying of b's CHILD_SA", oneInstalled("packets-in", 0, first[0].Get("uniqueid")))
	sendPackets(t, ctx, a, 2)
	waitChildSAs(t, ctx, b.URI, "b counting 2 packets in", oneInstalled("packets-in", 2, first[0].Get("uniqueid")))
	e.await(t, ctx, "5 packets into b across the rekey", func(m map[string]string) bool { return m[packetsIn] == "5" })

	// A killed gateway is down with its reason; the others stay up.
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	m = e.await(t, ctx, "c down", func(m map[string]string) bool { return m[`strongswan_up{gateway="c"}`] == "0" })
	if m[`strongswan_up{gateway="a"}`] != "1" || m[`strongswan_up{gateway="b"}`] != "1" ||
		m[`strongswan_scrape_error{gateway="c",reason="unreachable"}`] != "1" {
		t.Errorf("with c killed: a %q, b %q, c's reason: %v", m[`strongswan_up{gateway="a"}`], m[`strongswan_up{gateway="b"}`],
			m[`strongswan_scrape_error{gateway="c",reason="unreachable"}`])
	}
	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	e.await(t, ctx, "c up again", func(m map[string]string) bool { return m[`strongswan_up{gateway="c"}`] == "1" })

	// b's daemon restarts (its session reconnects over ssh): the tunnel
	// is gone there, its total stays.
	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := b.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	m = e.await(t, ctx, "b up again after its restart", func(m map[string]string) bool {
		return m[`strongswan_up{gateway="b"}`] == "1" && m[`strongswan_ike_sas{gateway="b"}`] == "0"
	})
	if m[packetsIn] != "5" {
		t.Errorf("after b's restart: %s = %q, want 5", packetsIn, m[packetsIn])
	}

	// Other paths and methods.
	if status, _, _ := e.get(t, "GET", "/nope"); status != 404 {
		t.Errorf("GET /nope: %d, want 404", status)
	}
	if status, _, _ := e.get(t, "POST", "/metrics"); status != 405 {
		t.Errorf("POST /metrics: %d, want 405", status)
	}
	if status, _, body := e.get(t, "GET", "/"); status != 200 || !strings.Contains(body, "4 strongSwan gateways") {
		t.Errorf("GET /: %d %q", status, body)
	}
	if code := e.stop(t, syscall.SIGTERM); code != 143 {
		t.Errorf("after SIGTERM: exit %d, want 143", code)
	}

	// A new exporter with the same --state goes on from the totals.
	e = startExporter(t, ctx, bin, env, []string{"--allow-listen", "--allow-net", "--allow-write"}, "--inventory", inv, "--state", state)
	if m := e.scrape(t); m[packetsIn] != "5" {
		t.Errorf("a new exporter with --state: %s = %q, want 5", packetsIn, m[packetsIn])
	}
	e.stop(t, syscall.SIGTERM)
}
