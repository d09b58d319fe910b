package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestOneGatewayAnswersVersion(t *testing.T) {
	l := Start(t, OneGateway)
	a := l.Gateway("a")
	if a == nil || len(l.Gateways) != 1 {
		t.Fatalf("want exactly gateway a, got %v", l.Gateways)
	}
	out, err := a.Swanctl(testCtx(t, time.Minute), "--version", "--daemon")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "5.") || !strings.Contains(string(out), "charon") {
		t.Fatalf("daemon version reply does not name charon and a version:\n%s", out)
	}
	t.Logf("gateway a (%s) answered: %s", a.URI, strings.TrimSpace(string(out)))
}

// childCounters returns bytes-in and packets-in of the CHILD_SA "net" of IKE
// SA ike as listed by swanctl --list-sas --raw.
func childCounters(t *testing.T, g *Gateway, ike string) (bytesIn, packetsIn string) {
	t.Helper()
	out, err := g.Swanctl(testCtx(t, time.Minute), "--list-sas", "--ike", ike, "--raw")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	s := string(out)
	i := strings.Index(s, "child-sas {")
	if i < 0 || !strings.Contains(s[i:], "state=INSTALLED") {
		t.Fatalf("gateway %s has no installed CHILD_SA under %s:\n%s", g.Name, ike, s)
	}
	return rawValue(s[i:], "bytes-in"), rawValue(s[i:], "packets-in")
}

func rawValue(s, key string) string {
	i := strings.Index(s, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := s[i+len(key)+2:]
	if j := strings.IndexAny(v, " }"); j >= 0 {
		v = v[:j]
	}
	return v
}

func TestTwoGatewaysTunnelCarriesTraffic(t *testing.T) {
	l := Start(t, TwoGateways)
	a, b := l.Gateway("a"), l.Gateway("b")
	ctx := testCtx(t, 2*time.Minute)
	out, err := a.Swanctl(ctx, "--initiate", "--child", "net", "--ike", "ab", "--timeout", "30")
	if err != nil {
		t.Fatalf("%v\n%s\nlog a:\n%s\nlog b:\n%s", err, out, a.LogTail(30), b.LogTail(30))
	}
	bytes0, packets0 := childCounters(t, b, "ab")
	if bytes0 != "0" || packets0 != "0" {
		t.Fatalf("fresh CHILD_SA on b already counts bytes-in=%s packets-in=%s", bytes0, packets0)
	}
	payload := []byte("hello through the tunnel")
	if err := a.SendUDP(ctx, LocalA, LocalB, payload); err != nil {
		t.Fatal(err)
	}
	// The packet travels asynchronously (a's TUN device, ESP over the veth,
	// b's libipsec); poll until b's CHILD_SA counts it.
	var bytesIn, packetsIn string
	for ctx.Err() == nil {
		bytesIn, packetsIn = childCounters(t, b, "ab")
		if packetsIn != "0" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if packetsIn != "1" {
		t.Fatalf("b's CHILD_SA packets-in = %q after one datagram, want 1 (bytes-in %q)", packetsIn, bytesIn)
	}
	// 20 bytes IPv4 + 8 bytes UDP header + payload.
	if want := fmt.Sprint(28 + len(payload)); bytesIn != want {
		t.Fatalf("b's CHILD_SA bytes-in = %s, want %s", bytesIn, want)
	}
	_, aPacketsIn := childCounters(t, a, "ab")
	t.Logf("b's CHILD_SA counted bytes-in=%s packets-in=%s (a's packets-in=%s)", bytesIn, packetsIn, aPacketsIn)
}

func TestFailoverBothPeersCanBeInitiated(t *testing.T) {
	l := Start(t, Failover)
	a := l.Gateway("a")
	if len(l.Gateways) != 3 || l.Gateway("b") == nil || l.Gateway("c") == nil {
		t.Fatalf("want gateways a, b, c, got %d", len(l.Gateways))
	}
	ctx := testCtx(t, 2*time.Minute)
	for _, conn := range []string{"primary", "backup"} {
		out, err := a.Swanctl(ctx, "--initiate", "--child", "net", "--ike", conn, "--timeout", "30")
		if err != nil {
			t.Fatalf("initiate %s: %v\n%s\nlog a:\n%s", conn, err, out, a.LogTail(30))
		}
	}
	for _, peer := range []struct{ gw, conn string }{{"b", "primary"}, {"c", "backup"}} {
		g := l.Gateway(peer.gw)
		out, err := g.Swanctl(ctx, "--list-sas", "--ike", peer.conn, "--raw")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !strings.Contains(string(out), "state=ESTABLISHED") || !strings.Contains(string(out), "state=INSTALLED") {
			t.Fatalf("gateway %s has no established %s with installed child:\n%s", peer.gw, peer.conn, out)
		}
	}
}

func TestBringUpSAs(t *testing.T) {
	l := Start(t, TwoGateways)
	ctx := testCtx(t, 5*time.Minute)
	const n = 200
	begin := time.Now()
	if err := l.BringUpSAs(ctx, n); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d IKE+CHILD SAs up in %v", n, time.Since(begin).Round(time.Millisecond))
	for _, g := range []*Gateway{l.Gateway("a"), l.Gateway("b")} {
		up, err := g.establishedSAs(ctx, "sa")
		if err != nil {
			t.Fatal(err)
		}
		if got := len(up); got != n {
			t.Errorf("gateway %s lists %d established sa* SAs with installed child, want %d", g.Name, got, n)
		}
	}
}

func TestLoadConns10000(t *testing.T) {
	l := Start(t, TwoGateways)
	ctx := testCtx(t, 5*time.Minute)
	const n = 10000
	begin := time.Now()
	if err := l.LoadConns(ctx, "a", n); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d connections in %v", n, time.Since(begin).Round(time.Millisecond))
	out, err := l.Gateway("a").Swanctl(ctx, "--list-conns", "--raw")
	if err != nil {
		t.Fatalf("%v\n%s", err, tailLines(string(out), 5))
	}
	bulk, ab := 0, 0
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "list-conn event {bulk"):
			bulk++
		case strings.HasPrefix(line, "list-conn event {ab "):
			ab++
		}
	}
	if bulk != n || ab != 1 {
		t.Fatalf("list-conns shows %d bulk connections and %d ab, want %d and 1", bulk, ab, n)
	}
}

