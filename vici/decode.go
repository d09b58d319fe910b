package vici

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"sync/atomic"
	"unsafe"
)

// decoder checks one message encoding in a single pass and indexes its
// sections; it builds no Entry values. scan validates the structure, names
// and lengths, refuses duplicate keys and records, for every section, where
// its elements lie in the input, how many entries it has and how many
// sections its subtree holds. decode then makes one Message per section
// (a single slab) that reads its entries straight from the input. The
// Entry values a caller may ask for with Message.Entries are built later,
// for the whole tree at once, by tree.entries. Nothing is handed out
// unless the whole input is valid.
//
// A decoder keeps its scratch space between messages: a connection's
// reader reuses one. It is not safe for concurrent use.
type decoder struct {
	open  []openSection // sections open during scan; the root first
	secs  []secInfo     // every section, in order of opening; the root first
	names []int32       // offsets of the names of the open sections' entries
	maps  []map[string]struct{}
}

// openSection is a section being scanned.
type openSection struct {
	nameAt int                 // offset of its name's length byte; -1 for the root
	sec    int                 // index in secs
	base   int                 // where its names start in names
	filter [4]uint64           // hashes of its names so far (small sections)
	seen   map[string]struct{} // its names so far (large sections)
}

type secInfo struct {
	start, end, count, skip int32
}

// tree is one decoded message: its encoding, which the decoder owns from
// then on and nobody writes to, and one Message per section.
type tree struct {
	buf      []byte
	msgs     []Message // in order of opening; msgs[0] is the root
	nEntries int
	nItems   int
	full     atomic.Pointer[[]Entry] // every section's entries, once built

	// A received message's segment (buf is in it) and, while the message
	// is lent to a stream's consumer alone, where Message.Release puts
	// the tree for the reader to decode a later entry into.
	seg  []byte
	pool *recycler
}

// decodeMessage decodes b with a fresh decoder. b becomes the message's:
// the caller must not change it afterwards.
func decodeMessage(b []byte) (*Message, error) {
	d := decoder{ // enough for typical messages without growing
		open:  make([]openSection, 0, 8),
		secs:  make([]secInfo, 0, 16),
		names: make([]int32, 0, 64),
	}
	return d.decode(b, nil)
}

// decode decodes b, which becomes the result's (names and values point
// into it); the caller must not change b afterwards. The result shares
// nothing with the decoder. It is built in reuse when that is not nil: a
// tree nobody uses any more (see recycler), whose slab is taken when it is
// large enough; on error reuse is left as it was.
func (d *decoder) decode(b []byte, reuse *tree) (*Message, error) {
	nItems, err := d.scan(b)
	d.release()
	if err != nil {
		return nil, err
	}
	t := reuse
	if t == nil {
		t = new(tree)
	} else {
		t.full.Store(nil)
	}
	t.buf, t.nItems = b, nItems
	if cap(t.msgs) >= len(d.secs) {
		t.msgs = t.msgs[:len(d.secs)]
	} else {
		t.msgs = make([]Message, len(d.secs))
	}
	first := int32(0)
	for i, s := range d.secs {
		t.msgs[i] = Message{t: t, sec: int32(i), first: first, count: s.count,
			start: s.start, end: s.end, skip: s.skip}
		first += s.count
	}
	t.nEntries = int(first)
	return &t.msgs[0], nil
}

// release frees the maps of the sections left open by a failed scan.
func (d *decoder) release() {
	for i := range d.open {
		d.freeMap(d.open[i].seen)
		d.open[i] = openSection{}
	}
	d.open = d.open[:0]
}

// scanError builds a *ProtocolError whose path is the open sections plus
// name, reading the section names back from b.
func (d *decoder) scanError(b []byte, at int, name, format string, args ...any) error {
	path := make([]string, 0, len(d.open))
	for _, o := range d.open[1:] {
		path = append(path, nameAt(b, o.nameAt))
	}
	err := pathError(path, name, format, args...)
	err.Reason += fmt.Sprintf(" (at byte %d)", at)
	return err
}

