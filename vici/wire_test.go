package vici_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vicish/vicish/vici"
)

// protocolExample is the encoding example of the VICI protocol description,
// byte for byte.
var protocolExample = []byte{
	3, 4, 'k', 'e', 'y', '1', 0, 6, 'v', 'a', 'l', 'u', 'e', '1',
	1, 8, 's', 'e', 'c', 't', 'i', 'o', 'n', '1',
	1, 11, 's', 'u', 'b', '-', 's', 'e', 'c', 't', 'i', 'o', 'n',
	3, 4, 'k', 'e', 'y', '2', 0, 6, 'v', 'a', 'l', 'u', 'e', '2',
	2,
	4, 5, 'l', 'i', 's', 't', '1',
	5, 0, 5, 'i', 't', 'e', 'm', '1',
	5, 0, 5, 'i', 't', 'e', 'm', '2',
	6,
	2,
}

func exampleMessage() *vici.Message {
	sub := vici.NewMessage().Set("key2", "value2")
	sec := vici.NewMessage().SetSection("sub-section", sub).SetList("list1", "item1", "item2")
	return vici.NewMessage().Set("key1", "value1").SetSection("section1", sec)
}

func TestEncodeProtocolExample(t *testing.T) {
	got, err := exampleMessage().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, protocolExample) {
		t.Fatalf("encoding differs from the protocol example:\n got %v\nwant %v", got, protocolExample)
	}
}

func TestDecodeProtocolExample(t *testing.T) {
	var m vici.Message
	if err := m.UnmarshalBinary(protocolExample); err != nil {
		t.Fatal(err)
	}
	if got := m.Get("key1"); got != "value1" {
		t.Errorf("key1 = %q", got)
	}
	sec := m.Section("section1")
	if got := sec.Section("sub-section").Get("key2"); got != "value2" {
		t.Errorf("section1.sub-section.key2 = %q", got)
	}
	if got := strings.Join(sec.List("list1"), ","); got != "item1,item2" {
		t.Errorf("section1.list1 = %q", got)
	}
	if got := strings.Join(sec.Keys(), ","); got != "sub-section,list1" {
		t.Errorf("section1 keys in order = %q", got)
	}
}

func TestRoundTripKeepsOrderAndBytes(t *testing.T) {
	der := []byte{0x30, 0x82, 0x00, 0xff, 0x00, 0x01, 0xfe, 0x80}
	m := vici.NewMessage().
		Set("zeta", "1").
		SetBytes("data", der).
		SetSection("local-2", vici.NewMessage().Set("auth", "psk")).
		SetSection("local-1", vici.NewMessage().Set("auth", "pubkey")).
		Set("alpha", "").
		SetBytesList("blobs", [][]byte{{0}, {}, {0xff, 0xfe}})
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back vici.Message
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(back.Keys(), ","); got != "zeta,data,local-2,local-1,alpha,blobs" {
		t.Errorf("order = %s", got)
	}
	e, _ := back.Lookup("data")
	if !bytes.Equal(e.Value, der) {
		t.Errorf("data = %x, want %x", e.Value, der)
	}
	bl, _ := back.Lookup("blobs")
	if len(bl.List) != 3 || !bytes.Equal(bl.List[0], []byte{0}) || len(bl.List[1]) != 0 || !bytes.Equal(bl.List[2], []byte{0xff, 0xfe}) {
		t.Errorf("blobs = %q", bl.List)
	}
	again, err := back.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, b) {
		t.Errorf("re-encoding differs")
	}
}

func TestEmptyListAndSectionRoundTrip(t *testing.T) {
	m := vici.NewMessage().SetList("l").SetSection("s", nil)
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{4, 1, 'l', 6, 1, 1, 's', 2}
	if !bytes.Equal(b, want) {
		t.Fatalf("got %v, want %v", b, want)
	}
	var back vici.Message
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	l, ok := back.Lookup("l")
	if !ok || l.Kind != vici.KindList || len(l.List) != 0 {
		t.Errorf("l = %+v", l)
	}
	s, ok := back.Lookup("s")
	if !ok || s.Kind != vici.KindSection || s.Section.Len() != 0 {
		t.Errorf("s = %+v", s)
	}
	var empty vici.Message
	if err := empty.UnmarshalBinary(nil); err != nil || empty.Len() != 0 {
		t.Errorf("empty message: %v, %d entries", err, empty.Len())
	}
}

