package vici_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
)

const (
	bulkConns = 10000 // connections loaded for the listing tests
	bulkSAs   = 1000  // IKE+CHILD SAs brought up for the event test
)

// bulkIndex parses a connection name prefix<i> and returns i, or 0.
func bulkIndex(name, prefix string) int {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0
	}
	i, err := strconv.Atoi(rest)
	if err != nil {
		return 0
	}
	return i
}

// connTally checks that a list-conns run delivers each bulk connection
// exactly once.
type connTally struct {
	seen  []bool
	count int
	other []string
}

func newConnTally() *connTally { return &connTally{seen: make([]bool, bulkConns+1)} }

func (c *connTally) add(m *vici.Message) error {
	es := m.Entries()
	if len(es) != 1 || es[0].Kind != vici.KindSection {
		return fmt.Errorf("list-conn entry %d has keys %v, want one section", c.count+1, m.Keys())
	}
	i := bulkIndex(es[0].Name, "bulk")
	if i < 1 || i > bulkConns {
		c.other = append(c.other, strings.Clone(es[0].Name)) // m may be released
		return nil
	}
	if c.seen[i] {
		return fmt.Errorf("connection %s listed twice", es[0].Name)
	}
	if got := es[0].Section.List("remote_addrs"); len(got) != 1 || got[0] != "203.0.113.1" {
		return fmt.Errorf("connection %s: remote_addrs %v", es[0].Name, got)
	}
	c.seen[i] = true
	c.count++
	return nil
}

func (c *connTally) check(t *testing.T, round string) {
	t.Helper()
	if c.count != bulkConns || len(c.other) != 0 {
		missing := 0
		for i := 1; i <= bulkConns; i++ {
			if !c.seen[i] {
				missing++
			}
		}
		t.Fatalf("%s: %d of %d connections listed (%d missing), others %v", round, c.count, bulkConns, missing, c.other)
	}
}

// TestCharonNoLossListConns lists 10,000 loaded connections 24 times in a
// row, rotating the iterator, the callback and the inline callback forms,
// every other time releasing each entry once counted (so that later
// entries are read into its memory), and once more with a consumer that
// sleeps 1 ms per entry while another goroutine waits to use the same
// client: every run delivers all of them, once each.
func TestCharonNoLossListConns(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	ctx := charonCtx(t, 3*time.Minute)
	start := time.Now()
	if err := l.LoadConns(ctx, "a", bulkConns); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d connections in %v", bulkConns, time.Since(start))
	c := dialGateway(t, l.Gateway("a"), vici.Options{})
	start = time.Now()

	const rounds = 24
	for round := 1; round <= rounds; round++ {
		tally := newConnTally()
		release := round%2 == 0
		add := func(m *vici.Message) error {
			err := tally.add(m)
			if release {
				m.Release()
			}
			return err
		}
		name := fmt.Sprintf("round %d", round)
		if release {
			name += ", released"
		}
		var reply *vici.Message
		var err error
		switch round % 3 {
		case 0:
			name += " (Stream)"
			for m, err := range c.Stream(ctx, "list-conns", "list-conn", nil) {
				if err != nil {
					t.Fatalf("%s: %v after %d entries", name, err, tally.count)
				}
				if err := add(m); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
			reply = vici.NewMessage()
		case 1:
			name += " (CallStream)"
			reply, err = c.CallStream(ctx, "list-conns", "list-conn", nil, add)
		case 2:
			name += " (CallStreamInline)"
			reply, err = c.CallStreamInline(ctx, "list-conns", "list-conn", nil, add)
		}
		if err != nil {
			t.Fatalf("%s: %v after %d entries", name, err, tally.count)
		}
		if reply.Len() != 0 {
			t.Errorf("%s: list-conns reply has keys %v, want none", name, reply.Keys())
		}
		tally.check(t, name)
	}

	t.Logf("listed them %d times in %v", rounds, time.Since(start))
	start = time.Now()

	// A slow consumer: 1 ms per entry. Meanwhile another goroutine calls
	// version on the same client; it must wait for the stream and get the
	// version, not a stray list-conn.
	tally := newConnTally()
	started := make(chan struct{})
	var wg sync.WaitGroup
	var version *vici.Message
	var versionErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-started
		version, versionErr = c.Call(ctx, "version", nil)
	}()
	_, err := c.CallStream(ctx, "list-conns", "list-conn", nil, func(m *vici.Message) error {
		if tally.count == 0 {
			close(started)
		}
		time.Sleep(time.Millisecond)
		return tally.add(m)
	})
	if err != nil {
		t.Fatalf("slow consumer: %v after %d entries", err, tally.count)
	}
	tally.check(t, "slow consumer")
	t.Logf("slow consumer took %v", time.Since(start))
	wg.Wait()
	if versionErr != nil || version.Get("daemon") != "charon" || !version.Has("version") {
		t.Fatalf("version during the slow stream: %v, keys %v", versionErr, version.Keys())
	}

	// Leaving a 10,000-entry stream after 10 entries leaves the client in
	// sync: the next full listing is complete.
	n := 0
	for _, err := range c.Stream(ctx, "list-conns", "list-conn", nil) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 10 {
			break
		}
	}
	tally = newConnTally()
	if _, err := c.CallStream(ctx, "list-conns", "list-conn", nil, tally.add); err != nil {
		t.Fatal(err)
	}
	tally.check(t, "after leaving a stream early")
}

