package lab

import (
	"context"
	"fmt"
	"strings"
)

// BulkConnName is the name of the i-th connection loaded by LoadConns
// (i counts from 1).
func BulkConnName(i int) string { return fmt.Sprintf("bulk%d", i) }

// SAConnName is the name of the i-th connection used by BringUpSAs, on both
// gateways (i counts from 1). Each has the child "net".
func SAConnName(i int) string { return fmt.Sprintf("sa%d", i) }

// LoadConns loads n connection definitions bulk1..bulkN into gateway gw
// (by name) over its vici socket, in addition to what is loaded. They point
// at 203.0.113.1 (a documentation address no lab link reaches), have child
// "net" and are never started. Like any connection loaded over vici and not
// from a file, a later `swanctl --load-conns` or Restart unloads them.
func (l *Lab) LoadConns(ctx context.Context, gw string, n int) error {
	g := l.Gateway(gw)
	if g == nil {
		return fmt.Errorf("lab %s has no gateway %q", l.ID, gw)
	}
	specs := make([]connSpec, 0, n)
	for i := 1; i <= n; i++ {
		name := BulkConnName(i)
		specs = append(specs, connSpec{
			name:     name,
			remote:   "203.0.113.1",
			localID:  name + "." + g.Name,
			remoteID: name + ".peer",
			localTS:  NetA,
			remoteTS: fmt.Sprintf("10.%d.%d.0/24", 100+i/65536%100, i/256%256),
		})
	}
	return g.loadConnSpecs(ctx, specs)
}

// BringUpSAs brings up n IKE_SAs, each with one CHILD_SA "net", between
// gateways "a" and "b" (TwoGateways only) and waits until all are
// established. Connections sa1..saN (see SAConnName) are loaded over vici on
// "b" (responder) and "a", each with its own identities so that charon does
// not reuse one IKE_SA for all; "a" then initiates them, a bounded number at a
// time, retrying failures. Calling it again with a larger n adds SAs.
func (l *Lab) BringUpSAs(ctx context.Context, n int) error {
	a, b := l.Gateway("a"), l.Gateway("b")
	if l.Topology != TwoGateways || a == nil || b == nil {
		return fmt.Errorf("BringUpSAs needs the TwoGateways topology, lab %s is %s", l.ID, l.Topology)
	}
	specs := func(g, peer *Gateway, localTS, remoteTS string) []connSpec {
		out := make([]connSpec, 0, n)
		for i := 1; i <= n; i++ {
			name := SAConnName(i)
			out = append(out, connSpec{name: name, local: g.Addr, remote: peer.Addr,
				localID: name + "." + g.Name, remoteID: name + "." + peer.Name,
				localTS: localTS, remoteTS: remoteTS})
		}
		return out
	}
	if err := b.loadConnSpecs(ctx, specs(b, a, NetB, NetA)); err != nil {
		return err
	}
	if err := a.loadConnSpecs(ctx, specs(a, b, NetA, NetB)); err != nil {
		return err
	}
	up, err := a.establishedSAs(ctx, "sa")
	if err != nil {
		return err
	}
	var todo []string
	for i := 1; i <= n; i++ {
		if !up[SAConnName(i)] {
			todo = append(todo, SAConnName(i))
		}
	}
	if err := a.initiateAll(ctx, todo); err != nil {
		return fmt.Errorf("BringUpSAs: %w; log tail of a:\n%s", err, a.LogTail(20))
	}
	up, err = a.establishedSAs(ctx, "sa")
	if err != nil {
		return err
	}
	count := 0
	for i := 1; i <= n; i++ {
		if up[SAConnName(i)] {
			count++
		}
	}
	if count < n {
		return fmt.Errorf("BringUpSAs: only %d of %d SAs are established after initiating; log tail of a:\n%s", count, n, a.LogTail(20))
	}
	return nil
}

// connSpec is one PSK connection with child "net".
type connSpec struct {
	name, local, remote, localID, remoteID, localTS, remoteTS string
}

