package lab

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Topology selects the gateways of a lab, their links and what is preloaded.
type Topology int

const (
	// OneGateway is gateway "a" alone, with no connection loaded.
	OneGateway Topology = 1
	// TwoGateways is "a" and "b" joined by 192.0.2.0/24; both have the
	// connection "ab" (child "net", 10.1.0.0/24 <-> 10.2.0.0/24, PSK) loaded.
	TwoGateways Topology = 2
	// Failover is client "a" with connections "primary" (to "b") and "backup"
	// (to "c"), each with child "net" carrying 10.1.0.0/24 <-> 10.2.0.0/24;
	// "b" answers "primary" and "c" answers "backup".
	Failover Topology = 3
	// Star is a hub "hub" and Config.Spokes spokes "s1", "s2", ... on one
	// link (a bridge in the hub's namespace, 198.18.0.0/16: the hub is
	// HubAddr, spoke i is SpokeAddr(i)). Spoke i has the connection "hub"
	// and the hub the connection "s<i>", each with child "net" carrying
	// HubNet <-> SpokeNet(i) (PSK, ids "hub" and "s<i>"), loaded and not
	// initiated. The traffic selectors differ per spoke, so every spoke's
	// CHILD_SA can be up at once.
	Star Topology = 4
)

// MaxSpokes is the largest Config.Spokes of a Star lab.
const MaxSpokes = 200

// Addresses of the Star topology.
const (
	// HubAddr is the hub's address on the star's link.
	HubAddr = "198.18.0.1"
	// HubNet is the traffic selector behind the hub; it has HubLocal on lo.
	HubNet = "10.0.0.0/24"
	// HubLocal is an address of the hub inside HubNet.
	HubLocal = "10.0.0.1"
)

// SpokeName is the gateway name of spoke i (counting from 1): "s<i>".
func SpokeName(i int) string { return "s" + strconv.Itoa(i) }

// SpokeAddr is the address of spoke i on the star's link.
func SpokeAddr(i int) string { return fmt.Sprintf("198.18.%d.%d", 1+i/256, i%256) }

// SpokeNet is the traffic selector behind spoke i (10.100.<i>.0/24 for i up
// to 255, then further into 10.101.0.0/16, ...).
func SpokeNet(i int) string { return fmt.Sprintf("10.%d.%d.0/24", 100+i/256, i%256) }

// SpokeLocal is an address of spoke i inside SpokeNet(i), on its lo.
func SpokeLocal(i int) string { return fmt.Sprintf("10.%d.%d.1", 100+i/256, i%256) }

// String returns the topology's name as used by the command line.
func (t Topology) String() string {
	switch t {
	case OneGateway:
		return "one-gateway"
	case TwoGateways:
		return "two-gateways"
	case Failover:
		return "failover"
	case Star:
		return "star"
	}
	return fmt.Sprintf("topology(%d)", int(t))
}

// Describe names the lab's topology, with the spoke count of a star.
func (l *Lab) Describe() string {
	if l.Topology == Star {
		return fmt.Sprintf("star of %d spokes", l.Spokes)
	}
	return l.Topology.String()
}

// ParseTopology accepts 1, 2, 3, 4 or the names one-gateway, two-gateways,
// failover, star (also "one", "two").
func ParseTopology(s string) (Topology, error) {
	switch strings.ToLower(s) {
	case "1", "one", "one-gateway":
		return OneGateway, nil
	case "2", "two", "two-gateways":
		return TwoGateways, nil
	case "3", "failover":
		return Failover, nil
	case "4", "star":
		return Star, nil
	}
	return 0, fmt.Errorf("unknown topology %q: use 1 (one gateway), 2 (two gateways), 3 (failover) or star", s)
}

// Validate checks cfg's topology, spoke count and daemon choices, filling
// in the default topology, as Up does before it starts anything.
func (cfg *Config) Validate() error {
	if err := cfg.checkTopology(); err != nil {
		return err
	}
	return cfg.checkDaemons(cfg.gatewayNames())
}

// checkTopology validates cfg's topology and spoke count, filling defaults.
func (cfg *Config) checkTopology() error {
	if cfg.Topology == 0 {
		cfg.Topology = OneGateway
	}
	if cfg.Topology < OneGateway || cfg.Topology > Star {
		return fmt.Errorf("unknown topology %d: use 1 (one gateway), 2 (two gateways), 3 (failover) or 4 (star)", int(cfg.Topology))
	}
	if cfg.Topology != Star {
		if cfg.Spokes != 0 {
			return fmt.Errorf("spokes (%d) are only for the star topology, not %s", cfg.Spokes, cfg.Topology)
		}
		return nil
	}
	if cfg.Spokes < 1 || cfg.Spokes > MaxSpokes {
		return fmt.Errorf("a star needs 1 to %d spokes, not %d", MaxSpokes, cfg.Spokes)
	}
	return nil
}

