package vici_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/vicish/vicish/vici"
)

// listSA builds a list-sa event message shaped like charon's (see
// export_test.go).
func listSA(children int) *vici.Message { return vici.ListSA(children) }

func BenchmarkEncodeListSA(b *testing.B) {
	m := listSA(500)
	enc, err := m.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeListSA(b *testing.B) {
	benchDecode(b, func(b *testing.B, m *vici.Message, enc []byte) {})
}

// benchDecode decodes a small and a large list-sa message per iteration
// and hands each result to then.
func benchDecode(b *testing.B, then func(b *testing.B, m *vici.Message, enc []byte)) {
	for _, children := range []int{1, 500} {
		b.Run(fmt.Sprintf("children=%d", children), func(b *testing.B) {
			enc, err := listSA(children).MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				var m vici.Message
				if err := m.UnmarshalBinary(enc); err != nil {
					b.Fatal(err)
				}
				then(b, &m, enc)
			}
		})
	}
}

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic,
// every failure is a *ProtocolError, and whatever decodes has no section
// with a name twice and re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var m vici.Message
		err := m.UnmarshalBinary(in)
		if err != nil {
			var pe *vici.ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, not *ProtocolError", err, err)
			}
			if m.Len() != 0 {
				t.Fatalf("failed decode left %d entries", m.Len())
			}
			return
		}
		// No section holds a name twice.
		noDuplicates(t, "", &m)
		// The reads that work on the decoded bytes agree with a copy built
		// from the decoded Entry values.
		sameAPI(t, "", rebuild(&m), &m)
		sameAll(t, "", &m)
		out, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded message does not re-encode: %v", err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("re-encoding differs:\n in %v\nout %v", in, out)
		}
	})
}

// FuzzRoundTrip builds a message from fuzz input with the Message API,
// encodes it and decodes it back: both must agree, and limit failures must
// be *ProtocolError.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("k\x00v\x01s\x02x\x00y\x03\x04l\x00a\x00b"))
	f.Add([]byte{0, 0, 1, 2, 3, 4, 5})
	f.Add(bytes.Repeat([]byte{'n'}, 300))
	f.Add([]byte("\x01\x00\x00\x00v\x03\x00\x00\x02")) // empty names
	f.Fuzz(func(t *testing.T, in []byte) {
		m := buildFromBytes(in)
		enc, err := m.MarshalBinary()
		if err != nil {
			if !errors.Is(err, vici.ErrProtocol) {
				t.Fatalf("encode error %v is not a protocol error", err)
			}
			return
		}
		var back vici.Message
		if err := back.UnmarshalBinary(enc); err != nil {
			t.Fatalf("decoding our own encoding: %v", err)
		}
		if !equalMessages(m, &back) {
			t.Fatalf("round trip changed the message")
		}
	})
}

// buildFromBytes interprets in as a small program: a control byte picks an
// operation, the following bytes up to a zero give names and values.
func buildFromBytes(in []byte) *vici.Message {
	root := vici.NewMessage()
	stack := []*vici.Message{root}
	next := func() []byte {
		i := bytes.IndexByte(in, 0)
		if i < 0 {
			tok := in
			in = nil
			return tok
		}
		tok := in[:i]
		in = in[i+1:]
		return tok
	}
	for len(in) > 0 {
		op := in[0] % 5
		in = in[1:]
		cur := stack[len(stack)-1]
		switch op {
		case 0:
			cur.SetBytes(string(next()), next())
		case 1:
			sub := vici.NewMessage()
			cur.SetSection(string(next()), sub)
			stack = append(stack, sub)
		case 2:
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
		case 3:
			name := string(next())
			var items [][]byte
			for n := len(in) % 4; n > 0; n-- {
				items = append(items, next())
			}
			cur.SetBytesList(name, items)
		case 4:
			cur.Append(vici.Entry{Name: string(next()), Kind: vici.KindValue, Value: next()})
		}
	}
	return root
}

// rebuild copies m into a message made with the Message API.
func rebuild(m *vici.Message) *vici.Message {
	out := vici.NewMessage()
	for _, e := range m.Entries() {
		if e.Kind == vici.KindSection {
			e.Section = rebuild(e.Section)
		}
		out.Append(e)
	}
	return out
}

