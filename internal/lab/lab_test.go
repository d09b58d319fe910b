package lab

import (
	"context"
	"fmt"
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