// gatewayNames lists the gateways of cfg's topology.
func (cfg *Config) gatewayNames() []string {
	switch cfg.Topology {
	case OneGateway, TwoGateways, Failover:
		return []string{"a", "b", "c"}[:int(cfg.Topology)]
	case Star:
		names := []string{"hub"}
		for i := 1; i <= cfg.Spokes; i++ {
			names = append(names, SpokeName(i))
		}
		return names
	}
	return nil
}

// link joins two gateways with a veth pair. With bridge set, side a's end
// joins the bridge "br0" in a's namespace (whose address is addrA) instead of
// carrying an address itself.
type link struct {
	a, b         string // gateway names
	ifA, ifB     string // interface names inside each namespace
	addrA, addrB string // addresses with prefix length
	bridge       bool
}

// links lists the lab's links.
func (cfg *Config) links() []link {
	switch cfg.Topology {
	case TwoGateways:
		return []link{{"a", "b", "eth-b", "eth-a", "192.0.2.1/24", "192.0.2.2/24", false}}
	case Failover:
		return []link{
			{"a", "b", "eth-b", "eth-a", "192.0.2.1/24", "192.0.2.2/24", false},
			{"a", "c", "eth-c", "eth-a", "198.51.100.1/24", "198.51.100.2/24", false},
		}
	case Star:
		var out []link
		for i := 1; i <= cfg.Spokes; i++ {
			s := SpokeName(i)
			out = append(out, link{"hub", s, "eth-" + s, "eth-hub", HubAddr + "/16", SpokeAddr(i) + "/16", true})
		}
		return out
	}
	return nil
}

// newGateways creates the gateway handles of cfg's topology with their
// addresses and preloaded connections.
func newGateways(l *Lab, cfg *Config) []*Gateway {
	var gws []*Gateway
	for _, n := range cfg.gatewayNames() {
		dir := filepath.Join(l.Dir, n)
		g := &Gateway{
			Name:    n,
			Socket:  filepath.Join(dir, "charon.vici"),
			Netns:   "vl-" + l.ID + "-" + n,
			LogPath: filepath.Join(dir, "charon.log"),
			ConfDir: dir,
			lab:     l,
		}
		g.URI = "unix://" + g.Socket
		for _, lk := range l.links {
			if lk.a == n && !contains(g.Addrs, addrOnly(lk.addrA)) {
				g.Addrs = append(g.Addrs, addrOnly(lk.addrA))
			}
			if lk.b == n {
				g.Addrs = append(g.Addrs, addrOnly(lk.addrB))
			}
		}
		if len(g.Addrs) > 0 {
			g.Addr = g.Addrs[0]
		}
		gws = append(gws, g)
	}
	l.Gateways = gws // preload looks peers up by name
	for _, g := range gws {
		g.lo, g.conns = l.preload(g)
	}
	return gws
}

// preload returns the address gateway g has on lo (inside its own traffic
// selector) and the connections its swanctl.conf defines.
func (l *Lab) preload(g *Gateway) (lo string, conns []connSpec) {
	peer := func(name, remote, localTS, remoteTS string) connSpec {
		r := l.Gateway(remote)
		return connSpec{name: name, local: g.addrFor(r), remote: r.addrFor(g),
			localID: g.Name, remoteID: r.Name, localTS: localTS, remoteTS: remoteTS}
	}
	switch {
	case l.Topology == TwoGateways && g.Name == "a":
		return LocalA, []connSpec{peer("ab", "b", NetA, NetB)}
	case l.Topology == TwoGateways && g.Name == "b":
		return LocalB, []connSpec{peer("ab", "a", NetB, NetA)}
	case l.Topology == Failover && g.Name == "a":
		return LocalA, []connSpec{peer("primary", "b", NetA, NetB), peer("backup", "c", NetA, NetB)}
	case l.Topology == Failover && g.Name == "b":
		return LocalB, []connSpec{peer("primary", "a", NetB, NetA)}
	case l.Topology == Failover && g.Name == "c":
		return LocalB, []connSpec{peer("backup", "a", NetB, NetA)}
	case l.Topology == Star && g.Name == "hub":
		for i := 1; i <= l.Spokes; i++ {
			conns = append(conns, peer(SpokeName(i), SpokeName(i), HubNet, SpokeNet(i)))
		}
		return HubLocal, conns
	case l.Topology == Star:
		i, _ := strconv.Atoi(strings.TrimPrefix(g.Name, "s"))
		return SpokeLocal(i), []connSpec{peer("hub", "hub", SpokeNet(i), HubNet)}
	case g.Name == "a":
		return LocalA, nil
	}
	return LocalB, nil
}