// charon names the global section of get-counters "" (the counters
// plugin), so empty names are valid for sections, keys and lists alike.
func TestEmptyNamesRoundTrip(t *testing.T) {
	global := vici.NewMessage().Set("ike-init-in-req", "0").Set("", "empty key")
	m := vici.NewMessage().
		SetSection("counters", vici.NewMessage().
			SetSection("", global).
			SetSection("ab", vici.NewMessage().Set("ike-init-out-req", "1"))).
		SetList("", "x", "").
		Set("success", "yes")
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{1, 8, 'c', 'o', 'u', 'n', 't', 'e', 'r', 's', 1, 0}
	if !bytes.HasPrefix(b, want) {
		t.Fatalf("encoding starts %v, want %v", b[:len(want)], want)
	}
	var back vici.Message
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	sameAPI(t, "", m, &back)
	c := back.Section("counters")
	if got := strings.Join(c.Keys(), ","); got != ",ab" {
		t.Errorf("counters keys = %q, want \",ab\"", got)
	}
	g := c.Section("")
	if g == nil || g.Get("ike-init-in-req") != "0" || g.Get("") != "empty key" {
		t.Errorf("counters.\"\" = %v", g)
	}
	if got := back.List(""); len(got) != 2 || got[0] != "x" || got[1] != "" {
		t.Errorf("list \"\" = %q", got)
	}
	if !equalMessages(m, &back) {
		t.Error("Entries differ after the round trip")
	}
	again, err := back.MarshalBinary()
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("re-encoding differs (%v)", err)
	}
}

func TestUnmarshalCopiesInput(t *testing.T) {
	b := []byte{3, 1, 'k', 0, 1, 'v'}
	var m vici.Message
	if err := m.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	b[5] = 'x'
	if got := m.Get("k"); got != "v" {
		t.Errorf("decoded value changed with the input: %q", got)
	}
}

