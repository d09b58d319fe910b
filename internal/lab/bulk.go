package lab

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// BulkConnName is the name of the i-th connection loaded by LoadConns
// (i counts from 1).
func BulkConnName(i int) string { return fmt.Sprintf("bulk%d", i) }

// SAConnName is the name of the i-th connection used by BringUpSAs, on both
// gateways (i counts from 1). Each has the child "net".
func SAConnName(i int) string { return fmt.Sprintf("sa%d", i) }

// LoadConns loads n connection definitions bulk1..bulkN into gateway gw
// (by name), in addition to its preloaded ones. They point at 203.0.113.1
// (a documentation address no lab link reaches) and are never started.
// A later call replaces the previous bulk set. The definitions are written to
// conf.d/bulk.conf in the gateway's ConfDir and loaded with swanctl
// --load-conns; note that this unloads connections that were loaded over
// vici but are in no file.
func (l *Lab) LoadConns(ctx context.Context, gw string, n int) error {
	g := l.Gateway(gw)
	if g == nil {
		return fmt.Errorf("lab %s has no gateway %q", l.ID, gw)
	}
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	fmt.Fprintln(w, "connections {")
	for i := 1; i <= n; i++ {
		name := BulkConnName(i)
		fmt.Fprintf(w, "  %s {\n    remote_addrs = 203.0.113.1\n    local {\n      auth = psk\n      id = %s.%s\n    }\n"+
			"    remote {\n      auth = psk\n      id = %s.peer\n    }\n    children {\n      net {\n"+
			"        local_ts = 10.1.0.0/24\n        remote_ts = 10.%d.%d.0/24\n      }\n    }\n  }\n",
			name, name, g.Name, name, 100+i/65536%100, i/256%256)
	}
	fmt.Fprintln(w, "}")
	w.Flush()
	if err := g.writeConfD(ctx, "bulk.conf", b.Bytes()); err != nil {
		return err
	}
	return g.loadConns(ctx)
}

// BringUpSAs brings up n IKE_SAs, each with one CHILD_SA, between gateways
// "a" and "b" (TwoGateways only) and waits until all are established.
// Connections sa1..saN are loaded on "b" (responder) and then on "a" with
// start_action = start; each has its own identities so that charon does not
// reuse one IKE_SA for all. A later call with a larger n adds SAs.
func (l *Lab) BringUpSAs(ctx context.Context, n int) error {
	a, b := l.Gateway("a"), l.Gateway("b")
	if l.Topology != TwoGateways || a == nil || b == nil {
		return fmt.Errorf("BringUpSAs needs the TwoGateways topology, lab %s is %s", l.ID, l.Topology)
	}
	conf := func(g, peer *Gateway, initiator bool) []byte {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		fmt.Fprintln(w, "connections {")
		start := ""
		if initiator {
			start = "        start_action = start\n"
		}
		localTS, remoteTS := NetA, NetB
		if !initiator {
			localTS, remoteTS = NetB, NetA
		}
		for i := 1; i <= n; i++ {
			name := SAConnName(i)
			fmt.Fprintf(w, "  %s {\n    local_addrs = %s\n    remote_addrs = %s\n    unique = never\n"+
				"    local {\n      auth = psk\n      id = %s.%s\n    }\n    remote {\n      auth = psk\n      id = %s.%s\n    }\n"+
				"    children {\n      net {\n        local_ts = %s\n        remote_ts = %s\n%s      }\n    }\n  }\n",
				name, g.Addr, peer.Addr, name, g.Name, name, peer.Name, localTS, remoteTS, start)
		}
		fmt.Fprintln(w, "}")
		w.Flush()
		return buf.Bytes()
	}
	if err := b.writeConfD(ctx, "sas.conf", conf(b, a, false)); err != nil {
		return err
	}
	if err := b.loadConns(ctx); err != nil {
		return err
	}
	if err := a.writeConfD(ctx, "sas.conf", conf(a, b, true)); err != nil {
		return err
	}
	if err := a.loadConns(ctx); err != nil {
		return err
	}
	var up int
	for {
		var err error
		if up, err = a.countEstablished(ctx, "sa"); err != nil {
			return err
		}
		if up >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("BringUpSAs: %d of %d SAs established when %v; log tail of a:\n%s", up, n, ctx.Err(), a.LogTail(20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// countEstablished counts IKE_SAs named prefix<digits> that are ESTABLISHED
// and have an INSTALLED CHILD_SA.
func (g *Gateway) countEstablished(ctx context.Context, prefix string) (int, error) {
	out, err := g.Swanctl(ctx, "--list-sas", "--raw")
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, tailLines(string(out), 5))
	}
	count := 0
	for _, line := range strings.Split(string(out), "\n") {
		rest, ok := strings.CutPrefix(line, "list-sa event {"+prefix)
		if !ok {
			continue
		}
		i := strings.IndexByte(rest, ' ')
		if i <= 0 || strings.Trim(rest[:i], "0123456789") != "" {
			continue
		}
		if strings.Contains(rest, "state=ESTABLISHED") && strings.Contains(rest, "state=INSTALLED") {
			count++
		}
	}
	return count, nil
}

func (g *Gateway) writeConfD(ctx context.Context, name string, content []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	path := filepath.Join(g.ConfDir, "conf.d", name)
	if err := os.WriteFile(path, content, 0o644); err != nil {
		return fmt.Errorf("gateway %s: %w", g.Name, err)
	}
	return nil
}

func (g *Gateway) loadConns(ctx context.Context) error {
	if out, err := g.Swanctl(ctx, "--load-conns"); err != nil {
		return fmt.Errorf("%v\n%s", err, tailLines(string(out), 10))
	}
	return nil
}
