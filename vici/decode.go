package vici

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// decoder turns one message encoding into a Message tree in two passes
// over the bytes. scan checks the structure, names and lengths and counts
// the entries of every section and the items of every list; build then
// writes every entry once into exactly sized storage (one slab each of
// entries, messages and list items, whatever the message's size) and
// refuses duplicate keys as it goes. Values alias the input
// (capacity-limited, so appending to one never touches its neighbours);
// names are substrings of one string copy of the input. Nothing is handed
// out unless the whole input is valid.
//
// A decoder keeps its scratch space between messages: a connection's
// reader reuses one. It is not safe for concurrent use.
type decoder struct {
	open   []scanSection // sections open during scan
	counts []int32       // entries per section, in order of opening; root first
	lists  []int32       // items per list, in order
	levels []level       // sections open during build
	maps   []map[string]struct{}
}

type scanSection struct {
	nameAt int // offset of the name's length byte
	index  int // in counts
}

// level is a section being filled by build.
type level struct {
	m      *Message
	name   string
	fill   int
	filter [4]uint64           // hashes of the names so far (small sections)
	seen   map[string]struct{} // the names so far (large sections)
}

// decodeMessage decodes b with a fresh decoder. The result's values alias b.
func decodeMessage(b []byte) (*Message, error) {
	d := decoder{
		open:   make([]scanSection, 0, 8),
		counts: make([]int32, 0, 32),
		levels: make([]level, 0, 8),
	}
	return d.decode(b)
}

// decode decodes b. The result's values alias b; it shares nothing else
// with the decoder.
func (d *decoder) decode(b []byte) (*Message, error) {
	nEntries, nItems, err := d.scan(b)
	if err != nil {
		return nil, err
	}
	return d.build(b, string(b), nEntries, nItems)
}

// scanError builds a *ProtocolError whose path is the open sections plus
// name, reading the section names back from b.
func (d *decoder) scanError(b []byte, at int, name, format string, args ...any) error {
	path := make([]string, len(d.open))
	for i, o := range d.open {
		path[i] = string(b[o.nameAt+1 : o.nameAt+1+int(b[o.nameAt])])
	}
	err := pathError(path, name, format, args...)
	err.Reason += fmt.Sprintf(" (at byte %d)", at)
	return err
}

// scanName checks the name whose length byte is at b[i] and returns the
// offset after it.
func (d *decoder) scanName(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, d.scanError(b, i, "", "truncated: element name length missing")
	}
	n := int(b[i])
	if i+1+n > len(b) {
		return 0, d.scanError(b, i, "", "truncated: element name of %d bytes, %d left", n, len(b)-i-1)
	}
	if n == 0 {
		return 0, d.scanError(b, i, `""`, "empty name")
	}
	if !printable(b[i+1 : i+1+n]) {
		name := string(b[i+1 : i+1+n])
		return 0, d.scanError(b, i, printableName(name), "%s", checkName(name))
	}
	return i + 1 + n, nil
}