func equalMessages(a, b *vici.Message) bool {
	ea, eb := a.Entries(), b.Entries()
	if len(ea) != len(eb) {
		return false
	}
	for i := range ea {
		x, y := ea[i], eb[i]
		if x.Name != y.Name || x.Kind != y.Kind {
			return false
		}
		switch x.Kind {
		case vici.KindValue:
			if !bytes.Equal(x.Value, y.Value) {
				return false
			}
		case vici.KindList:
			if len(x.List) != len(y.List) {
				return false
			}
			for j := range x.List {
				if !bytes.Equal(x.List[j], y.List[j]) {
					return false
				}
			}
		case vici.KindSection:
			if !equalMessages(x.Section, y.Section) {
				return false
			}
		}
	}
	return true
}

func fuzzSeeds(tb testing.TB) [][]byte {
	big, err := listSA(3).MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return [][]byte{
		protocolExample,
		big,
		{},
		{4, 1, 'l', 6, 1, 1, 's', 2},
		{3, 1, 'a', 0, 1, 'x', 3, 1, 'a', 0, 1, 'y'},
		{1, 1, 's', 3, 1, 'a', 0, 0},
		{2},
		{5, 0, 1, 'x'},
		{4, 1, 'l', 1, 1, 's', 2, 6},
		{7},
		{3, 1, 'k', 0, 5, 'a', 'b'},
		// empty names, as in charon's get-counters reply
		{1, 8, 'c', 'o', 'u', 'n', 't', 'e', 'r', 's', 1, 0, 3, 1, 'n', 0, 1, '0', 2, 2, 4, 0, 5, 0, 0, 6},
		{3, 0, 0, 0, 3, 0, 0, 0},
	}
}

// BenchmarkDecodeWalk decodes a list-sa message and then visits every
// entry of every section through Entries, as a consumer converting the
// whole tree does (starlarkvici.FromMessage, say).
func BenchmarkDecodeWalk(b *testing.B) {
	benchDecode(b, func(b *testing.B, m *vici.Message, enc []byte) {
		if n := walkEntries(m); n != len(enc) {
			b.Fatalf("walked %d bytes, want %d", n, len(enc))
		}
	})
}

// BenchmarkDecodeAll decodes a list-sa message and then visits every
// element of every section through All, without building Entry values.
func BenchmarkDecodeAll(b *testing.B) {
	benchDecode(b, func(b *testing.B, m *vici.Message, enc []byte) {
		if n := walkAll(m); n != len(enc) {
			b.Fatalf("walked %d bytes, want %d", n, len(enc))
		}
	})
}

// walkAll is walkEntries through All.
func walkAll(m *vici.Message) int {
	n := 0
	for e := range m.All() {
		n += 2 + len(e.Name)
		switch e.Kind {
		case vici.KindValue:
			n += 2 + len(e.Value)
		case vici.KindList:
			for it := range e.Items() {
				n += 3 + len(it)
			}
			n++
		case vici.KindSection:
			n += walkAll(e.Section) + 1
		}
	}
	return n
}

// walkEntries visits every entry and returns the encoded size it saw.
func walkEntries(m *vici.Message) int {
	n := 0
	for _, e := range m.Entries() {
		n += 2 + len(e.Name)
		switch e.Kind {
		case vici.KindValue:
			n += 2 + len(e.Value)
		case vici.KindList:
			for _, it := range e.List {
				n += 3 + len(it)
			}
			n++
		case vici.KindSection:
			n += walkEntries(e.Section) + 1
		}
	}
	return n
}

// noDuplicates fails t if a section of m holds a name twice.
func noDuplicates(t *testing.T, path string, m *vici.Message) {
	t.Helper()
	seen := map[string]bool{}
	for e := range m.All() {
		if seen[e.Name] {
			t.Fatalf("%s: %q twice, and the message decoded", path, e.Name)
		}
		seen[e.Name] = true
		if e.Kind == vici.KindSection {
			noDuplicates(t, path+"."+e.Name, e.Section)
		}
	}
}
