package starlarkvici

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// listConnEntry builds the list-conn event charon 5.9.8 sends for the
// lab's bulk connection i (internal/lab LoadConns), decoded from its
// encoding as the engine hands it over.
func listConnEntry(tb testing.TB, i int) *vici.Message {
	auth := func(id string) *vici.Message {
		return vici.NewMessage().Set("id", id).Set("class", "pre-shared key").
			SetList("groups").SetList("cert_policy").SetList("certs").SetList("cacerts")
	}
	name := fmt.Sprintf("bulk%d", i)
	child := vici.NewMessage().Set("mode", "TUNNEL").Set("rekey_time", "3600").Set("rekey_bytes", "0").
		Set("rekey_packets", "0").Set("dpd_action", "none").Set("close_action", "none").
		SetList("local-ts", "10.1.0.0/24").SetList("remote-ts", fmt.Sprintf("10.%d.%d.0/24", 100+i/65536%100, i/256%256))
	conn := vici.NewMessage().SetList("local_addrs", "%any").SetList("remote_addrs", "203.0.113.1").
		Set("version", "IKEv2").Set("reauth_time", "0").Set("rekey_time", "14400").Set("unique", "UNIQUE_NEVER").
		SetSection("local-1", auth(name+".a")).SetSection("remote-1", auth(name+".peer")).
		SetSection("children", vici.NewMessage().SetSection("net", child))
	enc, err := vici.NewMessage().SetSection(name, conn).MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	var m vici.Message
	if err := m.UnmarshalBinary(enc); err != nil {
		tb.Fatal(err)
	}
	return &m
}

// One converter serves a whole listing: what it shares between entries
// must be immutable (strings), never a list or a dict, and its bounded
// table must not change a value however many distinct strings pass.
func TestFromConverterSharesOnlyStrings(t *testing.T) {
	var c fromConverter
	first, second := c.dict(listConnEntry(t, 1)), c.dict(listConnEntry(t, 2))
	for i, d := range []*starlark.Dict{first, second} {
		if want := FromMessage(listConnEntry(t, i+1)).String(); d.String() != want {
			t.Fatalf("entry %d: got %s\nwant %s", i+1, d, want)
		}
	}
	conn := func(d *starlark.Dict, name string) *starlark.Dict {
		v, _, _ := d.Get(starlark.String(name))
		return v.(*starlark.Dict)
	}
	addrs := func(d *starlark.Dict) *starlark.List {
		v, _, _ := d.Get(starlark.String("remote_addrs"))
		return v.(*starlark.List)
	}
	a, b := conn(first, "bulk1"), conn(second, "bulk2")
	if err := addrs(a).Append(starlark.String("192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if err := conn(a, "local-1").SetKey(starlark.String("id"), starlark.String("changed")); err != nil {
		t.Fatal(err)
	}
	if addrs(b).Len() != 1 || addrs(a).Len() != 2 {
		t.Fatalf("changing one entry's list changed another's: %v, %v", addrs(a), addrs(b))
	}
	if v, _, _ := conn(b, "local-1").Get(starlark.String("id")); v != starlark.String("bulk2.a") {
		t.Errorf("changing one entry's dict changed another's: id = %v", v)
	}

	// Many distinct short strings, long ones and bytes, twice: the table
	// evicts, values stay right.
	m := vici.NewMessage()
	for i := range 3000 {
		m.Set(fmt.Sprintf("k%d", i%1500), fmt.Sprintf("v%d", i))
	}
	m.Set("long", strings.Repeat("x", 100)).SetBytes("bin", []byte{0xff, 0xfe})
	enc, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var dm vici.Message
	if err := dm.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	want := FromMessage(m).String()
	for round := range 2 {
		if got := c.dict(&dm).String(); got != want {
			t.Fatalf("round %d: converting through a full table changed the result", round)
		}
	}
}

// BenchmarkFromMessageListConns converts 10,000 decoded list-conn entries
// to Starlark values as vici.list_conns() does, keeping every result (a
// script holds the list), so the collector's work on the result counts.
func BenchmarkFromMessageListConns(b *testing.B) {
	const n = 10000
	msgs := make([]*vici.Message, n)
	for i := range msgs {
		msgs[i] = listConnEntry(b, i+1)
	}
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		var c fromConverter
		out := make([]starlark.Value, n)
		for i, m := range msgs {
			out[i] = c.dict(m)
		}
	}
	cpu.report(b)
}

// cpuClock measures the CPU time (user + system) the process spends,
// which a busy machine inflates less than wall time.
type cpuClock time.Duration

func startCPU() cpuClock { return cpuClock(processCPU()) }

// report adds the CPU time per iteration since c started, as cpu-ms/op.
func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(processCPU()-time.Duration(c))/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
