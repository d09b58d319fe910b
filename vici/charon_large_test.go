package vici_test

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
)

// TestCharonLargeMessages sends charon a connection whose request is some
// 300 KB (20,000 traffic selectors) and reads it back from list-conns in one
// event of the same size, item for item; a request over the 512 KiB packet
// limit is refused before anything is sent, and the client stays usable.
func TestCharonLargeMessages(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	ctx := charonCtx(t, 2*time.Minute)
	c := dialGateway(t, l.Gateway("a"), vici.Options{})

	tsList := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			a := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0x05, 0xec, 0x10 + byte(i>>12), 0, byte(i >> 8 & 0x0f), byte(i)}
			out[i] = netip.PrefixFrom(netip.AddrFrom16(a), 96).String()
		}
		return out
	}
	conn := func(n int) *vici.Message {
		child := vici.NewMessage().SetList("local_ts", "2001:db8:1::/48").SetList("remote_ts", tsList(n)...)
		return vici.NewMessage().
			SetList("remote_addrs", "203.0.113.9").
			SetSection("local", msg("auth", "psk", "id", "big.a")).
			SetSection("remote", msg("auth", "psk", "id", "big.peer")).
			SetSection("children", vici.NewMessage().SetSection("c", child))
	}
	const n = 10000
	req := section("big", conn(n))
	wire, err := req.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(wire) < 256<<10 {
		t.Fatalf("request only %d bytes; the test wants a large one", len(wire))
	}
	start := time.Now()
	mustSucceed(t, ctx, c, "load-conn", req)
	t.Logf("load-conn of %d bytes took %v", len(wire), time.Since(start))
	start = time.Now()
	entries := collect(t, ctx, c, "list-conns", "list-conn", msg("ike", "big"))
	t.Logf("list-conns took %v", time.Since(start))
	if len(entries) != 1 {
		t.Fatalf("list-conns ike=big: %d entries", len(entries))
	}
	_, big := onlySection(t, entries[0])
	got := big.Section("children").Section("c").List("remote-ts")
	if !slices.Equal(got, tsList(n)) {
		t.Fatalf("remote-ts came back with %d items, want the %d sent, in order", len(got), n)
	}
	if b, err := entries[0].MarshalBinary(); err != nil || len(b) < 200<<10 {
		t.Fatalf("list-conn event re-encodes to %d bytes, %v", len(b), err)
	}

	// Over the limit: a *ProtocolError, nothing sent.
	_, err = c.Call(ctx, "load-conn", section("huge", conn(20000)))
	var pe *vici.ProtocolError
	if !errors.As(err, &pe) || !errors.Is(err, vici.ErrProtocol) {
		t.Fatalf("a 600 KB request: want a *ProtocolError, got %v", err)
	}
	if got := mustCall(t, ctx, c, "get-conns", nil).List("conns"); !slices.Equal(got, []string{"big"}) {
		t.Fatalf("get-conns after the refused request: %v", got)
	}
}

// TestCharonStreamAndSubscriptionShareRegistration lists 10,000
// connections twice while a subscription on the same client also wants
// list-conn: each listing delivers every entry once to the stream, and the
// subscription sees each entry exactly once per listing (one EVENT_REGISTER
// between them, so the daemon never sends anything twice), intact although
// the stream released it.
func TestCharonStreamAndSubscriptionShareRegistration(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	ctx := charonCtx(t, 3*time.Minute)
	if err := l.LoadConns(ctx, "a", bulkConns); err != nil {
		t.Fatal(err)
	}
	c := dialGateway(t, l.Gateway("a"), vici.Options{})
	sub, err := c.Subscribe(ctx, "list-conn")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	perName := map[string]int{}
	total := 0
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev := range sub.Events() {
			mu.Lock()
			for _, e := range ev.Message.Entries() {
				perName[e.Name]++
			}
			total++
			mu.Unlock()
		}
	}()
	// The stream releases every entry: one the subscription also got must
	// not be recycled (the subscriber reads it later).
	const rounds = 2
	for round := 1; round <= rounds; round++ {
		tally := newConnTally()
		stream := c.CallStream
		if round == 2 {
			stream = c.CallStreamInline
		}
		_, err := stream(ctx, "list-conns", "list-conn", nil, func(m *vici.Message) error {
			defer m.Release()
			return tally.add(m)
		})
		if err != nil {
			t.Fatal(err)
		}
		tally.check(t, fmt.Sprintf("stream %d", round))
	}
	waitFor(t, ctx, "the subscription's copies", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return total >= rounds*bulkConns
	})
	sub.Close()
	wg.Wait()
	if total != rounds*bulkConns || len(perName) != bulkConns {
		t.Fatalf("subscription: %d events for %d names, want %d for %d", total, len(perName), rounds*bulkConns, bulkConns)
	}
	for name, n := range perName {
		if n != rounds {
			t.Fatalf("subscription: %s seen %d times, want %d", name, n, rounds)
		}
	}
}
