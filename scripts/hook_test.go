package scripts_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
)

// hookLine is one JSON line of hooks/ike-updown.star or (with Gateway)
// hooks/fleet-updown.star.
type hookLine struct {
	Gateway    string `json:"gateway"`
	Time       string `json:"time"`
	Event      string `json:"event"`
	Connection string `json:"connection"`
	State      string `json:"state"`
	UniqueID   string `json:"uniqueid"`
	LocalID    string `json:"local_id"`
	LocalHost  string `json:"local_host"`
	RemoteID   string `json:"remote_id"`
	RemoteHost string `json:"remote_host"`
	URI        string `json:"uri"`
	Type       string `json:"type"`
}

// TestIkeUpdownHook runs the hook as a vicish process: one JSON line per up
// and per down for n initiates and terminates, one "reconnected" line after
// the daemon is killed and restarted, lines again after that, and a clean
// stop on SIGTERM. On strongSwan 6.0.3 and newer it also writes a line per
// alert: a real retransmit-send alert while initiating to a peer that does
// not answer; on older daemons the startup note says alerts need 6.0.3.
func TestIkeUpdownHook(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	ctx := testContext(t)
	a := l.Gateway("a")
	bin := buildVicish(t)

	p := startVicish(t, ctx, bin, nil, "--uri", a.URI, "hooks/ike-updown.star")
	out, errs := p.out, p.errs
	alerts := labtest.AtLeast(t, a, "6.0.3")
	note := errs.next(t, "the startup note")
	if !strings.Contains(note, "ike-updown hook listening") || !strings.Contains(note, a.URI) {
		t.Fatalf("startup note: %q", note)
	}
	wantAlerts := "alert events need 6.0.3 or newer"
	if alerts {
		wantAlerts = "alerts=yes"
	}
	if !strings.Contains(note, wantAlerts) {
		t.Errorf("startup note on strongSwan %s: %q, want it to say %q", a.Version(), note, wantAlerts)
	}

	read := func(what string) hookLine {
		t.Helper()
		raw := out.next(t, what)
		var h hookLine
		if err := json.Unmarshal([]byte(raw), &h); err != nil {
			t.Fatalf("%s: not a JSON line: %q: %v", what, raw, err)
		}
		return h
	}
	cycle := func(round int) {
		t.Helper()
		initiate(t, ctx, a.URI, "ab", "net")
		up := read(fmt.Sprintf("round %d: up", round))
		terminate(t, ctx, a.URI, "ab")
		down := read(fmt.Sprintf("round %d: down", round))
		want := hookLine{Event: "ike-updown", Connection: "ab", LocalID: "a", LocalHost: a.Addr, RemoteID: "b", RemoteHost: l.Gateway("b").Addr}
		for _, h := range []struct {
			got   hookLine
			state string
		}{{up, "up"}, {down, "down"}} {
			w := want
			w.State, w.Time, w.UniqueID = h.state, h.got.Time, h.got.UniqueID
			if h.got != w {
				t.Fatalf("round %d: line %+v, want %+v", round, h.got, w)
			}
			if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(h.got.Time) || h.got.UniqueID == "" {
				t.Fatalf("round %d: bad time or uniqueid in %+v", round, h.got)
			}
		}
		if up.UniqueID != down.UniqueID {
			t.Fatalf("round %d: up and down name different IKE_SAs: %s vs %s", round, up.UniqueID, down.UniqueID)
		}
	}
	const n = 5
	for i := 1; i <= n; i++ {
		cycle(i)
	}

	if err := a.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := a.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if h := read("the reconnect line"); h.Event != "reconnected" || h.URI != a.URI {
		t.Fatalf("after the restart: %+v, want a reconnected line for %s", h, a.URI)
	}
	for i := n + 1; i <= n+2; i++ {
		cycle(i)
	}

	if alerts {
		// A peer that does not answer: charon retransmits (the lab's
		// retransmit_timeout is 1 s) and raises retransmit-send.
		silent := vici.NewMessage().
			SetList("remote_addrs", "192.0.2.99").
			SetSection("local", vici.NewMessage().Set("auth", "psk")).
			SetSection("remote", vici.NewMessage().Set("auth", "psk")).
			SetSection("children", vici.NewMessage().SetSection("c", vici.NewMessage().SetList("local_ts", "10.1.9.0/24")))
		call(t, ctx, a.URI, "load-conn", vici.NewMessage().SetSection("silent", silent))
		call(t, ctx, a.URI, "initiate", vici.NewMessage().Set("ike", "silent").Set("child", "c").Set("timeout", "-1"))
		h := read("an alert line")
		if h.Event != "alert" || h.Type != "retransmit-send" || h.Connection != "silent" || h.State != "CONNECTING" ||
			h.RemoteHost != "192.0.2.99" || h.UniqueID == "" {
			t.Errorf("alert line %+v, want a retransmit-send alert of silent, CONNECTING to 192.0.2.99", h)
		}
		call(t, ctx, a.URI, "terminate", vici.NewMessage().Set("ike", "silent").Set("force", "yes").Set("timeout", "-1"))
	}

	if code := p.stop(t, syscall.SIGTERM); code != 143 {
		t.Fatalf("after SIGTERM: exit %d, want 143", code)
	}
	var lines []string
	for _, l := range out.rest() {
		if !strings.Contains(l, `"event":"alert"`) { // alerts: as many as retransmits happened
			lines = append(lines, l)
		}
	}
	if len(lines) != 2*(n+2)+1 {
		t.Errorf("the hook wrote %d up, down and reconnected lines, want %d: %q", len(lines), 2*(n+2)+1, lines)
	}
	if e := errs.rest(); len(e) != 2 || e[1] != "vicish: terminated" {
		t.Errorf("stderr after SIGTERM: %q, want the startup note and \"vicish: terminated\"", e)
	}
}
