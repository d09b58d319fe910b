package scripts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	nethttp "net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
)

// freePort returns a loopback port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// daemonProc starts a program of the monitoring stack (Prometheus,
// Alertmanager) with its output in a file shown when the test fails, and
// stops it at the end of the test.
func daemonProc(t *testing.T, ctx context.Context, name, bin string, args ...string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s's log:\n%s", name, tailText(string(b), 40))
		}
	})
}

// tailText is the last n lines of s.
func tailText(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// promQuery asks Prometheus at base for an instant query and returns how
// many series it gave.
func promQuery(t *testing.T, base, query string) int {
	t.Helper()
	resp, err := nethttp.Get(base + "/api/v1/query?query=" + neturl.QueryEscape(query))
	if err != nil {
		return 0 // not up yet
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil {
		return 0
	}
	return len(r.Data.Result)
}

// TestAlertmanagerFailover is the whole chain with the real parts, on
// loopback: gateway a's primary peer (b) is killed; a's DPD deletes the
// IKE_SA; the exporter shows the tunnel down; Prometheus, scraping it
// with the shipped rules, fires StrongswanTunnelDown; Alertmanager posts
// it to the exporter's /alerts; the exporter runs failover.star on a as
// the runbooks file says; the backup tunnel comes up and the exporter
// shows it. The rules' "for" durations are cut to seconds to keep the
// test short; their expressions are the shipped ones.
func TestAlertmanagerFailover(t *testing.T) {
	var prom, am string
	for _, p := range []struct {
		path *string
		name string
	}{{&prom, "prometheus"}, {&am, "prometheus-alertmanager"}} {
		var err error
		if *p.path, err = exec.LookPath(p.name); err != nil {
			labtest.SkipOffCI(t, p.name+" is needed for the end-to-end alert test (apt install prometheus prometheus-alertmanager): "+err.Error())
		}
	}
	l := labtest.Start(t, lab.Failover)
	ctx := testContext(t)
	a := l.Gateway("a")
	// a's primary with dead peer detection, so that a notices b is gone.
	side := func(id string) *vici.Message { return vici.NewMessage().Set("auth", "psk").Set("id", id) }
	primary := vici.NewMessage().Set("version", "2").SetList("local_addrs", "192.0.2.1").SetList("remote_addrs", "192.0.2.2").
		Set("unique", "never").Set("dpd_delay", "1s").SetSection("local", side("a")).SetSection("remote", side("b")).
		SetSection("children", vici.NewMessage().SetSection("net", vici.NewMessage().SetList("local_ts", lab.NetA).SetList("remote_ts", lab.NetB)))
	call(t, ctx, a.URI, "load-conn", vici.NewMessage().SetSection("primary", primary))
	initiate(t, ctx, a.URI, "primary", "net")

	bin := buildVicish(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The example runbooks file, its scripts where this checkout has them.
	scripts, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	failover := filepath.Join(scripts, "failover.star")
	example, err := os.ReadFile(filepath.Join("..", "examples", "prometheus", "runbooks.json"))
	if err != nil {
		t.Fatal(err)
	}
	runbooks := write("runbooks.json", strings.ReplaceAll(string(example), "/usr/share/vicish/", scripts+"/"))
	inv := inventory(t, l)
	e := startExporter(t, ctx, bin, nil, []string{"--allow-listen", "--allow-exec"}, "--inventory", inv, "--runbooks", runbooks, "--vicish", bin)
	installed := `strongswan_child_installed{gateway="a",connection="%s",child="net"}`
	e.await(t, ctx, "primary up", func(m map[string]string) bool { return m[fmt.Sprintf(installed, "primary")] == "1" })

	shipped, err := os.ReadFile(filepath.Join("..", "examples", "prometheus", "strongswan.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rules := write("strongswan.rules.yml", regexp.MustCompile(`(?m)^(\s+for:) \S+$`).ReplaceAllString(string(shipped), "$1 2s"))
	amPort, promPort := freePort(t), freePort(t)
	amConf := write("alertmanager.yml", fmt.Sprintf(`route:
  receiver: vicish
  group_by: [alertname, gateway, connection, child]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: vicish
    webhook_configs:
      - url: %s/alerts
`, e.url))
	promConf := write("prometheus.yml", fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:%d"]
scrape_configs:
  - job_name: strongswan
    static_configs:
      - targets: [%q]
`, rules, amPort, strings.TrimPrefix(e.url, "http://")))
	daemonProc(t, ctx, "alertmanager", am, "--config.file="+amConf, "--storage.path="+filepath.Join(dir, "am"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", amPort), "--cluster.listen-address=")
	daemonProc(t, ctx, "prometheus", prom, "--config.file="+promConf, "--storage.tsdb.path="+filepath.Join(dir, "prom"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort))
	promURL := fmt.Sprintf("http://127.0.0.1:%d", promPort)
	// The rule needs the tunnel's history: wait until Prometheus has it.
	for promQuery(t, promURL, fmt.Sprintf(installed, "primary")+" == 1") == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("Prometheus never scraped the primary tunnel up")
		case <-time.After(200 * time.Millisecond):
		}
	}

	if err := l.Gateway("b").Kill(); err != nil {
		t.Fatal(err)
	}
	var start runLine
	for start.Event != "start" {
		start = nextRun(t, e.out, "the runbook's start (after DPD, the rule and Alertmanager)")
		t.Logf("receiver: %+v", start)
	}
	if start.Alert != "StrongswanTunnelDown" || start.URI != a.URI ||
		strings.Join(start.Argv, " ") != bin+" --uri "+a.URI+" "+failover+" primary backup" {
		t.Errorf("the runbook started: %+v", start)
	}
	done := nextRun(t, e.out, "the runbook's end")
	for done.Event != "done" {
		done = nextRun(t, e.out, "the runbook's end")
	}
	if done.Fingerprint != start.Fingerprint || done.Code == nil || *done.Code != 0 ||
		!strings.Contains(done.Stdout, "failover done: net now runs over backup") {
		t.Errorf("the runbook's end: %+v", done)
	}
	m := e.await(t, ctx, "the backup tunnel up", func(m map[string]string) bool {
		return m[fmt.Sprintf(installed, "backup")] == "1"
	})
	if m[fmt.Sprintf(installed, "primary")] != "0" || m[`strongswan_connection_established{gateway="a",connection="backup"}`] != "1" {
		t.Errorf("after the failover: primary %q, backup established %q", m[fmt.Sprintf(installed, "primary")],
			m[`strongswan_connection_established{gateway="a",connection="backup"}`])
	}
	requireInstalled(t, "a", listSAs(t, ctx, a.URI), "backup", "net")
}