// nameError explains why the name whose length byte is at b[i] is
// refused: it is truncated or has a byte that is not printable ASCII.
//
//go:noinline
func (d *decoder) nameError(b []byte, i int) error {
	if i >= len(b) {
		return d.scanError(b, i, "", "truncated: element name length missing")
	}
	n := int(b[i])
	if i+1+n > len(b) {
		return d.scanError(b, i, "", "truncated: element name of %d bytes, %d left", n, len(b)-i-1)
	}
	name := string(b[i+1 : i+1+n])
	return d.scanError(b, i, printableName(name), "%s", checkElementName(name))
}

// printableAt reports whether the n bytes of b at i are all in
// 0x20..0x7e. A name of up to 16 bytes with 8 more bytes of b from where it
// starts (the common case: more elements follow) takes one or two 8-byte
// loads and no loop.
func printableAt(b []byte, i, n int) bool {
	if i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		if n <= 8 {
			keep := uint64(1)<<(8*n) - 1 // all ones for n = 8
			return printable8(w&keep | 0x4141414141414141&^keep)
		}
		if n <= 16 {
			return printable8(w) && printable8(binary.LittleEndian.Uint64(b[i+n-8:]))
		}
	}
	return printable(b[i : i+n])
}

// printable8 reports whether every byte of w is in 0x20..0x7e: none is
// below 0x20, none is 0x7f, none has the high bit.
func printable8(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	return (w-0x20*ones)&^w&highs == 0 && (w|(w+ones))&highs == 0
}

// printable reports whether every byte of p is in 0x20..0x7e, eight
// bytes at a time.
func printable(p []byte) bool {
	for len(p) >= 8 {
		if !printable8(binary.LittleEndian.Uint64(p)) {
			return false
		}
		p = p[8:]
	}
	for _, c := range p {
		if c-0x20 > 0x7e-0x20 {
			return false
		}
	}
	return true
}

// valueError explains why the value whose length starts at b[i] is
// refused: it is truncated. The key or list's name is at b[nameAt]; item
// is the index of a list item, or -1. Both only label the error.
//
//go:noinline
func (d *decoder) valueError(b []byte, i, nameAt, item int) error {
	if i+2 > len(b) {
		return d.scanError(b, i, itemName(b, nameAt, item), "truncated: value length missing")
	}
	n := int(b[i])<<8 | int(b[i+1])
	return d.scanError(b, i, itemName(b, nameAt, item), "truncated: value of %d bytes, %d left", n, len(b)-i-2)
}

func itemName(b []byte, at, item int) string {
	name := nameAt(b, at)
	if item < 0 {
		return name
	}
	return name + "[" + strconv.Itoa(item) + "]"
}

// nameAt labels, for an error path, the element name whose length byte
// is at b[i] (see printableName).
func nameAt(b []byte, i int) string { return printableName(string(b[i+1 : i+1+int(b[i])])) }

// bytesString returns the n bytes of b at i as a string without copying.
// Only for bytes nobody writes to while the string is in use: the names in
// a decoded message's own buffer.
func bytesString(b []byte, i, n int) string {
	if n == 0 { // an empty name may end the buffer: &b[i] would be out of range
		return ""
	}
	return unsafe.String(&b[i], n)
}

