package vici_test

import (
	"bytes"
	"slices"
	"sync"
	"testing"

	"github.com/vicish/vicish/vici"
)

// decoded returns m decoded from its own encoding.
func decoded(t *testing.T, m *vici.Message) *vici.Message {
	t.Helper()
	enc, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var d vici.Message
	if err := d.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	return &d
}

// sameAPI checks that every read method of got answers like want's, in
// every section, before Entries is ever called on got. It reports with
// Errorf, so other goroutines may call it.
func sameAPI(t *testing.T, path string, want, got *vici.Message) {
	t.Helper()
	if got.Len() != want.Len() {
		t.Errorf("%s: Len %d, want %d", path, got.Len(), want.Len())
		return
	}
	if !slices.Equal(got.Keys(), want.Keys()) {
		t.Errorf("%s: Keys %q, want %q", path, got.Keys(), want.Keys())
		return
	}
	for _, name := range append(want.Keys(), "no-such-key", "x") {
		if got.Has(name) != want.Has(name) || got.Get(name) != want.Get(name) ||
			!slices.Equal(got.List(name), want.List(name)) ||
			(got.Section(name) == nil) != (want.Section(name) == nil) {
			t.Errorf("%s: %q reads differently", path, name)
			return
		}
		ge, gok := got.Lookup(name)
		we, wok := want.Lookup(name)
		if gok != wok || ge.Name != we.Name || ge.Kind != we.Kind || !bytes.Equal(ge.Value, we.Value) ||
			len(ge.List) != len(we.List) || (ge.Section == nil) != (we.Section == nil) {
			t.Errorf("%s: Lookup(%q) = %+v, want %+v", path, name, ge, we)
			return
		}
		for i := range we.List {
			if !bytes.Equal(ge.List[i], we.List[i]) {
				t.Errorf("%s: Lookup(%q).List[%d] = %q, want %q", path, name, i, ge.List[i], we.List[i])
				return
			}
		}
		if ge.Section != nil {
			if ge.Section != got.Section(name) {
				t.Errorf("%s: Lookup(%q).Section is not Section(%q)", path, name, name)
				return
			}
			sameAPI(t, path+"."+name, we.Section, ge.Section)
		}
	}
}

func TestDecodedMessageReadsLikeBuilt(t *testing.T) {
	for _, m := range []*vici.Message{
		vici.ListSA(3),
		vici.NewMessage(),
		vici.NewMessage().SetList("empty").SetSection("s", nil).Set("v", "").SetBytesList("b", [][]byte{{0}, {}, {0xff}}),
	} {
		d := decoded(t, m)
		sameAPI(t, "", m, d)
		if !equalMessages(m, d) {
			t.Fatal("Entries differ from the built message's")
		}
		// Section pointers from Entries are those from Section.
		for _, e := range d.Entries() {
			if e.Kind == vici.KindSection && e.Section != d.Section(e.Name) {
				t.Fatalf("Entries()[%q].Section is not Section(%q)", e.Name, e.Name)
			}
		}
	}
}

// sameAll checks that All yields what Entries holds, in order, in every
// section, and that breaking out of All or Items stops it.
func sameAll(t *testing.T, path string, m *vici.Message) {
	t.Helper()
	ents := m.Entries()
	i := 0
	for e := range m.All() {
		if i >= len(ents) {
			t.Errorf("%s: All yields more than the %d entries", path, len(ents))
			return
		}
		w := ents[i]
		i++
		if e.Name != w.Name || e.Kind != w.Kind || !bytes.Equal(e.Value, w.Value) || e.Section != w.Section {
			t.Errorf("%s: All yields %q %v, Entries has %q %v", path, e.Name, e.Kind, w.Name, w.Kind)
			return
		}
		if e.Len() != len(w.List) {
			t.Errorf("%s.%s: Len %d, want %d", path, e.Name, e.Len(), len(w.List))
		}
		j := 0
		for it := range e.Items() {
			if j >= len(w.List) || !bytes.Equal(it, w.List[j]) {
				t.Errorf("%s.%s: item %d is %q", path, e.Name, j, it)
				return
			}
			j++
		}
		if j != len(w.List) {
			t.Errorf("%s.%s: Items yields %d items, want %d", path, e.Name, j, len(w.List))
		}
		for range e.Items() {
			break // must not panic or go on
		}
		if e.Kind == vici.KindSection {
			sameAll(t, path+"."+e.Name, e.Section)
		}
	}
	if i != len(ents) {
		t.Errorf("%s: All yields %d entries, want %d", path, i, len(ents))
	}
	// A Cursor walks as All does; AppendItems appends what Items yields.
	c := m.Cursor()
	var e vici.Element
	k := 0
	for c.Next(&e) {
		if k >= len(ents) {
			t.Errorf("%s: the cursor goes past the %d entries", path, len(ents))
			return
		}
		w := ents[k]
		k++
		if e.Name != w.Name || e.Kind != w.Kind || !bytes.Equal(e.Value, w.Value) || e.Section != w.Section || e.Len() != len(w.List) {
			t.Errorf("%s: the cursor is at %q %v, Entries has %q %v", path, e.Name, e.Kind, w.Name, w.Kind)
			return
		}
		head := []byte("head")
		got := e.AppendItems([][]byte{head})
		if len(got) != 1+len(w.List) || !bytes.Equal(got[0], head) {
			t.Errorf("%s.%s: AppendItems gives %q", path, e.Name, got)
			return
		}
		for j, it := range w.List {
			if !bytes.Equal(got[1+j], it) {
				t.Errorf("%s.%s: AppendItems' item %d is %q, want %q", path, e.Name, j, got[1+j], it)
			}
		}
	}
	if k != len(ents) || c.Next(&e) {
		t.Errorf("%s: the cursor walks %d entries, want %d, and then stops", path, k, len(ents))
	}
	n := 0
	for range m.All() {
		n++
		break
	}
	if n > 1 {
		t.Errorf("%s: All goes on after break", path)
	}
}