// printable reports whether every byte of p is in 0x20..0x7e, eight
// bytes at a time.
func printable(p []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(p) >= 8 {
		w := binary.LittleEndian.Uint64(p)
		// A byte below 0x20, a byte of 0x7f, or a byte with the high bit.
		if (w-0x20*ones)&^w&highs != 0 || (w|(w+ones))&highs != 0 {
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

// scanValue checks the value whose length starts at b[i] and returns the
// offset after it. The key or list's name is at b[nameAt]; item is the
// index of a list item, or -1. Both only label errors.
func (d *decoder) scanValue(b []byte, i, nameAt, item int) (int, error) {
	if i+2 > len(b) {
		return 0, d.scanError(b, i, itemName(b, nameAt, item), "truncated: value length missing")
	}
	n := int(b[i])<<8 | int(b[i+1])
	if i+2+n > len(b) {
		return 0, d.scanError(b, i, itemName(b, nameAt, item), "truncated: value of %d bytes, %d left", n, len(b)-i-2)
	}
	return i + 2 + n, nil
}

func itemName(b []byte, at, item int) string {
	name := nameAt(b, at)
	if item < 0 {
		return name
	}
	return name + "[" + strconv.Itoa(item) + "]"
}

// nameAt returns the element name whose length byte is at b[i].
func nameAt(b []byte, i int) string { return string(b[i+1 : i+1+int(b[i])]) }

// scan validates b's structure, names and lengths and fills counts and
// lists. It returns the number of entries and of list items.
func (d *decoder) scan(b []byte) (nEntries, nItems int, err error) {
	d.open, d.counts, d.lists = d.open[:0], append(d.counts[:0], 0), d.lists[:0]
	cur := 0     // index in counts of the innermost open section
	listAt := -1 // offset of the open list's name, or -1
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
			return 0, 0, d.scanError(b, at, nameAt(b, listAt), "%s", what)
		}
		switch typ {
		case elemSectionStart, elemKeyValue, elemListStart:
			nameStart := i
			if i, err = d.scanName(b, i); err != nil {
				return 0, 0, err
			}
			d.counts[cur]++
			nEntries++
			switch typ {
			case elemSectionStart:
				if len(d.open) >= MaxDepth {
					return 0, 0, d.scanError(b, at, nameAt(b, nameStart), "sections nest deeper than %d levels", MaxDepth)
				}
				cur = len(d.counts)
				d.open = append(d.open, scanSection{nameAt: nameStart, index: cur})
				d.counts = append(d.counts, 0)
			case elemKeyValue:
				if i, err = d.scanValue(b, i, nameStart, -1); err != nil {
					return 0, 0, err
				}
			case elemListStart:
				listAt = nameStart
				d.lists = append(d.lists, 0)
			}
		case elemSectionEnd:
			if len(d.open) == 0 {
				return 0, 0, d.scanError(b, at, "", "section end without a section")
			}
			d.open = d.open[:len(d.open)-1]
			cur = 0
			if n := len(d.open); n > 0 {
				cur = d.open[n-1].index
			}
		case elemListItem:
			if listAt < 0 {
				return 0, 0, d.scanError(b, at, "", "list item outside a list")
			}
			n := &d.lists[len(d.lists)-1]
			if i, err = d.scanValue(b, i, listAt, int(*n)); err != nil {
				return 0, 0, err
			}
			*n++
			nItems++
		case elemListEnd:
			if listAt < 0 {
				return 0, 0, d.scanError(b, at, "", "list end without a list")
			}
			listAt = -1
		default:
			return 0, 0, d.scanError(b, at, "", "unknown element type %d", typ)
		}
	}
	if listAt >= 0 {
		return 0, 0, d.scanError(b, len(b), nameAt(b, listAt), "truncated: list not closed")
	}
	if len(d.open) > 0 {
		return 0, 0, d.scanError(b, len(b), "", "truncated: %d section(s) not closed", len(d.open))
	}
	return nEntries, nItems, nil
}

// build makes the tree from input scan has accepted, refusing duplicate
// keys. Small sections find duplicates with a 256-bit filter of name
// hashes, comparing names only on a filter hit; large ones use a map.
func (d *decoder) build(b []byte, s string, nEntries, nItems int) (*Message, error) {
	ents := make([]Entry, nEntries)
	msgs := make([]Message, len(d.counts))
	var items [][]byte
	if nItems > 0 {
		items = make([][]byte, nItems)
	}
	nextEnt, nextMsg, nextList := 0, 0, 0
	newSection := func() *Message {
		m := &msgs[nextMsg]
		n := int(d.counts[nextMsg])
		nextMsg++
		if n > 0 {
			m.entries = ents[nextEnt : nextEnt+n : nextEnt+n]
			nextEnt += n
		}
		return m
	}
	root := newSection()
	levels := append(d.levels[:0], level{m: root})
	defer func() {
		for i := range levels {
			d.freeMap(levels[i].seen)
		}
		clear(levels[:cap(levels)])
		d.levels = levels[:0]
	}()
	var list *Entry
	for i := 0; i < len(b); {
		typ := b[i]
		at := i
		i++
		switch typ {
		case elemSectionEnd:
			top := &levels[len(levels)-1]
			d.freeMap(top.seen)
			*top = level{}
			levels = levels[:len(levels)-1]
			continue
		case elemListItem:
			n := int(b[i])<<8 | int(b[i+1])
			i += 2
			list.List = append(list.List, b[i:i+n:i+n])
			i += n
			continue
		case elemListEnd:
			list = nil
			continue
		}
		// A named element: section start, key/value or list start.
		top := &levels[len(levels)-1]
		n := int(b[i])
		name := s[i+1 : i+1+n]
		i += 1 + n
		if !d.unique(top, name) {
			path := make([]string, len(levels)-1)
			for j := range path {
				path[j] = levels[j+1].name
			}
			err := pathError(path, name, "duplicate key in section")
			err.Reason += fmt.Sprintf(" (at byte %d)", at)
			return nil, err
		}
		e := &top.m.entries[top.fill]
		top.fill++
		e.Name = name
		switch typ {
		case elemSectionStart:
			e.Kind = KindSection
			e.Section = newSection()
			levels = append(levels, level{m: e.Section, name: name})
		case elemKeyValue:
			e.Kind = KindValue
			n := int(b[i])<<8 | int(b[i+1])
			i += 2
			e.Value = b[i : i+n : i+n]
			i += n
		case elemListStart:
			e.Kind = KindList
			k := int(d.lists[nextList])
			nextList++
			e.List = items[:0:k]
			items = items[k:]
			list = e
		}
	}
	return root, nil
}

// unique records name in the section lv and reports whether it is new.
func (d *decoder) unique(lv *level, name string) bool {
	if lv.seen != nil {
		if _, dup := lv.seen[name]; dup {
			return false
		}
		lv.seen[name] = struct{}{}
		return true
	}
	// A cheap hash: length and three bytes (names are never empty).
	h := (uint32(len(name)) | uint32(name[0])<<8 | uint32(name[len(name)/2])<<16 | uint32(name[len(name)-1])<<24) * 0x9e3779b1
	bit, w := uint64(1)<<(h>>26), (h>>24)&3
	sec := lv.m.entries[:lv.fill]
	if lv.filter[w]&bit != 0 {
		for k := range sec {
			if sec[k].Name == name {
				return false
			}
		}
	}
	lv.filter[w] |= bit
	if len(sec) >= smallSection {
		m := d.newMap()
		for k := range sec {
			m[sec[k].Name] = struct{}{}
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