// updownTally counts up events per SA for one subscriber.
type updownTally struct {
	mu         sync.Mutex
	ike, child map[int]int // SA index -> up events seen
	other      []string
	full       chan struct{} // closed once every SA has both events
	fullOnce   sync.Once
}

func newUpdownTally() *updownTally {
	return &updownTally{ike: map[int]int{}, child: map[int]int{}, full: make(chan struct{})}
}

// consume drains sub until it is closed, sleeping delay per event.
func (u *updownTally) consume(sub *vici.Subscription, delay time.Duration, done *sync.WaitGroup) {
	defer done.Done()
	for ev := range sub.Events() {
		if delay > 0 {
			time.Sleep(delay)
		}
		u.mu.Lock()
		u.add(ev)
		if len(u.ike) == bulkSAs && len(u.child) == bulkSAs {
			u.fullOnce.Do(func() { close(u.full) })
		}
		u.mu.Unlock()
	}
}

func (u *updownTally) add(ev vici.Event) {
	if ev.Message == nil {
		u.other = append(u.other, fmt.Sprintf("%q reconnected=%v", ev.Name, ev.Reconnected))
		return
	}
	if ev.Message.Get("up") != "yes" {
		u.other = append(u.other, ev.Name+" down")
		return
	}
	var name string
	var body *vici.Message
	for _, e := range ev.Message.Entries() {
		if e.Kind == vici.KindSection {
			name, body = e.Name, e.Section
		}
	}
	i := bulkIndex(name, "sa")
	if i < 1 || i > bulkSAs || body == nil {
		u.other = append(u.other, ev.Name+" "+name)
		return
	}
	switch ev.Name {
	case "ike-updown":
		u.ike[i]++
	case "child-updown":
		if cs := body.Section("child-sas"); cs == nil || cs.Len() != 1 {
			u.other = append(u.other, "child-updown without one child: "+name)
			return
		}
		u.child[i]++
	default:
		u.other = append(u.other, ev.Name)
	}
}

func (u *updownTally) check(t *testing.T, who string) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, kind := range []struct {
		name string
		m    map[int]int
	}{{"ike-updown", u.ike}, {"child-updown", u.child}} {
		if len(kind.m) != bulkSAs {
			t.Errorf("%s: %s up for %d of %d SAs", who, kind.name, len(kind.m), bulkSAs)
		}
		for i, n := range kind.m {
			if n != 1 {
				t.Errorf("%s: %s up for sa%d received %d times", who, kind.name, i, n)
			}
		}
	}
	if len(u.other) > 0 {
		t.Errorf("%s: unexpected events: %v", who, u.other[:min(len(u.other), 10)])
	}
}

// TestCharonNoLossUpdown brings up 1,000 IKE+CHILD SAs in bulk and checks
// that subscribers registered before receive every ike-updown and
// child-updown, exactly once: a fast one and a slow one (a 4-event queue,
// 1 ms per event) on the initiator, and one on the responder.
func TestCharonNoLossUpdown(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	ctx := charonCtx(t, 3*time.Minute)
	subscribers := []struct {
		name  string
		gw    string
		opts  vici.Options
		delay time.Duration
	}{
		{"a", "a", vici.Options{}, 0},
		{"a, slow", "a", vici.Options{EventBuffer: 4}, time.Millisecond},
		{"b", "b", vici.Options{}, 0},
	}
	var done sync.WaitGroup
	var subs []*vici.Subscription
	var tallies []*updownTally
	for _, s := range subscribers {
		c := dialGateway(t, l.Gateway(s.gw), s.opts)
		sub, err := c.Subscribe(ctx, "ike-updown", "child-updown")
		if err != nil {
			t.Fatal(err)
		}
		u := newUpdownTally()
		done.Add(1)
		go u.consume(sub, s.delay, &done)
		subs, tallies = append(subs, sub), append(tallies, u)
	}
	start := time.Now()
	if err := l.BringUpSAs(ctx, bulkSAs); err != nil {
		t.Fatalf("%v%s", err, logTails(l))
	}
	t.Logf("%d SAs up in %v", bulkSAs, time.Since(start))
	for i, u := range tallies {
		select {
		case <-u.full:
		case <-ctx.Done():
			u.check(t, subscribers[i].name)
			t.Fatalf("subscriber %s: not every event arrived: %v", subscribers[i].name, ctx.Err())
		}
	}
	// Close, then count what was still queued: nothing may come twice.
	for _, sub := range subs {
		sub.Close()
	}
	done.Wait()
	for i, u := range tallies {
		u.check(t, subscribers[i].name)
	}
}