func TestAllWalksLikeEntries(t *testing.T) {
	for _, m := range []*vici.Message{
		vici.ListSA(3),
		vici.NewMessage(),
		nil,
		vici.NewMessage().SetList("empty").SetSection("s", nil).Set("v", "").SetBytesList("b", [][]byte{{0}, {}, {0xff}}).
			SetSection("", vici.NewMessage().SetList("", "", "x")),
	} {
		sameAll(t, "built", m)
		if m != nil {
			sameAll(t, "decoded", decoded(t, m))
		}
	}
}

// Walking a decoded message with All or a Cursor builds nothing.
func TestAllAllocatesNothing(t *testing.T) {
	d := decoded(t, vici.ListSA(5))
	if n := testing.AllocsPerRun(20, func() { walkAll(d) }); n != 0 {
		t.Errorf("All over a decoded message allocates %v times", n)
	}
	var items [][]byte
	var walk func(m *vici.Message)
	walk = func(m *vici.Message) {
		c := m.Cursor()
		var e vici.Element
		for c.Next(&e) {
			switch e.Kind {
			case vici.KindList:
				items = e.AppendItems(items[:0])
			case vici.KindSection:
				walk(e.Section)
			}
		}
	}
	walk(d) // items grows to the longest list
	if n := testing.AllocsPerRun(20, func() { walk(d) }); n != 0 {
		t.Errorf("a Cursor over a decoded message allocates %v times", n)
	}
	var zero vici.Cursor
	if zero.Next(new(vici.Element)) {
		t.Error("the zero Cursor has an entry")
	}
}

func TestDecodedMessageChanges(t *testing.T) {
	build := func() *vici.Message {
		return vici.NewMessage().Set("a", "1").SetList("l", "x", "y").
			SetSection("s", vici.NewMessage().Set("k", "v").SetSection("deep", vici.NewMessage().Set("z", "0"))).
			Set("b", "2")
	}
	change := func(m *vici.Message) {
		m.Set("a", "one") // keeps its position
		m.Delete("l")
		m.Section("s").Set("k2", "v2")
		m.Section("s").Section("deep").Delete("z")
		m.Append(vici.Entry{Name: "c", Kind: vici.KindValue, Value: []byte("3")})
	}
	want, got := build(), decoded(t, build())
	// Read first, then change: the change must not be lost or leak.
	sameAPI(t, "", want, got)
	before := decoded(t, build())
	change(want)
	change(got)
	sameAPI(t, "", want, got)
	we, _ := want.MarshalBinary()
	ge, err := got.MarshalBinary()
	if err != nil || !bytes.Equal(ge, we) {
		t.Fatalf("changed decoded message encodes as %q (%v), want %q", ge, err, we)
	}
	// Another decoded message of the same bytes is unaffected.
	sameAPI(t, "", build(), before)
}

func TestDecodedMessageConcurrentReaders(t *testing.T) {
	m := vici.ListSA(20)
	enc, _ := m.MarshalBinary()
	for range 20 {
		d := decoded(t, m)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sec := d
				if g%2 == 1 {
					sec = d.Section(d.Keys()[0]).Section("child-sas")
				}
				if n := walkEntries(sec); g%2 == 0 && n != len(enc) {
					t.Errorf("walked %d bytes, want %d", n, len(enc))
				}
				sameAPI(t, "", m, d)
			}()
		}
		wg.Wait()
	}
}
