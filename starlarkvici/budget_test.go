package starlarkvici

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
	"github.com/vicish/vicish/vici/vicitest"
	"go.starlark.net/starlark"
)

func decoded(m *vici.Message) *vici.Message {
	b, err := m.MarshalBinary()
	if err != nil {
		panic(err)
	}
	var d vici.Message
	if err := d.UnmarshalBinary(b); err != nil {
		panic(err)
	}
	return &d
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// fromConverter.made, which the listing budget counts, is what the
// converted values take, within 15%, for entries of every shape: a
// hostile daemon cannot pick a shape that takes much more memory than
// the budget says.
func TestConvertedSize(t *testing.T) {
	shapes := map[string]func(i int) *vici.Message{
		"entry500k": func(i int) *vici.Message { return vicitest.Entry(500 << 10) },
		"tiny":      func(i int) *vici.Message { return vici.NewMessage().Set("k", strconv.Itoa(i)) },
		"kv100": func(i int) *vici.Message {
			m := vici.NewMessage()
			for j := range 100 {
				m.Set("key-"+strconv.Itoa(j), "v"+strconv.Itoa(i*100+j))
			}
			return m
		},
		"sec100": func(i int) *vici.Message {
			m := vici.NewMessage()
			for j := range 100 {
				m.SetSection("s"+strconv.Itoa(j), vici.NewMessage().Set("k", strconv.Itoa(i*100+j)))
			}
			return m
		},
		"emptysec100": func(i int) *vici.Message {
			m := vici.NewMessage()
			for j := range 100 {
				m.SetSection("s"+strconv.Itoa(j), vici.NewMessage())
			}
			return m
		},
		"list100": func(i int) *vici.Message {
			var items []string
			for j := range 100 {
				items = append(items, strconv.Itoa(i*100+j))
			}
			return vici.NewMessage().SetList("l", items...)
		},
		"bigvalue": func(i int) *vici.Message {
			return vici.NewMessage().Set("k", fmt.Sprintf("%05000d", i))
		},
		"conn": func(i int) *vici.Message {
			n := "bulk" + strconv.Itoa(i)
			return vici.NewMessage().SetSection(n, vici.NewMessage().
				SetList("local_addrs", "%any").SetList("remote_addrs", "203.0.113.1").
				Set("version", "IKEv2").Set("reauth_time", "0").Set("rekey_time", "14400").Set("unique", "UNIQUE_NO").
				SetSection("local-1", vici.NewMessage().Set("class", "pre-shared key").Set("id", n+".a").SetList("groups").SetList("cert_policy").SetList("certs").SetList("cacerts")).
				SetSection("remote-1", vici.NewMessage().Set("class", "pre-shared key").Set("id", n+".peer").SetList("groups").SetList("cert_policy").SetList("certs").SetList("cacerts")).
				SetSection("children", vici.NewMessage().SetSection("net", vici.NewMessage().Set("mode", "TUNNEL").Set("rekey_time", "3600").Set("rekey_bytes", "0").Set("rekey_packets", "0").Set("dpd_action", "clear").Set("close_action", "none").SetList("local-ts", "10.1.0.0/24").SetList("remote-ts", "10.100."+strconv.Itoa(i%256)+".0/24"))))
		},
	}
	for name, mk := range shapes {
		N := 2000
		if name == "entry500k" {
			N = 10
		}
		msgs := make([]*vici.Message, N)
		for i := range msgs {
			msgs[i] = decoded(mk(i))
		}
		before := heap()
		var conv fromConverter
		entries := make([]starlark.Value, 0, N)
		for _, m := range msgs {
			entries = append(entries, conv.dict(m))
		}
		after := heap()
		runtime.KeepAlive(entries)
		runtime.KeepAlive(msgs)
		actual := float64(after-before) / float64(N)
		made := float64(conv.made)/float64(N) + valueBytes // and the entries' list
		t.Logf("%-12s: %6.0f bytes an entry, counted %6.0f", name, actual, made)
		if made < 0.85*actual || made > 1.15*actual {
			t.Errorf("%s: counted %.0f bytes an entry, but the values take %.0f", name, made, actual)
		}
	}
}

// A listing collected into a list has a memory budget (issue 16): past it
// the command fails naming itself, what was received and each=; with
// each= there is no budget; a group's members share one, and a member
// past it gets the error in its place.
func TestListingBudget(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := l.LoadConns(ctx, "a", 60); err != nil {
		t.Fatal(err)
	}
	runGuarded(t, l, Config{MaxListing: 64 << 10}, time.Minute, `
load("assert.star", "assert")
assert.fails(lambda: vici.list_conns(), "vici.list_conns: the listing's first [0-9]+ entries \\([0-9.]+ KiB from the daemon\\) take more memory than its budget of 64 KiB; pass each= to handle the entries one at a time")
n = []
vici.list_conns(each=lambda e: n.append(1))
assert.eq(len(n), 60)
assert.eq(len(vici.list_conns(ike="bulk1")), 1)    # small listings go on working
g = vici.group({"one": lab.a.uri, "two": lab.a.uri})
r = g.list_conns()
assert.true("take more memory than its budget of 64 KiB" in r["one"]["error"] + r["two"]["error"], r)
assert.eq(len(g.list_conns(ike="bulk2")["two"]), 1)
`)
	runGuarded(t, l, Config{MaxListing: -1}, time.Minute, `
load("assert.star", "assert")
assert.eq(len(vici.list_conns()), 60)
`)
}

// One entry over the budget reads as one: "first entry ... takes".
func TestListingErrorOneEntry(t *testing.T) {
	for _, c := range []struct {
		entries int
		want    string
	}{
		{1, "the listing's first entry (600 KiB from the daemon) takes more memory than its budget of 512 KiB;"},
		{2, "the listing's first 2 entries (600 KiB from the daemon) take more memory than its budget of 512 KiB;"},
	} {
		err := &ListingError{Entries: c.entries, Received: 600 << 10, Budget: 512 << 10}
		if !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%d entries: %q, want it to start with %q", c.entries, err.Error(), c.want)
		}
	}
}