// conf renders the connection for swanctl.conf.
func (s connSpec) conf() string {
	local := ""
	if s.local != "" {
		local = "    local_addrs = " + s.local + "\n"
	}
	return fmt.Sprintf(`  %s {
    version = 2
%s    remote_addrs = %s
    unique = never
    local {
      auth = psk
      id = %s
    }
    remote {
      auth = psk
      id = %s
    }
    children {
      net {
        local_ts = %s
        remote_ts = %s
      }
    }
  }
`, s.name, local, s.remote, s.localID, s.remoteID, s.localTS, s.remoteTS)
}

func (s connSpec) msg() *viciMsg {
	m := &viciMsg{}
	m.begin(s.name)
	m.kv("version", "2")
	if s.local != "" {
		m.list("local_addrs", s.local)
	}
	m.list("remote_addrs", s.remote)
	m.kv("unique", "never")
	m.begin("local")
	m.kv("auth", "psk")
	m.kv("id", s.localID)
	m.end()
	m.begin("remote")
	m.kv("auth", "psk")
	m.kv("id", s.remoteID)
	m.end()
	m.begin("children")
	m.begin("net")
	m.list("local_ts", s.localTS)
	m.list("remote_ts", s.remoteTS)
	m.end()
	m.end()
	m.end()
	return m
}

// loadConnSpecs sends one load-conn per connection over a few parallel
// connections to the gateway's socket.
func (g *Gateway) loadConnSpecs(ctx context.Context, specs []connSpec) error {
	return parallel(ctx, g.Socket, 4, len(specs), func(ctx context.Context, vc *viciConn, i int) error {
		if _, err := vc.call(ctx, "load-conn", specs[i].msg()); err != nil {
			return fmt.Errorf("gateway %s: load-conn %s: %w", g.Name, specs[i].name, err)
		}
		return nil
	})
}

// initiateAll initiates IKE_SA + child "net" for each named connection, 8 at
// a time: each blocking initiate holds one of charon's 32 worker threads, so
// more in flight could starve the threads that process the IKE replies. A
// failed attempt is retried twice.
func (g *Gateway) initiateAll(ctx context.Context, names []string) error {
	return parallel(ctx, g.Socket, 8, len(names), func(ctx context.Context, vc *viciConn, i int) error {
		m := &viciMsg{}
		m.kv("ike", names[i])
		m.kv("child", "net")
		m.kv("timeout", "60000")
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			if _, err = vc.call(ctx, "initiate", m); err == nil || ctx.Err() != nil {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("initiate %s: %w", names[i], err)
		}
		return nil
	})
}

// parallel runs fn for 0..n-1 on up to workers connections to socket and
// returns the first error.
func parallel(ctx context.Context, socket string, workers, n int, fn func(context.Context, *viciConn, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if workers > n {
		workers = n
	}
	next := make(chan int)
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			vc, err := dialVici(ctx, socket)
			if err != nil {
				cancel()
				errc <- err
				for range next {
				}
				return
			}
			defer vc.Close()
			var first error
			for i := range next {
				if first != nil {
					continue
				}
				if err := fn(ctx, vc, i); err != nil {
					first = err
					cancel()
				}
			}
			errc <- first
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	var errs []error
	for w := 0; w < workers; w++ {
		if err := <-errc; err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return ctx.Err()
}

// establishedSAs returns the names of IKE_SAs called prefix<digits> that are
// ESTABLISHED and have an INSTALLED CHILD_SA.
func (g *Gateway) establishedSAs(ctx context.Context, prefix string) (map[string]bool, error) {
	out, err := g.Swanctl(ctx, "--list-sas", "--raw")
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, tailLines(string(out), 5))
	}
	up := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		rest, ok := strings.CutPrefix(line, "list-sa event {")
		if !ok || !strings.HasPrefix(rest, prefix) {
			continue
		}
		i := strings.IndexByte(rest, ' ')
		if i <= len(prefix) || strings.Trim(rest[len(prefix):i], "0123456789") != "" {
			continue
		}
		if strings.Contains(rest, "state=ESTABLISHED") && strings.Contains(rest, "state=INSTALLED") {
			up[rest[:i]] = true
		}
	}
	return up, nil
}
