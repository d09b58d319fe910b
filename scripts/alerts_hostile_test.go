package scripts_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// TestAlertReceiverHostile posts what a hostile or broken client of the
// receiver may send: a fingerprint that is no string, a gateway label
// that is a remote URI, and a flood of distinct firing alerts. The
// receiver goes on, connects runbooks only where its inventory or its
// runbooks file say, and runs and queues a bounded number of runbooks.
func TestAlertReceiverHostile(t *testing.T) {
	ctx := testContext(t)
	bin := buildVicish(t)
	dir, write := receiverDir(t)
	release := filepath.Join(dir, "release")
	write("wait.star", `
while file.read(sys.argv[2], default = None) == None:
    time.sleep(0.2)
`)
	runbooks := write("runbooks.json", fmt.Sprintf(`{"runbooks": [
  {"alert": "Wait", "script": "wait.star", "args": ["{instance}", %q]}
]}`, release))
	inv := write("fleet", "gw1 unix:///run/gw1.vici\n")
	p := startVicish(t, ctx, bin, nil, "--allow-listen", "--allow-exec", "alert-receiver.star", "--listen", "127.0.0.1:0",
		"--runbooks", runbooks, "--inventory", inv, "--vicish", bin)
	defer write("release", "go")
	var url string
	for url == "" {
		if m := regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(p.errs.next(t, "the receiver's start")); m != nil {
			url = "http://" + m[1] + "/alerts"
		}
	}
	const t0 = "2026-12-06T10:00:00Z"

	// A fingerprint that is a JSON list, resolved while others are
	// remembered.
	post(t, url, alertJSON("firing", "f0", t0, map[string]string{"alertname": "Unknown"}))
	nextRun(t, p.out, "f0 unmapped")
	if status, body := postRaw(t, url, `{"alerts": [{"status": "resolved", "fingerprint": [1], "labels": {"alertname": "Wait"}}]}`); status != 200 {
		t.Fatalf("a fingerprint that is a list: %d %q", status, body)
	}

	// A gateway label naming a remote URI: only the inventory or the
	// runbooks file says where a runbook connects.
	post(t, url, alertJSON("firing", "f1", t0, map[string]string{"alertname": "Wait", "gateway": "tcp://203.0.113.1:4502", "instance": "i"}))
	if l := nextRun(t, p.out, "the remote URI refused"); l.Event != "error" || !strings.Contains(l.Error, `"tcp://203.0.113.1:4502" is no gateway of the inventory`) {
		t.Errorf("an alert whose label is a remote URI: %+v", l)
	}

	// 20 alerts for 20 local sockets: 16 runbooks run at once, 4 wait.
	var alerts []map[string]any
	for i := range 20 {
		alerts = append(alerts, alertJSON("firing", fmt.Sprintf("g%d", i), t0, map[string]string{"alertname": "Wait", "gateway": fmt.Sprintf("/run/g%d.vici", i), "instance": "i"}))
	}
	if status, body := post(t, url, alerts...); status != 200 || !strings.Contains(body, `"runbooks_started_or_queued":20`) {
		t.Errorf("20 alerts: %d %q", status, body)
	}
	count := func(n int, what string) map[string]int {
		t.Helper()
		events := map[string]int{}
		for range n {
			l := nextRun(t, p.out, what)
			events[l.Event]++
			if l.Event == "error" && !strings.Contains(l.Error, "256 runbooks wait already") {
				t.Errorf("%s: %+v", what, l)
			}
		}
		return events
	}
	if e := count(20, "20 alerts' lines"); e["start"] != 16 || e["queued"] != 4 {
		t.Errorf("20 alerts for 20 gateways: %v, want 16 started and 4 queued", e)
	}
	// 260 more for gw1: 252 fit the queue, 8 are refused (and run when
	// Alertmanager sends them again).
	alerts = nil
	for i := range 260 {
		alerts = append(alerts, alertJSON("firing", fmt.Sprintf("h%d", i), t0, map[string]string{"alertname": "Wait", "gateway": "gw1", "instance": "i"}))
	}
	if status, body := post(t, url, alerts...); status != 200 || !strings.Contains(body, `"runbooks_started_or_queued":252`) {
		t.Errorf("260 alerts: %d %q", status, body)
	}
	if e := count(260, "260 alerts' lines"); e["queued"] != 252 || e["error"] != 8 {
		t.Errorf("260 alerts for one gateway: %v, want 252 queued, 8 refused", e)
	}
	if code := p.stop(t, syscall.SIGTERM); code != 143 {
		t.Errorf("after SIGTERM: exit %d, want 143", code)
	}
}
