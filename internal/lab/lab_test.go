package lab_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestOneGatewayAnswersVersion(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	a := l.Gateway("a")
	if a == nil || len(l.Gateways) != 1 {
		t.Fatalf("want exactly gateway a, got %v", l.Gateways)
	}
	out, err := a.Swanctl(testCtx(t, time.Minute), "--version", "--daemon")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if a.Version() == "" || !strings.Contains(string(out), "strongSwan "+a.Version()+" charon") {
		t.Fatalf("daemon version reply does not name charon and a version:\n%s", out)
	}
	t.Logf("gateway a (%s) answered: %s", a.URI, strings.TrimSpace(string(out)))
}

// childCounters returns bytes-in and packets-in of the CHILD_SA "net" of IKE
// SA ike as listed by swanctl --list-sas --raw.
func childCounters(t *testing.T, g *lab.Gateway, ike string) (bytesIn, packetsIn string) {
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

// waitPacket polls the CHILD_SA "net" of IKE_SA ike on g until it counts an
// incoming packet (or ctx ends) and returns bytes-in and packets-in: a
// packet travels asynchronously (the sender's TUN device, ESP over the veth,
// the receiver's libipsec).
func waitPacket(ctx context.Context, t *testing.T, g *lab.Gateway, ike string) (bytesIn, packetsIn string) {
	t.Helper()
	for {
		bytesIn, packetsIn = childCounters(t, g, ike)
		if packetsIn != "0" || ctx.Err() != nil {
			return bytesIn, packetsIn
		}
		time.Sleep(50 * time.Millisecond)
	}
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
	l := labtest.Start(t, lab.TwoGateways)
	a, b := l.Gateway("a"), l.Gateway("b")
	ctx := testCtx(t, 2*time.Minute)
	out, err := a.Swanctl(ctx, "--initiate", "--child", "net", "--ike", "ab", "--timeout", "30")
	if err != nil {
		t.Fatalf("%v\n%s\nlog a:\n%s\nlog b:\n%s", err, out, a.LogTail(30), b.LogTail(30))
	}
	if tail := a.LogTail(40); !strings.Contains(tail, "CHILD_SA net{1} established") {
		t.Errorf("a's log tail does not show the CHILD_SA coming up:\n%s", tail)
	}
	addrs, err := a.Exec(ctx, "ip", "-o", "-4", "addr", "show")
	if err != nil {
		t.Fatalf("%v\n%s", err, addrs)
	}
	for _, want := range []string{"inet 192.0.2.1/24", "inet " + lab.LocalA + "/32"} {
		if !strings.Contains(string(addrs), want) {
			t.Errorf("a's namespace lacks %q:\n%s", want, addrs)
		}
	}
	bytes0, packets0 := childCounters(t, b, "ab")
	if bytes0 != "0" || packets0 != "0" {
		t.Fatalf("fresh CHILD_SA on b already counts bytes-in=%s packets-in=%s", bytes0, packets0)
	}
	payload := []byte("hello through the tunnel")
	if err := a.SendUDP(ctx, lab.LocalA, lab.LocalB, payload); err != nil {
		t.Fatal(err)
	}
	bytesIn, packetsIn := waitPacket(ctx, t, b, "ab")
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
	l := labtest.Start(t, lab.Failover)
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
	l := labtest.Start(t, lab.TwoGateways)
	ctx := testCtx(t, 5*time.Minute)
	const n = 200
	begin := time.Now()
	if err := l.BringUpSAs(ctx, n); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d IKE+CHILD SAs up in %v", n, time.Since(begin).Round(time.Millisecond))
	for _, g := range []*lab.Gateway{l.Gateway("a"), l.Gateway("b")} {
		up, err := g.EstablishedSAs(ctx, "sa")
		if err != nil {
			t.Fatal(err)
		}
		if got := len(up); got != n {
			t.Errorf("gateway %s lists %d established sa* SAs with installed child, want %d", g.Name, got, n)
		}
	}
}

func TestLoadConns10000(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	ctx := testCtx(t, 5*time.Minute)
	const n = 10000
	begin := time.Now()
	if err := l.LoadConns(ctx, "a", n); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d connections in %v", n, time.Since(begin).Round(time.Millisecond))
	out, err := l.Gateway("a").Swanctl(ctx, "--list-conns", "--raw")
	if err != nil {
		t.Fatalf("%v\n%s", err, lab.TailLines(string(out), 5))
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
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil && !lab.IsZombie(pid) {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			left = append(left, fmt.Sprintf("process %d (%s)", pid, strings.ReplaceAll(string(cmdline), "\x00", " ")))
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
	if _, err := os.Stat(filepath.Join(lab.RegistryDir, id+".json")); err == nil {
		left = append(left, "registry entry "+id)
	}
	return left
}

func TestStartStopTwentyTimesLeavesNothing(t *testing.T) {
	if err := lab.Check(); err != nil {
		labtest.Start(t, lab.OneGateway) // fails or skips with the reason
	}
	ctx := testCtx(t, 5*time.Minute)
	begin := time.Now()
	for i := 0; i < 20; i++ {
		l, err := lab.Up(ctx, lab.Config{Topology: lab.OneGateway})
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		a := l.Gateway("a")
		if err := lab.ViciVersion(ctx, a.Socket); err != nil {
			t.Fatalf("round %d: gateway a does not answer: %v", i, err)
		}
		pid, dir := a.PID(), l.Dir
		if !lab.IsLabDaemon(pid, l.ID, "a") {
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
	l := labtest.Start(t, lab.TwoGateways)
	a, b := l.Gateway("a"), l.Gateway("b")
	ctx := testCtx(t, 2*time.Minute)
	old := b.PID()
	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := lab.ViciVersion(ctx, b.Socket); err == nil {
		t.Fatal("b still answers after Kill")
	}
	if err := b.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if b.PID() == old || !lab.IsLabDaemon(b.PID(), l.ID, "b") {
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
		l, err := lab.Up(context.Background(), lab.Config{Topology: lab.TwoGateways})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		fmt.Printf("LAB %s %d %d\n", l.ID, l.Gateway("a").PID(), l.Gateway("b").PID())
		os.Exit(0)
	}
	labtest.Start(t, lab.OneGateway) // checks the machine; also shows a lab may run meanwhile
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
	if !lab.IsLabDaemon(pa, id, "a") || !lab.IsLabDaemon(pb, id, "b") {
		t.Fatalf("the crashed child's daemons (%d, %d) should still run before clearing", pa, pb)
	}
	l, err := lab.Up(testCtx(t, time.Minute), lab.Config{Topology: lab.OneGateway})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Down()
	if left := leftovers(t, id, []int{pa, pb}); len(left) > 0 {
		t.Fatalf("stale lab %s not cleared by the next Up: %v", id, left)
	}
}

func TestDaemonDyingAtStartReportsItsOutput(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	a := l.Gateway("a")
	if err := a.Kill(); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(a.ConfDir, "strongswan.conf")
	if err := os.WriteFile(conf, []byte("charon {\n  filelog {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := a.Restart(testCtx(t, time.Minute))
	if err == nil {
		t.Fatal("Restart succeeded with a broken strongswan.conf")
	}
	if !strings.Contains(err.Error(), "charon exited during start-up") || !strings.Contains(err.Error(), "invalid config") {
		t.Fatalf("error does not say charon died and show its output:\n%v", err)
	}
}

func TestTwoLabsAtOnce(t *testing.T) {
	if err := lab.Check(); err != nil {
		labtest.Start(t, lab.OneGateway) // fails or skips with the reason
	}
	ctx := testCtx(t, 2*time.Minute)
	// Start both at the same moment, then use both while both run.
	labs := make([]*lab.Lab, 2)
	errs := make([]error, 2)
	done := make(chan int)
	for i := range labs {
		go func() {
			labs[i], errs[i] = lab.Up(ctx, lab.Config{Topology: lab.TwoGateways})
			done <- i
		}()
	}
	<-done
	<-done
	for i, l := range labs {
		if l != nil {
			t.Cleanup(func() { l.Down() })
		}
		if errs[i] != nil {
			t.Fatalf("lab %d: %v", i, errs[i])
		}
	}
	if labs[0].ID == labs[1].ID || labs[0].Gateway("a").Netns == labs[1].Gateway("a").Netns {
		t.Fatalf("labs share an id or namespace: %s/%s", labs[0].ID, labs[1].ID)
	}
	for i, l := range labs {
		a := l.Gateway("a")
		if out, err := a.Swanctl(ctx, "--initiate", "--child", "net", "--ike", "ab", "--timeout", "30"); err != nil {
			t.Fatalf("lab %d: %v\n%s", i, err, out)
		}
	}
	for i, l := range labs {
		out, err := l.Gateway("b").Swanctl(ctx, "--list-sas", "--raw")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if n := strings.Count(string(out), "list-sa event {ab "); n != 1 {
			t.Fatalf("lab %d: b lists %d ab SAs, want 1 (its own):\n%s", i, n, out)
		}
	}
}

func TestUpRejectsBadDirs(t *testing.T) {
	if err := lab.Check(); err != nil {
		labtest.Start(t, lab.OneGateway) // fails or skips with the reason
	}
	ctx := testCtx(t, time.Minute)
	long := filepath.Join(t.TempDir(), strings.Repeat("x", 100))
	if _, err := lab.Up(ctx, lab.Config{Dir: long}); !errors.Is(err, lab.ErrSocketPath) || !strings.Contains(err.Error(), "shorter") {
		t.Errorf("lab.Up with a %d-byte dir: %v, want lab.ErrSocketPath naming a fix", len(long), err)
	}
	if _, err := lab.Up(ctx, lab.Config{Dir: "/run/vicish-lab-test"}); err == nil || !strings.Contains(err.Error(), "under /run") {
		t.Errorf("lab.Up under /run: %v, want an error about /run", err)
	}
	if _, err := lab.Up(ctx, lab.Config{Topology: 7}); err == nil || !strings.Contains(err.Error(), "unknown topology") {
		t.Errorf("lab.Up with topology 7: %v", err)
	}
}

func TestLabRunsACopyOfCharon(t *testing.T) {
	if err := lab.Check(); err != nil {
		labtest.Start(t, lab.OneGateway) // fails or skips with the reason
	}
	// A mixed lab: one copy per strongSwan, each loading its own libraries.
	cfg := lab.Config{Topology: lab.TwoGateways, Daemons: map[string]lab.Daemon{"b": lab.NewestDaemon}}
	l, err := lab.Up(testCtx(t, 30*time.Minute), lab.WithCharonCopy(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Down()
	for _, c := range []struct{ gw, copy string }{{"a", "charon"}, {"b", "charon-newest"}} {
		g := l.Gateway(c.gw)
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", g.PID()))
		if err != nil {
			t.Fatal(err)
		}
		if exe != filepath.Join(l.Dir, c.copy) {
			t.Fatalf("gateway %s runs %s, want the copy %s in %s", c.gw, exe, c.copy, l.Dir)
		}
		if err := lab.ViciVersion(testCtx(t, time.Minute), g.Socket); err != nil {
			t.Fatalf("copied charon of %s does not answer: %v", c.gw, err)
		}
	}
	if va, vb := l.Gateway("a").Version(), l.Gateway("b").Version(); va == "" || vb == "" {
		t.Fatalf("copies report %s (a, system) and %s (b, newest)", va, vb)
	}
}

// TestStartWithoutRootFailsInCI runs this test binary as an unprivileged user:
// with CI=true a lab test must fail with the reason, elsewhere it may skip.
func TestStartWithoutRootFailsInCI(t *testing.T) {
	if os.Geteuid() != 0 {
		labtest.Start(t, lab.OneGateway) // fails or skips with the reason
	}
	dir, err := os.MkdirTemp("", "vicish-lab-noroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "lab.test")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, ci := range []string{"true", ""} {
		cmd := exec.Command(bin, "-test.v", "-test.run=^TestOneGatewayAnswersVersion$")
		cmd.Dir = dir
		cmd.Env = []string{"CI=" + ci, "PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		s := string(out)
		if !strings.Contains(s, "needs root") {
			t.Fatalf("CI=%q: output does not give the reason (err %v):\n%s", ci, err, s)
		}
		if ci == "true" && (err == nil || !strings.Contains(s, "--- FAIL")) {
			t.Fatalf("CI=true: lab test did not fail without root (err %v):\n%s", err, s)
		}
		if ci == "" && (err != nil || !strings.Contains(s, "--- SKIP")) {
			t.Fatalf("CI unset: lab test did not skip without root (err %v):\n%s", err, s)
		}
	}
}

// TestBinaryDoesNotLinkTesting checks that `vicish lab` keeps package
// testing out of the vicish binary (only labtest imports it), and that
// package lab is a library: the command line (package flag) is
// cmd/vicish's.
func TestBinaryDoesNotLinkTesting(t *testing.T) {
	for _, c := range []struct {
		pkg       string
		forbidden []string
	}{
		{"github.com/vicish/vicish/internal/lab", []string{"testing", "flag"}},
		{"github.com/vicish/vicish/cmd/vicish", []string{"testing"}},
	} {
		out, err := exec.Command("go", "list", "-deps", c.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", c.pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range c.forbidden {
				if dep == f {
					t.Errorf("%s depends on package %s", c.pkg, f)
				}
			}
		}
	}
}

func TestNewestDaemon(t *testing.T) {
	l := labtest.StartConfig(t, lab.Config{Topology: lab.OneGateway, Daemon: lab.NewestDaemon})
	a := l.Gateway("a")
	ctx := testCtx(t, time.Minute)
	want, err := lab.RootVersion(lab.NewestRoot())
	if err != nil {
		t.Fatal(err)
	}
	if a.Daemon != lab.NewestDaemon || !strings.HasPrefix(want, a.Version()) || strings.HasPrefix(a.Version(), "5.") {
		t.Fatalf("gateway a runs %s %q; the newest root has strongswan-charon %s", a.Daemon, a.Version(), want)
	}
	// swanctl of the same root: the client's own version is the root's.
	out, err := a.Swanctl(ctx, "--version")
	if err != nil || !strings.Contains(string(out), "swanctl "+a.Version()) {
		t.Fatalf("swanctl --version: %v\n%s", err, out)
	}
	out, err = a.Swanctl(ctx, "--version", "--daemon")
	if err != nil || !strings.Contains(string(out), a.Version()) {
		t.Fatalf("swanctl --version --daemon: %v\n%s", err, out)
	}
	if strings.Contains(a.LogTail(200), "failed to load") {
		t.Errorf("charon could not load a configured plugin:\n%s", a.LogTail(200))
	}
	t.Logf("newest gateway: %s", strings.TrimSpace(string(out)))
	// The root a gateway runs from is not rebuilt under it.
	// Other labs (other tests, other users) may use the root too, and
	// another process may hold the root's lock for a while (a build): wait
	// as `vicish lab root` does.
	rootCtx := testCtx(t, 30*time.Minute)
	if _, err := lab.RebuildNewestRoot(rootCtx, io.Discard); err == nil || !strings.Contains(err.Error(), "the newest root is in use by ") || !strings.Contains(err.Error(), "lab "+l.ID+" (") {
		t.Fatalf("RebuildNewestRoot while lab %s runs: %v, want an error naming the lab", l.ID, err)
	}
	root, err := lab.EnsureNewestRoot(rootCtx, io.Discard)
	if err != nil || root != lab.NewestRoot() {
		t.Fatalf("EnsureNewestRoot = %q, %v; want %s", root, err, lab.NewestRoot())
	}
}

// TestMixedLab runs the tunnel between the newest and the system's
// strongSwan both ways round and sends a packet through it.
func TestMixedLab(t *testing.T) {
	for _, newest := range []string{"a", "b"} {
		t.Run("newest "+newest, func(t *testing.T) {
			l := labtest.StartConfig(t, lab.Config{Topology: lab.TwoGateways, Daemons: map[string]lab.Daemon{newest: lab.NewestDaemon}, Daemon: lab.SystemDaemon})
			a, b := l.Gateway("a"), l.Gateway("b")
			if a.Version() == b.Version() || l.Gateway(newest).Daemon != lab.NewestDaemon {
				t.Fatalf("a runs %s %s, b %s %s: want different strongSwans", a.Daemon, a.Version(), b.Daemon, b.Version())
			}
			ctx := testCtx(t, 2*time.Minute)
			if out, err := a.Swanctl(ctx, "--initiate", "--child", "net", "--ike", "ab", "--timeout", "30"); err != nil {
				t.Fatalf("%v\n%s\nlog a:\n%s\nlog b:\n%s", err, out, a.LogTail(30), b.LogTail(30))
			}
			if err := a.SendUDP(ctx, lab.LocalA, lab.LocalB, []byte("across versions")); err != nil {
				t.Fatal(err)
			}
			if _, packets := waitPacket(ctx, t, b, "ab"); packets != "1" {
				t.Fatalf("b's CHILD_SA counted %s packets, want 1", packets)
			}
			t.Logf("a: strongSwan %s (%s), b: strongSwan %s (%s): tunnel up, packet counted", a.Version(), a.Daemon, b.Version(), b.Daemon)
		})
	}
}

// TestStarTwentySpokes brings up every spoke's tunnel to the hub at once and
// checks that stopping the lab leaves nothing behind.
func TestStarTwentySpokes(t *testing.T) {
	if err := lab.Check(); err != nil {
		labtest.Start(t, lab.OneGateway) // fails or skips with the reason
	}
	const n = 20
	ctx := testCtx(t, 3*time.Minute)
	cfg := lab.Config{Topology: lab.Star, Spokes: n}
	if d, err := lab.DaemonFromEnv(); err == nil {
		cfg.Daemon = d
	}
	begin := time.Now()
	l, err := lab.Up(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	up := time.Since(begin)
	downDone := false
	t.Cleanup(func() {
		if !downDone {
			l.Down()
		}
	})
	if len(l.Gateways) != n+1 || l.Gateway("hub") == nil || l.Gateway(lab.SpokeName(n)) == nil {
		t.Fatalf("want hub and %d spokes, got %d gateways", n, len(l.Gateways))
	}
	hub := l.Gateway("hub")
	if hub.Addr != lab.HubAddr || l.Gateway("s7").Addr != lab.SpokeAddr(7) {
		t.Fatalf("addresses: hub %s, s7 %s", hub.Addr, l.Gateway("s7").Addr)
	}
	errs := make(chan error, n)
	for i := 1; i <= n; i++ {
		go func() {
			s := l.Gateway(lab.SpokeName(i))
			out, err := s.Swanctl(ctx, "--initiate", "--ike", "hub", "--child", "net", "--timeout", "60")
			if err != nil {
				err = fmt.Errorf("%v\n%s", err, out)
			}
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	established, err := hub.EstablishedSAs(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(established) != n {
		t.Fatalf("hub has %d established spoke SAs with installed child, want %d: %v", len(established), n, established)
	}
	out, err := hub.Swanctl(ctx, "--list-sas", "--raw")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if !strings.Contains(string(out), "remote-ts=["+lab.SpokeNet(i)+"]") {
			t.Errorf("hub lists no CHILD_SA with remote-ts %s", lab.SpokeNet(i))
		}
	}
	// A packet from spoke 13's network reaches the hub through its tunnel.
	s13 := l.Gateway("s13")
	if err := s13.SendUDP(ctx, lab.SpokeLocal(13), lab.HubLocal, []byte("spoke 13")); err != nil {
		t.Fatal(err)
	}
	if _, p := waitPacket(ctx, t, hub, "s13"); p != "1" {
		t.Fatalf("hub's CHILD_SA of s13 counted %s packets, want 1", p)
	}
	var pids []int
	for _, g := range l.Gateways {
		pids = append(pids, g.PID())
	}
	begin = time.Now()
	if err := l.Down(); err != nil {
		t.Fatal(err)
	}
	downDone = true
	t.Logf("star of %d spokes: up in %v, all %d tunnels established, down in %v", n, up.Round(time.Millisecond), n, time.Since(begin).Round(time.Millisecond))
	if left := leftovers(t, l.ID, pids); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
	if _, err := os.Stat(l.Dir); err == nil {
		t.Fatalf("lab dir %s still exists", l.Dir)
	}
}

// TestSSHD logs in to a real OpenSSH server in gateway b's namespace with
// the key made for it, forwards b's vici socket over it as an ssh://
// transport does, and checks host key checking and clean-up.
func TestSSHD(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	b := l.Gateway("b")
	ctx := testCtx(t, 2*time.Minute)
	s := labtest.SSHD(t, b)
	if s.Host != "127.0.0.1" || s.Port == 0 || s.Addr != b.Addr+":22" || s.User == "" {
		t.Fatalf("server at %s:%d (inside %s) for %q", s.Host, s.Port, s.Addr, s.User)
	}
	if want := fmt.Sprintf("ssh://%s@127.0.0.1:%d%s", s.User, s.Port, b.Socket); s.URI(b.Socket) != want {
		t.Errorf("URI %q, want %q", s.URI(b.Socket), want)
	}
	ssh := func(args ...string) *exec.Cmd {
		return exec.CommandContext(ctx, "ssh", append(s.SSHArgs(), args...)...)
	}
	// A login runs in b's network namespace.
	out, err := ssh(s.User+"@"+s.Host, "ip -o -4 addr show").CombinedOutput()
	if err != nil {
		t.Fatalf("ssh: %v\n%s\nsshd log:\n%s", err, out, lab.TailLines(readFile(t, s.LogPath), 20))
	}
	if !strings.Contains(string(out), "inet "+b.Addr+"/24") {
		t.Fatalf("the session does not run in b's namespace:\n%s", out)
	}
	// b's vici socket forwarded to a local socket, as ssh:// does.
	local := filepath.Join(t.TempDir(), "fwd.vici")
	fwd := ssh("-N", "-o", "ExitOnForwardFailure=yes", "-L", local+":"+b.Socket, s.User+"@"+s.Host)
	var fwdOut strings.Builder
	fwd.Stdout, fwd.Stderr = &fwdOut, &fwdOut
	if err := fwd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { fwd.Process.Kill(); fwd.Wait() }()
	var verr error // ssh logs in before it forwards: give a loaded machine a minute
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		if verr = lab.ViciVersion(ctx, local); verr == nil {
			break
		}
	}
	if verr != nil {
		t.Fatalf("b's vici socket does not answer through ssh: %v\n%s\nsshd log:\n%s", verr, lab.TailLines(fwdOut.String(), 5), lab.TailLines(readFile(t, s.LogPath), 20))
	}
	// Strict host key checking is real: another host key is refused.
	otherKey := filepath.Join(t.TempDir(), "other")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", otherKey).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	pub := strings.Fields(readFile(t, otherKey+".pub"))
	wrong := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(wrong, []byte(fmt.Sprintf("[127.0.0.1]:%d %s %s\n", s.Port, pub[0], pub[1])), 0o644)
	// (ssh takes the first value of an option, so this one comes first.)
	args := append([]string{"-o", "UserKnownHostsFile=" + wrong}, s.SSHArgs()...)
	args = append(args, s.User+"@"+s.Host, "true")
	if out, err := exec.CommandContext(ctx, "ssh", args...).CombinedOutput(); err == nil || !strings.Contains(string(out), "Host key verification failed") {
		t.Fatalf("ssh with a wrong known host key: %v\n%s", err, out)
	}
	pid := s.PID()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, "none", []int{pid}); len(left) > 0 {
		t.Fatalf("still running after Stop: %v", left)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), time.Second); err == nil {
		c.Close()
		t.Fatal("the loopback port still accepts after Stop")
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

// TestSSHDStoppedByDown checks that Down ends a server nobody stopped.
func TestSSHDStoppedByDown(t *testing.T) {
	if err := lab.Check(); err != nil {
		labtest.Start(t, lab.OneGateway) // fails or skips with the reason
	}
	ctx := testCtx(t, time.Minute)
	l, err := lab.Up(ctx, lab.Config{Topology: lab.OneGateway})
	if err != nil {
		t.Fatal(err)
	}
	a := l.Gateway("a")
	s, err := a.StartSSHD(ctx)
	if err != nil {
		l.Down()
		t.Fatal(err)
	}
	if s.Addr != "127.0.0.1:22" {
		t.Errorf("a gateway without links serves on %s", s.Addr)
	}
	out, err := exec.CommandContext(ctx, "ssh", append(s.SSHArgs(), s.User+"@"+s.Host, "echo", "hello")...).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hello" {
		t.Errorf("ssh: %v\n%s", err, out)
	}
	pids := []int{a.PID(), s.PID()}
	if err := l.Down(); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, l.ID, pids); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDaemonEnvChoosesTheDaemon checks that $VICISH_LAB_DAEMON decides the
// daemon of a labtest lab that does not choose one, and that a lab's own
// choice wins.
func TestDaemonEnvChoosesTheDaemon(t *testing.T) {
	t.Setenv(lab.DaemonEnv, "newest")
	if g := labtest.Start(t, lab.OneGateway).Gateway("a"); g.Daemon != lab.NewestDaemon {
		t.Errorf("%s=newest: gateway a runs %s %s", lab.DaemonEnv, g.Daemon, g.Version())
	}
	l := labtest.StartConfig(t, lab.Config{Topology: lab.OneGateway, Daemon: lab.SystemDaemon})
	if g := l.Gateway("a"); g.Daemon != lab.SystemDaemon {
		t.Errorf("a lab that chose system runs %s %s", g.Daemon, g.Version())
	}
	t.Setenv(lab.DaemonEnv, "system")
	if g := labtest.Start(t, lab.OneGateway).Gateway("a"); g.Daemon != lab.SystemDaemon {
		t.Errorf("%s=system: gateway a runs %s %s", lab.DaemonEnv, g.Daemon, g.Version())
	}
}
