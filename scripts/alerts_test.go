package scripts_test

import (
	"encoding/json"
	"fmt"
	"io"
	nethttp "net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// runLine is one JSON line of the alert receiver's log.
type runLine struct {
	Event       string            `json:"event"`
	Alert       string            `json:"alert"`
	Fingerprint string            `json:"fingerprint"`
	URI         string            `json:"uri"`
	Argv        []string          `json:"argv"`
	Code        *int              `json:"code"`
	Stdout      string            `json:"stdout"`
	Error       string            `json:"error"`
	Labels      map[string]string `json:"labels"`
}

// nextRun reads the receiver's next log line.
func nextRun(t *testing.T, lr *lineReader, what string) runLine {
	t.Helper()
	raw := lr.next(t, what)
	var l runLine
	if err := json.Unmarshal([]byte(raw), &l); err != nil {
		t.Fatalf("%s: not a JSON line: %q", what, raw)
	}
	return l
}

// alertJSON is one alert of Alertmanager's webhook (version 4).
func alertJSON(status, fingerprint, startsAt string, labels map[string]string) map[string]any {
	return map[string]any{"status": status, "labels": labels, "annotations": map[string]string{"summary": "test"},
		"startsAt": startsAt, "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph", "fingerprint": fingerprint}
}

// post sends a webhook with alerts to url and returns the status and body.
func post(t *testing.T, url string, alerts ...map[string]any) (int, string) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "vicish",
		"groupLabels": map[string]string{}, "commonLabels": map[string]string{}, "externalURL": "http://alertmanager", "alerts": alerts})
	if err != nil {
		t.Fatal(err)
	}
	return postRaw(t, url, string(b))
}

