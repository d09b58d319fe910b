package scripts_test

import (
	"maps"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRolloutInterrupted: SIGTERM while a step is being proven rolls the
// step back before vicish exits (143). The canary's change (remote_addrs
// %any, so nothing to initiate to: the proof waits for the peer) keeps
// the step busy until the signal comes.
func TestRolloutInterrupted(t *testing.T) {
	r := newRolloutLab(t)
	bin := buildVicish(t)
	prev := r.confDir(t, func(_, text string) string { return text })
	slow := r.confDir(t, func(_, text string) string {
		return strings.Replace(text, "    remote_addrs = 198.18.0.1\n", "    remote_addrs = %any\n", 1)
	})
	remoteAddrs := func() string { return strings.Join(r.hubConn(t, "s1").List("remote_addrs"), ",") }
	before := r.liveIDs(t, "s1")
	p := startVicish(t, r.ctx, bin, nil, "rollout.star", "--inventory", r.inventory, "--conf", slow, "--previous", prev, "--health", "60")
	for l := ""; l != "canary: s1"; l = p.out.next(t, "the canary") {
	}
	// Wait until s1 has the new configuration: the step is applied and
	// its proof waits.
	for remoteAddrs() != "%any" {
		time.Sleep(20 * time.Millisecond)
	}
	if code := p.stop(t, syscall.SIGTERM); code != 143 {
		t.Errorf("exit %d, want 143", code)
	}
	out := strings.Join(p.out.rest(), "\n")
	if !strings.Contains(out, "terminated during canary: rolling it back (a second Ctrl-C or SIGTERM ends vicish at once, leaving s1 mid-step)\n  s1: rollback ok in ") {
		t.Errorf("output:\n%s", out)
	}
	if got := remoteAddrs(); got != "198.18.0.1" {
		t.Errorf("s1: remote_addrs %q after the rollback", got)
	}
	if got := r.liveIDs(t, "s1"); !maps.Equal(got, before) {
		t.Errorf("s1: SAs %v, want %v", got, before)
	}
}