// scan validates b and fills secs. It returns the number of list items.
// On error, sections may be left open: the caller calls release.
func (d *decoder) scan(b []byte) (nItems int, err error) {
	if len(b) > MaxPacketSize {
		return 0, &ProtocolError{Reason: fmt.Sprintf("message of %d bytes exceeds the %d byte limit", len(b), MaxPacketSize)}
	}
	d.secs = append(d.secs[:0], secInfo{end: int32(len(b))})
	d.open = append(d.open[:0], openSection{nameAt: -1})
	d.names = d.names[:0]
	listAt := -1 // offset of the open list's name, or -1
	items := 0   // items of the open list so far
	for i := 0; i < len(b); {
		typ := b[i]
		at := i
		i++
		if listAt >= 0 && typ != elemListItem && typ != elemListEnd {
			what := "unknown element type " + strconv.Itoa(int(typ))
			switch typ {
			case elemSectionStart:
				what = "section start inside a list"
			case elemSectionEnd:
				what = "section end inside a list"
			case elemKeyValue:
				what = "key/value inside a list"
			case elemListStart:
				what = "list start inside a list (lists never nest)"
			}
			return 0, d.scanError(b, at, nameAt(b, listAt), "%s", what)
		}
		switch typ {
		case elemSectionStart, elemKeyValue, elemListStart:
			// scanName, unique and scanValue are written out here for
			// their common case: the calls cost as much as the checks.
			nameStart := i
			if i >= len(b) {
				return 0, d.nameError(b, nameStart)
			}
			if i += 1 + int(b[i]); i > len(b) || !printableAt(b, nameStart+1, i-nameStart-1) { // an empty name is valid
				return 0, d.nameError(b, nameStart)
			}
			top := &d.open[len(d.open)-1]
			fresh := false // unique's common case: a small section's filter says new
			if top.seen == nil && len(d.names)-top.base < smallSection {
				bit, w := nameBit(b, nameStart)
				fresh = top.filter[w]&bit == 0
				top.filter[w] |= bit
			}
			if !fresh && !d.unique(top, b, nameStart) {
				return 0, d.scanError(b, at, nameAt(b, nameStart), "duplicate key in section")
			}
			d.names = append(d.names, int32(nameStart))
			d.secs[top.sec].count++
			switch typ {
			case elemSectionStart:
				if len(d.open) > MaxDepth {
					return 0, d.scanError(b, at, nameAt(b, nameStart), "sections nest deeper than %d levels", MaxDepth)
				}
				d.open = append(d.open, openSection{nameAt: nameStart, sec: len(d.secs), base: len(d.names)})
				d.secs = append(d.secs, secInfo{start: int32(i)})
			case elemKeyValue:
				if i+2 > len(b) {
					return 0, d.valueError(b, i, nameStart, -1)
				}
				if end := i + 2 + (int(b[i])<<8 | int(b[i+1])); end <= len(b) {
					i = end
				} else {
					return 0, d.valueError(b, i, nameStart, -1)
				}
			case elemListStart:
				listAt, items = nameStart, 0
			}
		case elemSectionEnd:
			if len(d.open) == 1 {
				return 0, d.scanError(b, at, "", "section end without a section")
			}
			top := &d.open[len(d.open)-1]
			s := &d.secs[top.sec]
			s.end = int32(at)
			s.skip = int32(len(d.secs) - top.sec)
			d.names = d.names[:top.base]
			d.freeMap(top.seen)
			*top = openSection{}
			d.open = d.open[:len(d.open)-1]
		case elemListItem:
			if listAt < 0 {
				return 0, d.scanError(b, at, "", "list item outside a list")
			}
			if i+2 > len(b) {
				return 0, d.valueError(b, i, listAt, items)
			}
			if end := i + 2 + (int(b[i])<<8 | int(b[i+1])); end <= len(b) {
				i = end
			} else {
				return 0, d.valueError(b, i, listAt, items)
			}
			items++
			nItems++
		case elemListEnd:
			if listAt < 0 {
				return 0, d.scanError(b, at, "", "list end without a list")
			}
			listAt = -1
		default:
			return 0, d.scanError(b, at, "", "unknown element type %d", typ)
		}
	}
	if listAt >= 0 {
		return 0, d.scanError(b, len(b), nameAt(b, listAt), "truncated: list not closed")
	}
	if len(d.open) > 1 {
		return 0, d.scanError(b, len(b), "", "truncated: %d section(s) not closed", len(d.open)-1)
	}
	d.secs[0].skip = int32(len(d.secs))
	return nItems, nil
}

// nameBit returns the filter bit of the name whose length byte is at
// b[at]: a cheap hash of its length and three of its bytes (the empty name
// has none).
func nameBit(b []byte, at int) (bit uint64, word uint32) {
	n := int(b[at])
	h := uint32(n)
	if n > 0 {
		h |= uint32(b[at+1])<<8 | uint32(b[at+1+n/2])<<16 | uint32(b[at+n])<<24
	}
	h *= 0x9e3779b1
	return uint64(1) << (h >> 26), (h >> 24) & 3
}