func postRaw(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := nethttp.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// receiverDir is a test's directory for a receiver's runbooks and
// files, and write, which puts a file there and returns its path.
func receiverDir(t *testing.T) (string, func(name, text string) string) {
	dir := t.TempDir()
	return dir, func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// TestAlertReceiver runs alert-receiver.star as a vicish process and posts
// Alertmanager's webhook to it: firing alerts run their runbook once
// (again only after they resolved and fire anew), one at a time per
// gateway while another gateway's runs alongside, labels fill in the
// arguments and the gateway's URI; what cannot run is logged; bad input
// is refused without stopping it.
func TestAlertReceiver(t *testing.T) {
	ctx := testContext(t)
	bin := buildVicish(t)
	dir, write := receiverDir(t)
	release := filepath.Join(dir, "release")
	// slow.star runs until the test creates the release file.
	write("slow.star", `
while file.read(sys.argv[2], default = None) == None:
    time.sleep(0.02)
print("slow", sys.argv[1], "done")
`)
	write("quick.star", `print("quick", sys.argv[1:])`)
	runbooks := write("runbooks.json", fmt.Sprintf(`{"runbooks": [
  {"alert": "Slow", "script": "slow.star", "args": ["{instance}", %q]},
  {"alert": "Quick", "match": {"tier": "edge"}, "script": "quick.star", "args": ["{instance}"], "uri": "unix:///run/{gateway}.vici", "flags": ["--deadline", "5"]},
  {"alert": "Quick", "script": "quick.star", "args": ["{nosuchlabel}"]}
]}`, release))
	inv := write("fleet", "gw1 unix:///run/gw1.vici\ngw2 unix:///run/gw2.vici\n")

	// Refused at the start, with the reason: no --allow-listen, no
	// --allow-exec, a runbooks file with a typo or a missing script.
	bad := write("bad.json", `{"runbooks": [{"alert": "Slow", "script": "slow.star", "arg": []}]}`)
	missing := write("missing.json", `{"runbooks": [{"alert": "Slow", "script": "nope.star"}]}`)
	notJSON := write("notjson.json", `runbooks: []`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--allow-exec", "alert-receiver.star", "--listen", "127.0.0.1:0", "--runbooks", runbooks}, "needs --allow-listen"},
		{[]string{"--allow-listen", "alert-receiver.star", "--listen", "127.0.0.1:0", "--runbooks", runbooks}, "--allow-exec"},
		{[]string{"--allow-listen", "--allow-exec", "alert-receiver.star", "--listen", "127.0.0.1:0"}, "--runbooks is missing"},
		{[]string{"--allow-listen", "--allow-exec", "alert-receiver.star", "--listen", "127.0.0.1:0", "--runbooks", bad}, `runbooks[0]: unknown key "arg"`},
		{[]string{"--allow-listen", "--allow-exec", "alert-receiver.star", "--listen", "127.0.0.1:0", "--runbooks", missing}, "nope.star"},
		{[]string{"--allow-listen", "--allow-exec", "alert-receiver.star", "--listen", "127.0.0.1:0", "--runbooks", notJSON}, `want {"runbooks": [`},
		{[]string{"--allow-listen", "--allow-exec", "alert-receiver.star", "--listen", "127.0.0.1:0", "--runbooks", runbooks, "--vicish", "/nonexistent/vicish"}, "/nonexistent/vicish"},
	} {
		args := tc.args
		if !strings.Contains(strings.Join(args, " "), "--vicish") {
			args = append(args, "--vicish", bin)
		}
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("vicish %q: %v, want an error saying %q\n%s", tc.args, err, tc.want, out)
		}
	}

	p := startVicish(t, ctx, bin, nil, "--allow-listen", "--allow-exec", "alert-receiver.star", "--listen", "127.0.0.1:0",
		"--runbooks", runbooks, "--inventory", inv, "--vicish", bin)
	var url string
	for url == "" {
		if m := regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(p.errs.next(t, "the receiver's start")); m != nil {
			url = "http://" + m[1] + "/alerts"
		}
	}
	gw1 := map[string]string{"alertname": "Slow", "gateway": "gw1", "instance": "i1"}
	gw1b := map[string]string{"alertname": "Slow", "gateway": "gw1", "instance": "i2"}
	gw2 := map[string]string{"alertname": "Quick", "gateway": "gw2", "tier": "edge", "instance": "i3"}
	const t0, t1 = "2026-12-06T10:00:00Z", "2026-12-06T11:00:00Z"
	if status, body := post(t, url, alertJSON("firing", "f1", t0, gw1), alertJSON("firing", "f2", t0, gw1b), alertJSON("firing", "f3", t0, gw2)); status != 200 || !strings.Contains(body, `"runbooks_started_or_queued":3`) {
		t.Fatalf("first webhook: %d %q", status, body)
	}
	// f1 runs; f2 waits behind it (same gateway); f3 runs alongside.
	l := nextRun(t, p.out, "f1's start")
	if l.Event != "start" || l.Fingerprint != "f1" || strings.Join(l.Argv, " ") != bin+" --uri unix:///run/gw1.vici "+filepath.Join(dir, "slow.star")+" i1 "+release {
		t.Errorf("f1's start: %+v", l)
	}
	if l = nextRun(t, p.out, "f2 queued"); l.Event != "queued" || l.Fingerprint != "f2" {
		t.Errorf("want f2 queued behind f1: %+v", l)
	}
	if l = nextRun(t, p.out, "f3's start"); l.Event != "start" || l.Fingerprint != "f3" ||
		strings.Join(l.Argv, " ") != bin+" --deadline 5 --uri unix:///run/gw2.vici "+filepath.Join(dir, "quick.star")+" i3" {
		t.Errorf("f3's start: %+v", l)
	}
	if l = nextRun(t, p.out, "f3 done"); l.Event != "done" || l.Fingerprint != "f3" || l.Code == nil || *l.Code != 0 || l.Stdout != "quick [\"i3\"]\n" {
		t.Errorf("f3 done while f1 runs: %+v", l)
	}
	// Alertmanager repeats the group: nothing runs again.
	if status, body := post(t, url, alertJSON("firing", "f1", t0, gw1), alertJSON("firing", "f3", t0, gw2)); status != 200 || !strings.Contains(body, `"runbooks_started_or_queued":0`) {
		t.Errorf("repeated webhook: %d %q", status, body)
	}
	write("release", "go")
	if l = nextRun(t, p.out, "f1 done"); l.Event != "done" || l.Fingerprint != "f1" || *l.Code != 0 || l.Stdout != "slow i1 done\n" {
		t.Errorf("f1 done: %+v", l)
	}
	if l = nextRun(t, p.out, "f2's start"); l.Event != "start" || l.Fingerprint != "f2" {
		t.Errorf("f2 starts once f1 is done: %+v", l)
	}
	if l = nextRun(t, p.out, "f2 done"); l.Event != "done" || l.Fingerprint != "f2" {
		t.Errorf("f2 done: %+v", l)
	}
	// f3 resolves and fires again: it runs again.
	post(t, url, alertJSON("resolved", "f3", t0, gw2))
	post(t, url, alertJSON("firing", "f3", t1, gw2))
	if l = nextRun(t, p.out, "f3 again"); l.Event != "start" || l.Fingerprint != "f3" {
		t.Errorf("f3 firing anew: %+v", l)
	}
	nextRun(t, p.out, "f3 done again")

	// What cannot run is logged and the receiver goes on.
	post(t, url, alertJSON("firing", "f4", t0, map[string]string{"alertname": "Unknown", "gateway": "gw1"}))
	if l = nextRun(t, p.out, "unmapped"); l.Event != "unmapped" || l.Alert != "Unknown" || l.Labels["gateway"] != "gw1" {
		t.Errorf("an alert without runbook: %+v", l)
	}
	post(t, url, alertJSON("firing", "f5", t0, map[string]string{"alertname": "Quick", "gateway": "gw1"}))
	if l = nextRun(t, p.out, "unfilled"); l.Event != "error" || !strings.Contains(l.Error, `no label "nosuchlabel"`) {
		t.Errorf("a runbook whose label is missing: %+v", l)
	}
	post(t, url, alertJSON("firing", "f6", t0, map[string]string{"alertname": "Slow", "gateway": "gw9", "instance": "x"}))
	if l = nextRun(t, p.out, "unknown gateway"); l.Event != "error" || !strings.Contains(l.Error, `"gw9" is no gateway of the inventory and no URI`) {
		t.Errorf("an alert for a gateway not in the inventory: %+v", l)
	}
	// Lenient: no version, the status given for the whole group, labels
	// that are not strings, unknown keys, alerts that are not objects.
	status, body := postRaw(t, url, `{"status": "firing", "extra": 1, "alerts": [7, {"labels": {"alertname": "Quick", "gateway": "gw2", "tier": "edge", "instance": 42}, "fingerprint": "f7"}]}`)
	if status != 200 || !strings.Contains(body, `"runbooks_started_or_queued":1`) {
		t.Errorf("a lenient webhook: %d %q", status, body)
	}
	if l = nextRun(t, p.out, "f7's start"); l.Event != "start" || l.Argv[len(l.Argv)-1] != "42" {
		t.Errorf("f7: %+v", l)
	}
	nextRun(t, p.out, "f7 done")
	if status, _ := postRaw(t, url, `[{"status": "firing"}]`); status != 400 {
		t.Errorf("not a webhook: %d, want 400", status)
	}
	if l = nextRun(t, p.out, "the refusal"); l.Event != "error" {
		t.Errorf("not a webhook: %+v", l)
	}
	if resp, err := nethttp.Get(url); err != nil || resp.StatusCode != 405 {
		t.Errorf("GET /alerts: %v %v, want 405", resp, err)
	}
	if resp, err := nethttp.Get(strings.TrimSuffix(url, "alerts") + "metrics"); err != nil || resp.StatusCode != 404 {
		t.Errorf("GET /metrics: %v %v, want 404", resp, err)
	}
	if code := p.stop(t, syscall.SIGTERM); code != 143 {
		t.Errorf("after SIGTERM: exit %d, want 143", code)
	}
}