// addrFor is g's address on the link towards peer.
func (g *Gateway) addrFor(peer *Gateway) string {
	for _, lk := range g.lab.links {
		if lk.a == g.Name && lk.b == peer.Name {
			return addrOnly(lk.addrA)
		}
		if lk.b == g.Name && lk.a == peer.Name {
			return addrOnly(lk.addrB)
		}
	}
	return g.Addr
}

func addrOnly(prefix string) string { return strings.Split(prefix, "/")[0] }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// setupNetwork creates the namespaces, the veth links, bridges and addresses.
func (l *Lab) setupNetwork(ctx context.Context) error {
	err := firstError(l.eachGateway(ctx, func(ctx context.Context, g *Gateway) error {
		if out, err := run(ctx, nil, "ip", "netns", "add", g.Netns); err != nil {
			return fmt.Errorf("ip netns add %s: %v: %s", g.Netns, err, out)
		}
		script := fmt.Sprintf("link set lo up\naddr add %s/32 dev lo\n", g.lo)
		for _, lk := range l.links {
			if lk.bridge && lk.a == g.Name && !strings.Contains(script, "br0") {
				script += fmt.Sprintf("link add br0 type bridge\naddr add %s dev br0\nlink set br0 up\n", lk.addrA)
			}
		}
		if out, err := run(ctx, strings.NewReader(script), "ip", "-n", g.Netns, "-batch", "-"); err != nil {
			return fmt.Errorf("set up lo in %s: %v: %s", g.Netns, err, out)
		}
		return nil
	}))
	if err != nil {
		return err
	}
	// Links are created one by one (each touches two namespaces); the
	// per-namespace configuration then runs in one batch per namespace.
	batch := map[string]*strings.Builder{}
	add := func(ns, format string, args ...any) {
		if batch[ns] == nil {
			batch[ns] = &strings.Builder{}
		}
		fmt.Fprintf(batch[ns], format, args...)
	}
	for _, lk := range l.links {
		ga, gb := l.Gateway(lk.a), l.Gateway(lk.b)
		if out, err := run(ctx, nil, "ip", "-n", ga.Netns, "link", "add", lk.ifA, "type", "veth", "peer", "name", lk.ifB, "netns", gb.Netns); err != nil {
			return fmt.Errorf("create veth %s-%s: %v: %s", lk.a, lk.b, err, out)
		}
		if lk.bridge {
			add(ga.Netns, "link set %s master br0\nlink set %s up\n", lk.ifA, lk.ifA)
		} else {
			add(ga.Netns, "addr add %s dev %s\nlink set %s up\n", lk.addrA, lk.ifA, lk.ifA)
		}
		add(gb.Netns, "addr add %s dev %s\nlink set %s up\n", lk.addrB, lk.ifB, lk.ifB)
	}
	return firstError(l.eachGateway(ctx, func(ctx context.Context, g *Gateway) error {
		b := batch[g.Netns]
		if b == nil {
			return nil
		}
		if out, err := run(ctx, strings.NewReader(b.String()), "ip", "-n", g.Netns, "-batch", "-"); err != nil {
			return fmt.Errorf("configure links in %s: %v: %s", g.Netns, err, out)
		}
		return nil
	}))
}

// eachGateway runs fn for every gateway, a few at a time, and returns the
// errors (nil when all succeeded); fn of a gateway not yet started is
// skipped once one has failed.
func (l *Lab) eachGateway(ctx context.Context, fn func(context.Context, *Gateway) error) []error {
	const workers = 4
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	next := make(chan *Gateway)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range next {
				if err := fn(ctx, g); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, g := range l.Gateways {
		mu.Lock()
		failed := len(errs) > 0
		mu.Unlock()
		if failed {
			break
		}
		next <- g
	}
	close(next)
	wg.Wait()
	return errs
}

// firstError returns errs[0] or nil.
func firstError(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}