func TestEncodeLimits(t *testing.T) {
	nested := vici.NewMessage()
	cur := nested
	for range vici.MaxDepth {
		next := vici.NewMessage()
		cur.SetSection("a", next)
		cur = next
	}
	tooDeep := vici.NewMessage()
	cur = tooDeep
	for range vici.MaxDepth + 1 {
		next := vici.NewMessage()
		cur.SetSection("a", next)
		cur = next
	}
	dup := vici.NewMessage().SetSection("conns", vici.NewMessage().SetSection("gw", vici.NewMessage()))
	dup.Section("conns").Section("gw").Append(vici.Entry{Name: "children", Kind: vici.KindValue})
	dup.Section("conns").Section("gw").Append(vici.Entry{Name: "children", Kind: vici.KindValue})
	bigDup := vici.NewMessage()
	for i := range 100 {
		bigDup.Set(strings.Repeat("k", i+1), "v")
	}
	bigDup.Append(vici.Entry{Name: "kk", Kind: vici.KindValue})

	// 512 KiB exactly: many values of 65535 bytes plus padding.
	full := func(total int) *vici.Message {
		m := vici.NewMessage()
		left := total
		for i := 0; left > 0; i++ {
			name := string(rune('a'+i/26)) + string(rune('a'+i%26))
			n := min(left-6, vici.MaxValueLen) // type, name length, 2-byte name, value length
			m.SetBytes(name, make([]byte, n))
			left -= 6 + n
		}
		return m
	}
	cases := []struct {
		name string
		msg  *vici.Message
		path string // "" = must succeed
		why  string
	}{
		{"name255", vici.NewMessage().Set(strings.Repeat("n", 255), "v"), "", ""},
		{"name256", vici.NewMessage().SetSection("s", vici.NewMessage().Set(strings.Repeat("n", 256), "v")), `s."` + strings.Repeat("n", 40) + `"...`, "exceeds the 255 byte limit"},
		{"emptyName", vici.NewMessage().Set("", "v"), "", ""},
		{"emptyNameInPath", vici.NewMessage().SetSection("", vici.NewMessage().SetBytes("", make([]byte, 65536))), `"".""`, "exceeds the 65535 byte limit"},
		{"emptyNameDuplicate", func() *vici.Message {
			m := vici.NewMessage().Set("", "a")
			m.Append(vici.Entry{Name: "", Kind: vici.KindValue})
			return m
		}(), `""`, "duplicate key"},
		{"nonPrintable", vici.NewMessage().Set("a\x01", "v"), `"a\x01"`, "non-printable"},
		{"value65535", vici.NewMessage().SetBytes("v", make([]byte, 65535)), "", ""},
		{"value65536", vici.NewMessage().SetSection("x", vici.NewMessage().SetBytes("v", make([]byte, 65536))), "x.v", "exceeds the 65535 byte limit"},
		{"item65536", vici.NewMessage().SetBytesList("l", [][]byte{{1}, make([]byte, 65536)}), "l[1]", "exceeds the 65535 byte limit"},
		{"depthMax", nested, "", ""},
		{"depthOver", tooDeep, strings.TrimSuffix(strings.Repeat("a.", vici.MaxDepth+1), "."), "deeper"},
		{"duplicate", dup, "conns.gw.children", "duplicate key"},
		{"duplicateLarge", bigDup, "kk", "duplicate key"},
		{"badKind", vici.NewMessage().SetSection("s", func() *vici.Message {
			m := vici.NewMessage()
			m.Append(vici.Entry{Name: "k"})
			return m
		}()), "s.k", "invalid kind"},
		{"size512KiB", full(vici.MaxPacketSize), "", ""},
		{"size512KiB+1", full(vici.MaxPacketSize + 1), "", "exceeds the 524288 byte packet limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.msg.MarshalBinary()
			if tc.why == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("encoded %d bytes, want an error", len(b))
			}
			var pe *vici.ProtocolError
			if !errors.As(err, &pe) || !errors.Is(err, vici.ErrProtocol) {
				t.Fatalf("error %v (%T) is not a *ProtocolError", err, err)
			}
			if tc.path != "" && pe.Path != tc.path {
				t.Errorf("path = %q, want %q", pe.Path, tc.path)
			}
			if !strings.Contains(pe.Reason, tc.why) {
				t.Errorf("reason %q lacks %q", pe.Reason, tc.why)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	deep := bytes.Repeat([]byte{1, 1, 'a'}, vici.MaxDepth+1)
	okDeep := append(bytes.Repeat([]byte{1, 1, 'a'}, vici.MaxDepth), bytes.Repeat([]byte{2}, vici.MaxDepth)...)
	cases := []struct {
		name string
		in   []byte
		path string
		why  string // "" = must decode
	}{
		{"maxDepth", okDeep, "", ""},
		{"tooDeep", deep, strings.TrimSuffix(strings.Repeat("a.", vici.MaxDepth+1), "."), "deeper"},
		{"duplicate", []byte{3, 1, 'a', 0, 1, 'x', 3, 1, 'a', 0, 1, 'y'}, "a", "duplicate"},
		{"duplicateSection", []byte{1, 1, 's', 3, 1, 'a', 0, 0, 1, 1, 'a', 2, 2}, "s.a", "duplicate"},
		{"duplicateListName", []byte{3, 1, 'a', 0, 0, 4, 1, 'a', 6}, "a", "duplicate"},
		{"strayRootEnd", []byte{3, 1, 'a', 0, 0, 2, 3, 1, 'b', 0, 0}, "", "section end without a section"},
		{"unclosedSection", []byte{1, 1, 's', 3, 1, 'a', 0, 0}, "s", "not closed"},
		{"unclosedList", []byte{4, 1, 'l', 5, 0, 0}, "l", "list not closed"},
		{"itemOutsideList", []byte{5, 0, 1, 'x'}, "", "list item outside a list"},
		{"listEndOutside", []byte{6}, "", "list end without a list"},
		{"sectionInList", []byte{4, 1, 'l', 1, 1, 's', 2, 6}, "l", "section start inside a list"},
		{"sectionEndInList", []byte{1, 1, 's', 4, 1, 'l', 2}, "s.l", "section end inside a list"},
		{"keyInList", []byte{4, 1, 'l', 3, 1, 'k', 0, 0, 6}, "l", "key/value inside a list"},
		{"nestedList", []byte{4, 1, 'l', 4, 1, 'm', 6, 6}, "l", "lists never nest"},
		{"type0", []byte{0}, "", "unknown element type 0"},
		{"type7", []byte{7}, "", "unknown element type 7"},
		{"type8", []byte{8}, "", "unknown element type 8"},
		{"type255", []byte{255}, "", "unknown element type 255"},
		{"emptyName", []byte{3, 0, 0, 0}, "", ""},
		{"emptyNames", []byte{1, 0, 3, 0, 0, 0, 2, 1, 1, 's', 4, 0, 5, 0, 0, 6, 2}, "", ""},
		{"emptyNameDuplicate", []byte{3, 0, 0, 0, 1, 0, 2}, `""`, "duplicate"},
		{"emptyNameInPath", []byte{1, 0, 3, 1, 'k', 0, 5, 'a'}, `"".k`, "value of 5 bytes, 1 left"},
		{"emptyNameAtEnd", []byte{1, 0}, `""`, "1 section(s) not closed"},
		{"emptyKeyAtEnd", []byte{3, 0}, `""`, "value length missing"},
		{"emptyListAtEnd", []byte{4, 0}, `""`, "list not closed"},
		{"emptyNameUnclosed", []byte{1, 0, 1, 0, 2}, `""`, "1 section(s) not closed"},
		{"emptyNameListUnclosed", []byte{1, 0, 4, 0, 5, 0, 0}, `"".""`, "list not closed"},
		{"nonPrintableName", []byte{3, 2, 'a', 0x7f, 0, 0}, `"a\x7f"`, "non-printable"},
		{"truncNameLen", []byte{3}, "", "name length missing"},
		{"truncName", []byte{3, 4, 'k', 'e'}, "", "element name of 4 bytes, 2 left"},
		{"truncValueLen", []byte{3, 1, 'k', 0}, "k", "value length missing"},
		{"truncValue", []byte{3, 1, 'k', 0, 5, 'a', 'b'}, "k", "value of 5 bytes, 2 left"},
		{"truncItem", []byte{4, 1, 'l', 5, 0, 1, 'a', 5, 0, 3, 'b'}, "l[1]", "value of 3 bytes, 1 left"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m vici.Message
			m.Set("before", "kept")
			err := m.UnmarshalBinary(tc.in)
			if tc.why == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var pe *vici.ProtocolError
			if !errors.As(err, &pe) || !errors.Is(err, vici.ErrProtocol) {
				t.Fatalf("got %v (%T), want a *ProtocolError", err, err)
			}
			if pe.Path != tc.path {
				t.Errorf("path = %q, want %q", pe.Path, tc.path)
			}
			if !strings.Contains(pe.Reason, tc.why) {
				t.Errorf("reason %q lacks %q", pe.Reason, tc.why)
			}
			if m.Len() != 1 || m.Get("before") != "kept" {
				t.Errorf("message was modified by a failed decode: %v", m.Keys())
			}
		})
	}
}

// Every cut of a valid message either decodes (at an element boundary) to a
// prefix, or fails with a *ProtocolError; it never panics.
func TestDecodeEveryTruncation(t *testing.T) {
	for i := range len(protocolExample) {
		var m vici.Message
		err := m.UnmarshalBinary(protocolExample[:i])
		if err == nil {
			continue
		}
		if !errors.Is(err, vici.ErrProtocol) {
			t.Errorf("cut at %d: %v is not a protocol error", i, err)
		}
	}
}

func TestDecodeLargeSectionDuplicate(t *testing.T) {
	m := vici.NewMessage()
	for i := range 200 {
		m.Set("key"+strings.Repeat("x", i%50)+string(rune('A'+i/50)), "v")
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back vici.Message
	if err := back.UnmarshalBinary(b); err != nil || back.Len() != 200 {
		t.Fatalf("200 unique keys: %v, %d entries", err, back.Len())
	}
	b = append(b, 3, 4, 'k', 'e', 'y', 'A', 0, 0)
	err = back.UnmarshalBinary(b)
	var pe *vici.ProtocolError
	if !errors.As(err, &pe) || pe.Path != "keyA" || !strings.Contains(pe.Reason, "duplicate") {
		t.Fatalf("got %v, want duplicate keyA", err)
	}
}

// Names that the duplicate filter cannot tell apart (same length, first,
// middle and last byte) are told apart by comparing them, and a duplicate
// is found wherever it falls: before, at and after the size where a
// section's names move to a map.
func TestDecodeDuplicatesBesideFilterCollisions(t *testing.T) {
	alike := []string{"a1b2a", "a3b4a", "a5b6a", "a7b8a"}
	m := vici.NewMessage()
	for _, k := range alike {
		m.Set(k, "v")
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back vici.Message
	if err := back.UnmarshalBinary(b); err != nil || back.Len() != len(alike) {
		t.Fatalf("%d names alike to the filter: %v, %d entries", len(alike), err, back.Len())
	}
	if err := back.UnmarshalBinary(append(b, 3, 5, 'a', '5', 'b', '6', 'a', 0, 0)); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Fatalf("a5b6a twice: %v", err)
	}
	for _, n := range []int{62, 63, 64, 65, 66} {
		m := vici.NewMessage()
		for i := range n {
			m.Set(fmt.Sprintf("k%03d", i), "v")
		}
		for _, dup := range []int{0, n / 2, n - 1} {
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("k%03d", dup)
			b = append(append(append(b, 3, byte(len(name))), name...), 0, 0)
			err = back.UnmarshalBinary(b)
			var pe *vici.ProtocolError
			if !errors.As(err, &pe) || pe.Path != name || !strings.Contains(pe.Reason, "duplicate") {
				t.Fatalf("%d names and %s again: %v", n, name, err)
			}
		}
	}
}
