package main

import (
	"testing"

	"github.com/vicish/vicish/starlarkvici"
	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// TestNativeBuilderBuildsWhatVicishReturns: the floor measures the result
// vicish builds, so both must make equal values of a list-conn entry.
func TestNativeBuilderBuildsWhatVicishReturns(t *testing.T) {
	auth := func(id string) *vici.Message {
		return vici.NewMessage().Set("id", id).Set("class", "pre-shared key").
			SetList("groups").SetList("cert_policy").SetList("certs").SetList("cacerts")
	}
	net := vici.NewMessage().Set("mode", "TUNNEL").Set("rekey_time", "3600").
		SetList("local-ts", "10.1.0.0/24").SetList("remote-ts", "10.100.0.0/24", "10.101.0.0/24")
	conn := vici.NewMessage().SetList("local_addrs", "%any").SetList("remote_addrs", "203.0.113.1").
		Set("version", "IKEv2").Set("unique", "UNIQUE_NEVER").Set("empty", "").
		SetSection("local-1", auth("bulk7.a")).SetSection("remote-1", auth("bulk7.peer")).
		SetSection("children", vici.NewMessage().SetSection("net", net))
	m := vici.NewMessage().SetSection("bulk7", conn)
	wire, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b := new(nativeBuilder)
	for range 2 { // the second time from shared strings
		got, err := b.section(wire)
		if err != nil {
			t.Fatal(err)
		}
		want := starlarkvici.FromMessage(m)
		if eq, err := starlark.Equal(got, want); err != nil || !eq {
			t.Fatalf("floor built\n%v\nvicish builds\n%v", got, want)
		}
	}
}