// unique records the name whose length byte is at b[at] in the section lv
// and reports whether it is new there. Small sections find duplicates with
// a 256-bit filter of name hashes (nameBit), comparing names only on a
// filter hit; large ones use a map. scan sets the filter bit and skips
// unique itself when the bit was clear in a small section, the common
// case.
func (d *decoder) unique(lv *openSection, b []byte, at int) bool {
	name := bytesString(b, at+1, int(b[at]))
	if lv.seen != nil {
		if _, dup := lv.seen[name]; dup {
			return false
		}
		lv.seen[name] = struct{}{}
		return true
	}
	bit, w := nameBit(b, at)
	sec := d.names[lv.base:]
	if lv.filter[w]&bit != 0 {
		for _, o := range sec {
			if int(b[o]) == len(name) && bytesString(b, int(o)+1, len(name)) == name {
				return false
			}
		}
	}
	lv.filter[w] |= bit
	if len(sec) >= smallSection {
		m := d.newMap()
		for _, o := range sec {
			m[bytesString(b, int(o)+1, int(b[o]))] = struct{}{}
		}
		m[name] = struct{}{}
		lv.seen = m
	}
	return true
}

func (d *decoder) newMap() map[string]struct{} {
	if n := len(d.maps); n > 0 {
		m := d.maps[n-1]
		d.maps = d.maps[:n-1]
		return m
	}
	return make(map[string]struct{}, 2*smallSection)
}

func (d *decoder) freeMap(m map[string]struct{}) {
	if m != nil {
		clear(m)
		d.maps = append(d.maps, m)
	}
}

// cursor walks the entries of one decoded section.
type cursor struct {
	t   *tree
	i   int   // offset of the next element
	end int   // offset where the section's elements end
	sec int32 // index of the next sub-section
}

func (m *Message) cursor() cursor {
	return cursor{t: m.t, i: int(m.start), end: int(m.end), sec: m.sec + 1}
}

// next sets e to the next entry and reports whether there was one. It
// allocates nothing: the element's name and value are views of the tree's
// bytes.
func (c *cursor) next(e *Element) bool {
	if c.i >= c.end {
		return false
	}
	b := c.t.buf
	typ, n := b[c.i], int(b[c.i+1])
	*e = Element{Name: bytesString(b, c.i+2, n)}
	at := c.i + 2 + n // its value's length, first list element or first section element
	switch typ {
	case elemKeyValue:
		e.Kind = KindValue
		e.Value = valueAt(b, at)
		c.i = at + 2 + len(e.Value)
	case elemListStart:
		e.Kind = KindList
		e.buf = b[at:]
		for b[at] == elemListItem {
			at += 3 + (int(b[at+1])<<8 | int(b[at+2]))
			e.n++
		}
		c.i = at + 1
	default: // elemSectionStart
		e.Kind = KindSection
		e.Section = &c.t.msgs[c.sec]
		c.sec += e.Section.skip
		c.i = int(e.Section.end) + 1
	}
	return true
}

// valueAt returns the value whose length is at b[at], capacity-limited so
// that appending to it never touches its neighbours.
func valueAt(b []byte, at int) []byte {
	n := int(b[at])<<8 | int(b[at+1])
	return b[at+2 : at+2+n : at+2+n]
}

// entries returns every section's entries in one slab, section after
// section in order of opening (the order of Message.first), building it on
// the first call with the sections' cursors. Concurrent callers may each
// build one; all get the first one stored.
func (t *tree) entries() []Entry {
	if p := t.full.Load(); p != nil {
		return *p
	}
	ents := make([]Entry, 0, t.nEntries)
	var items [][]byte
	if t.nItems > 0 {
		items = make([][]byte, 0, t.nItems)
	}
	for i := range t.msgs {
		c := t.msgs[i].cursor()
		var e Element
		for c.next(&e) {
			out := Entry{Name: e.Name, Kind: e.Kind, Value: e.Value, Section: e.Section}
			if e.Kind == KindList {
				first := len(items)
				items = e.appendItems(items)
				out.List = items[first:len(items):len(items)]
			}
			ents = append(ents, out)
		}
	}
	if t.full.CompareAndSwap(nil, &ents) {
		return ents
	}
	return *t.full.Load()
}