// leftovers reports processes, namespaces and mounts of lab id still present.
func leftovers(t *testing.T, id string, pids []int) []string {
	t.Helper()
	var left []string
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil && !isZombie(pid) {
			left = append(left, fmt.Sprintf("process %d", pid))
		}
	}
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "vl-"+id+"-") {
			left = append(left, "netns "+line)
		}
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, "vl-"+id+"-") {
			left = append(left, "mount "+line)
		}
	}
	if _, err := os.Stat(filepath.Join(RegistryDir, id+".json")); err == nil {
		left = append(left, "registry entry "+id)
	}
	return left
}

func TestStartStopTwentyTimesLeavesNothing(t *testing.T) {
	if err := Check(); err != nil {
		Start(t, OneGateway) // fails or skips with the reason
	}
	ctx := testCtx(t, 5*time.Minute)
	begin := time.Now()
	for i := 0; i < 20; i++ {
		l, err := Up(ctx, Config{Topology: OneGateway})
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		a := l.Gateway("a")
		if err := viciVersion(ctx, a.Socket); err != nil {
			t.Fatalf("round %d: gateway a does not answer: %v", i, err)
		}
		pid, dir := a.PID(), l.Dir
		if !isLabDaemon(pid, l.ID, "a") {
			t.Fatalf("round %d: pid %d is not the lab's charon", i, pid)
		}
		if err := l.Down(); err != nil {
			t.Fatalf("round %d: down: %v", i, err)
		}
		if left := leftovers(t, l.ID, []int{pid}); len(left) > 0 {
			t.Fatalf("round %d: left behind: %v", i, left)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Fatalf("round %d: lab dir %s still exists", i, dir)
		}
	}
	t.Logf("20 start/stop rounds in %v", time.Since(begin).Round(time.Millisecond))
}

func TestKillAndRestart(t *testing.T) {
	l := Start(t, TwoGateways)
	a, b := l.Gateway("a"), l.Gateway("b")
	ctx := testCtx(t, 2*time.Minute)
	old := b.PID()
	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := viciVersion(ctx, b.Socket); err == nil {
		t.Fatal("b still answers after Kill")
	}
	if err := b.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if b.PID() == old || !isLabDaemon(b.PID(), l.ID, "b") {
		t.Fatalf("restarted b has pid %d (was %d)", b.PID(), old)
	}
	// The restarted daemon has its configuration again and answers a.
	if out, err := a.Swanctl(ctx, "--initiate", "--child", "net", "--ike", "ab", "--timeout", "30"); err != nil {
		t.Fatalf("initiate after restart: %v\n%s\nlog b:\n%s", err, out, b.LogTail(30))
	}
}

func TestStaleLabIsCleared(t *testing.T) {
	if os.Getenv("VICISH_LAB_CRASH") == "1" {
		// Child process: start a lab and exit without Down, like a crash.
		l, err := Up(context.Background(), Config{Topology: TwoGateways})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		fmt.Printf("LAB %s %d %d\n", l.ID, l.Gateway("a").PID(), l.Gateway("b").PID())
		os.Exit(0)
	}
	Start(t, OneGateway) // checks the machine; also shows a lab may run meanwhile
	cmd := exec.Command(os.Args[0], "-test.run=^TestStaleLabIsCleared$")
	cmd.Env = append(os.Environ(), "VICISH_LAB_CRASH=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("crashing child: %v\n%s", err, out)
	}
	var id string
	var pa, pb int
	if _, err := fmt.Sscanf(string(out[strings.Index(string(out), "LAB "):]), "LAB %s %d %d", &id, &pa, &pb); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	if !isLabDaemon(pa, id, "a") || !isLabDaemon(pb, id, "b") {
		t.Fatalf("the crashed child's daemons (%d, %d) should still run before clearing", pa, pb)
	}
	l, err := Up(testCtx(t, time.Minute), Config{Topology: OneGateway})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Down()
	if left := leftovers(t, id, []int{pa, pb}); len(left) > 0 {
		t.Fatalf("stale lab %s not cleared by the next Up: %v", id, left)
	}
}
